package awsfile

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// scanOf writes data to a file and scans it with the given chunk size.
func scanOf(t testing.TB, data []byte, kind Kind, chunk int) (*scanIndex, *os.File, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	old := scanChunk
	scanChunk = chunk
	defer func() { scanChunk = old }()
	idx, err := scanFile("f", kind, f, int64(len(data)))
	return idx, f, err
}

// sameAsParse checks that scanning data refuses what parse refuses, with
// the same error, and otherwise finds every profile parse finds, with the
// same values.
func sameAsParse(t testing.TB, data []byte, chunk int) {
	t.Helper()
	d, perr := parse("f", data)
	for _, kind := range []Kind{Credentials, Config} {
		idx, f, serr := scanOf(t, data, kind, chunk)
		if (perr == nil) != (serr == nil) || (perr != nil && perr.Error() != serr.Error()) {
			t.Fatalf("chunk %d, %v: parse says %v, the scan %v\nfile %q", chunk, kind, perr, serr, data)
		}
		if perr != nil {
			continue
		}
		names := map[string]bool{"default": true, "DEFAULT": true, "p": true, "nope": true}
		for _, s := range d.sections {
			names[s.name] = true
			if p, ok := kind.profileOf(s.name); ok {
				names[p] = true
			}
		}
		for name := range names {
			want := kind.find(d, name)
			got, err := idx.find("f", f, kind, name)
			if err != nil {
				t.Fatalf("find %q: %v", name, err)
			}
			if (want == nil) != (got == nil) {
				t.Fatalf("chunk %d, %v, profile %q: parse finds %v, the scan %v\nfile %q", chunk, kind, name, want != nil, got != nil, data)
			}
			if want != nil && (want.name != got.name || !maps.Equal(sectionValues(want), sectionValues(got))) {
				t.Fatalf("chunk %d, %v, profile %q: parse reads [%s] %v, the scan [%s] %v\nfile %q", chunk, kind, name,
					want.name, sectionValues(want), got.name, sectionValues(got), data)
			}
		}
		def, _ := idx.named("f", f, "DEFAULT")
		if want := d.section("DEFAULT"); (want == nil) != (def == nil) {
			t.Fatalf("DEFAULT: parse %v, scan %v", want != nil, def != nil)
		}
	}
}

func TestScanAgreesWithParse(t *testing.T) {
	var files []string
	for _, c := range malformedCases {
		files = append(files, c.data)
	}
	for _, c := range acceptedCases {
		files = append(files, c.data)
	}
	files = append(files, fixture,
		"[profile a]\nx = 1\n[profile  a]\ny = 2\n[profile a ]\nz = 3\n[default]\nr = 1\n[profile default]\nr = 2\n",
		"[profilex a]\nk = v\n[profile 'q']\nk = v\n[ profile b]\nk = 1\n",
		"\ufeff[p]\nx = 1\n", "[p]\r\nx = 1\r\n", "[p]\nx = 1\r", "[p]\nx = \xff\n", "[p]\r\nx\r = 1\n",
		"[p]\nx = 1\n[p]\n", "[é]\nK = v\nk = w\n", "[p]\n\u00a0x = 1\n", "[p]\ns3 =\n  a = 1\n\n  b\n[q]\nbad line\n",
		"[p]\ns3 =\n  a = 1\n  b\n[q]\nk = v\n", "[DEFAULT]\nregion = r\n[p]\nx = 1\n", "[p]\n"+strings.Repeat("k", 300)+" = 1\n",
	)
	// A section with many keys (the scanner switches to a map).
	var many strings.Builder
	many.WriteString("[p]\n")
	for i := range 100 {
		fmt.Fprintf(&many, "k%d = %d\n", i, i)
	}
	files = append(files, many.String(), many.String()+"K7 = again\n")
	for _, f := range files {
		for _, chunk := range []int{1, 2, 3, 7, 64, 1 << 16} {
			sameAsParse(t, []byte(f), chunk)
		}
	}
	// Every name hashing alike: the chains of sections sharing a kept hash
	// still tell names apart.
	testHookKeep = func(uint32) uint32 { return 7 }
	defer func() { testHookKeep = nil }()
	for _, f := range files {
		sameAsParse(t, []byte(f), 64)
	}
}

func FuzzScan(f *testing.F) {
	f.Add([]byte(fixture), uint8(5))
	for _, c := range malformedCases {
		f.Add([]byte(c.data), uint8(3))
	}
	for _, c := range acceptedCases {
		f.Add([]byte(c.data), uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		if len(data) > 4096 {
			return
		}
		sameAsParse(t, data, int(chunk%32)+1)
	})
}

// TestSnapshotReadsAgainWhenTheFileChanges: a file rewritten in place
// between the scan and a lookup is read again whole.
func TestSnapshotReadsAgainWhenTheFileChanges(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config")
	writeFile(t, p, "[profile a]\nregion = one\n", 0o600)
	snap, err := (&File{Path: p, Kind: Config}).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	writeFile(t, p, "[profile b]\nregion = two\n\n[profile a]\nregion = three, longer\n", 0o600)
	got, err := snap.Profile("a")
	if err != nil || got["region"] != "three, longer" {
		t.Errorf("after an in-place rewrite: %v %v", got, err)
	}
	if _, err := snap.Profile("b"); err != nil {
		t.Errorf("b: %v", err)
	}
	if _, err := snap.Profile("c"); !errors.Is(err, ErrProfileNotFound) {
		t.Errorf("c: %v", err)
	}
}
