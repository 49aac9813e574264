package fsutil

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.txt")
	if err := WriteFile(p, []byte("one")); err != nil {
		t.Fatal(err)
	}
	// A failing writer leaves the previous content and no temporary file.
	err := WriteAtomic(p, func(w *bufio.Writer) error {
		w.WriteString("partial")
		return errors.New("disk on fire")
	})
	if err == nil {
		t.Fatal("no error")
	}
	if got, _ := os.ReadFile(p); string(got) != "one" {
		t.Fatalf("content %q after a failed write", got)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("%d entries left, want 1", len(ents))
	}
	if err := WriteFile(p, []byte("two")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); string(got) != "two" {
		t.Fatalf("content %q", got)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", st.Mode())
	}
}

// A held lock excludes every other holder (flock locks belong to an open file, so a second
// open in the same process is refused as another process would be) until it is released.
func TestLock(t *testing.T) {
	p := filepath.Join(t.TempDir(), ".lock")
	l, err := Lock(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(p); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v, want ErrLocked", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	l2, err := Lock(p)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	l2.Unlock()
}

// File streams a replacement: nothing is visible at the path until Commit, Close without
// Commit leaves the old file, and CopyFile replaces atomically too.
func TestFileCommitAndDiscard(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.csv")
	if err := WriteFile(p, []byte("old")); err != nil {
		t.Fatal(err)
	}
	f, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(f, "new,")
	if got, _ := os.ReadFile(p); string(got) != "old" {
		t.Fatalf("before Commit the path holds %q", got)
	}
	fmt.Fprint(f, "content")
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("Close after Commit: %v", err)
	}
	if got, _ := os.ReadFile(p); string(got) != "new,content" {
		t.Fatalf("after Commit: %q", got)
	}
	g, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(g, "abandoned")
	g.Close()
	if got, _ := os.ReadFile(p); string(got) != "new,content" {
		t.Fatalf("after Close without Commit: %q", got)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("%d entries left, want 1", len(ents))
	}
	cp := filepath.Join(dir, "copy.csv")
	if err := CopyFile(p, cp); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(cp); string(got) != "new,content" {
		t.Fatalf("copy: %q", got)
	}
}
