package awsfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// bigConfig is an AWS config of n generated credential_process profiles
// (what a profile generator writes for n roles), ~200 bytes each.
func bigConfig(n int) string {
	var b strings.Builder
	b.WriteString("[profile base]\naws_access_key_id = AKIABASE\naws_secret_access_key = basesecret\nregion = us-east-1\n\n")
	for i := range n {
		name := fmt.Sprintf("acct%06d-Admin", i)
		fmt.Fprintf(&b, "[profile %s]\ncredential_process = /usr/local/bin/rolehop-credential-process --profile %s\nrolehop_login = corp\nrolehop_role_arn = arn:aws:iam::%012d:role/Admin\nregion = eu-west-1\n\n", name, name, i)
	}
	b.WriteString("[profile prod]\nrolehop_base = base\nrolehop_role_arn = arn:aws:iam::111111111111:role/Any\n")
	return b.String()
}

// BenchmarkSnapshotProfile is the read path of one credential_process
// call: check the whole file, read two sections.
//
//	go test -run '^$' -bench SnapshotProfile -benchmem ./awsfile/
func BenchmarkSnapshotProfile(b *testing.B) {
	for _, n := range []int{10, 1000, 10000, 100000} {
		p := filepath.Join(b.TempDir(), "config")
		if err := os.WriteFile(p, []byte(bigConfig(n)), 0o600); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("profiles=%d", n), func(b *testing.B) {
			for b.Loop() {
				snap, err := (&File{Path: p, Kind: Config}).Snapshot()
				if err != nil {
					b.Fatal(err)
				}
				if _, err := snap.Profile("prod"); err != nil {
					b.Fatal(err)
				}
				if _, err := snap.Profile("base"); err != nil {
					b.Fatal(err)
				}
				snap.Close()
			}
		})
		// What the read path did before: the whole file read and parsed
		// into a document.
		b.Run(fmt.Sprintf("whole-parse/profiles=%d", n), func(b *testing.B) {
			for b.Loop() {
				_, d, err := (&File{Path: p, Kind: Config}).read()
				if err != nil || Config.find(d, "prod") == nil {
					b.Fatal(err)
				}
			}
		})
	}
}
