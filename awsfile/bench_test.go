package awsfile

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// profiles200 is a credentials file with 200 session-credential profiles and
// a comment before each.
func profiles200() string {
	var b strings.Builder
	for i := range 200 {
		fmt.Fprintf(&b, "# account %012d\n[acct-%03d-Admin]\n", i, i)
		for _, k := range []string{KeyAccessKeyID, KeySecretAccessKey, KeySessionToken, KeyExpiration} {
			fmt.Fprintf(&b, "%s = %s\n", k, helperValues("p", i)[k])
		}
		b.WriteString("\n")
	}
	return b.String()
}

// BenchmarkUpdateOneOf200 is one UpdateCredentials of one profile in a
// 200-profile file: lock, read, parse, edit, verify, write, fsync, rename.
func BenchmarkUpdateOneOf200(b *testing.B) {
	path := filepath.Join(b.TempDir(), "credentials")
	writeFile(b, path, profiles200(), 0o600)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		if err := UpdateCredentials(ctx, path, "acct-100-Admin", helperValues("acct-100-Admin", i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEditOneOf200 is the in-memory part alone (parse, edit, verify,
// render), without the lock and the disk.
func BenchmarkEditOneOf200(b *testing.B) {
	data := []byte(profiles200())
	b.SetBytes(int64(len(data)))
	for i := 0; b.Loop(); i++ {
		if _, err := edit("bench", data, Credentials, []Update{{Profile: "acct-100-Admin", Set: helperValues("x", i)}}); err != nil {
			b.Fatal(err)
		}
	}
}

// manySections is a credentials file with n profiles of two keys.
func manySections(n int) []byte {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "[p%06d]\naws_access_key_id = AKIA%012d\nregion = eu-west-1\n\n", i, i)
	}
	return []byte(b.String())
}

// tinySections is a file with n one-key profiles ("[p1]\nk = v\n"): the
// most sections per byte.
func tinySections(n int) []byte {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "[p%d]\nk = v\n", i)
	}
	return []byte(b.String())
}

// BenchmarkEditManySections is one update in files of hundreds of
// thousands of sections: what memory the in-memory part (parse, edit,
// parse again, verify, render) allocates per byte of file, reported as
// alloc/filebyte.
func BenchmarkEditManySections(b *testing.B) {
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"200k-profiles", manySections(200_000)},
		{"300k-tiny", tinySections(300_000)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			n := 0
			for i := 0; b.Loop(); i++ {
				if _, err := edit("bench", c.data, Credentials, []Update{{Profile: "p100000", Set: helperValues("x", i)}}); err != nil {
					b.Fatal(err)
				}
				n++
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(n)/float64(len(c.data)), "alloc/filebyte")
		})
	}
}
