package awsfile

import (
	"context"
	"fmt"
	"path/filepath"
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
