package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesWithModeAndLeavesNoTemp(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		t.Run(map[bool]string{false: "synced", true: "NoSync"}[noSync], func(t *testing.T) { testWriteReplaces(t, noSync) })
	}
}

func testWriteReplaces(t *testing.T, noSync bool) {
	dir := t.TempDir()
	path := filepath.Join(dir, "credentials")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	var sawOld bool
	err := Write(path, []byte("new contents"), Options{NoSync: noSync, MidWrite: func() {
		// Half written: readers still see the old file.
		b, _ := os.ReadFile(path)
		sawOld = string(b) == "old"
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !sawOld {
		t.Error("mid-write, the file was not the old one")
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "new contents" {
		t.Fatalf("contents %q, %v", b, err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600 by default", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries, want only the file (no temporary left)", len(entries))
	}
}

func TestWriteFailureLeavesTargetUntouched(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "missing-folder", "f")
	if err := Write(path, []byte("x"), Options{}); err == nil {
		t.Fatal("writing into a missing folder succeeded")
	}
	// A target that is a folder cannot be replaced by rename: the error is
	// returned and no temporary file is left behind.
	target := filepath.Join(dir, "target")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "keep"), []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(target, []byte("x"), Options{Perm: 0o640}); err == nil {
		t.Fatal("replacing a non-empty folder succeeded")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "target" {
			t.Errorf("left behind %s", e.Name())
		}
	}
}
