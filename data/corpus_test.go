package data

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/growthtrain/growthtrain/data/internal/corpusarchive"
)

func TestDefaultCorpus(t *testing.T) {
	docs, err := DefaultCorpus()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	total := 0
	for i, d := range docs {
		if i > 0 && docs[i-1].Name >= d.Name {
			t.Errorf("names not strictly sorted: %q then %q", docs[i-1].Name, d.Name)
		}
		if !utf8.ValidString(d.Text) {
			t.Errorf("%s: invalid UTF-8", d.Name)
		}
		if strings.TrimSpace(d.Text) != d.Text || d.Text == "" {
			t.Errorf("%s: empty or untrimmed text", d.Name)
		}
		dir, _, _ := strings.Cut(d.Name, "/")
		counts[dir]++
		total += len(d.Text)
	}
	tests := []struct {
		dir  string
		want int
	}{
		{"sotu", corpusarchive.SOTUAddresses},
		{"mobydick", corpusarchive.MobyDickChapters + corpusarchive.MobyDickExtras},
	}
	for _, tc := range tests {
		if counts[tc.dir] != tc.want {
			t.Errorf("%s: %d documents, want %d", tc.dir, counts[tc.dir], tc.want)
		}
	}
	if len(counts) != len(tests) {
		t.Errorf("unexpected top-level directories: %v", counts)
	}
	if total < 10_000_000 || total > 15_000_000 {
		t.Errorf("total text %d bytes, want 10-15 MB", total)
	}
	byName := map[string]string{}
	for _, d := range docs {
		byName[d.Name] = d.Text
	}
	spot := []struct{ name, prefix string }{
		{"sotu/1790_george_washington.txt", "Fellow-Citizens of the Senate and House of Representatives:"},
		{"mobydick/chapter_001.txt", "CHAPTER 1. Loomings.\n\nCall me Ishmael."},
		{"mobydick/chapter_135.txt", "CHAPTER 135. The Chase.—Third Day.\n\n"},
		{"mobydick/etymology.txt", "ETYMOLOGY."},
		{"mobydick/extracts.txt", "EXTRACTS."},
		{"mobydick/epilogue.txt", "Epilogue"},
	}
	for _, s := range spot {
		if text, ok := byName[s.name]; !ok {
			t.Errorf("%s missing", s.name)
		} else if !strings.HasPrefix(text, s.prefix) {
			t.Errorf("%s starts %q, want prefix %q", s.name, text[:min(len(text), 60)], s.prefix)
		}
	}
	// Each call returns its own slice.
	docs[0].Name = "changed"
	again, err := DefaultCorpus()
	if err != nil || again[0].Name == "changed" {
		t.Errorf("DefaultCorpus shares its slice with callers (err %v)", err)
	}
}

// recordedArchiveSum reads the checksum line written by gencorpus into corpus/README.md.
func recordedArchiveSum(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("corpus", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?m)^- `corpus\\.tar\\.gz` sha256: `([0-9a-f]{64})`$").FindSubmatch(readme)
	if m == nil {
		t.Fatal("corpus/README.md has no corpus.tar.gz sha256 line")
	}
	return string(m[1])
}

func TestEmbeddedArchiveChecksum(t *testing.T) {
	sum := sha256.Sum256(defaultArchive)
	if got, want := hex.EncodeToString(sum[:]), recordedArchiveSum(t); got != want {
		t.Errorf("embedded corpus.tar.gz sha256 %s, README records %s", got, want)
	}
	if len(defaultArchive) > 5<<20 {
		t.Errorf("archive is %d bytes, want under 5 MiB", len(defaultArchive))
	}
}

// TestArchiveReproducible regenerates the archive from the npm sources when they are present
// and checks the bytes equal the embedded ones.
func TestArchiveReproducible(t *testing.T) {
	sotu := envOr("GROWTHTRAIN_CORPUS_SOTU", "/tmp/npm/sotu/package")
	moby := envOr("GROWTHTRAIN_CORPUS_MOBY", "/tmp/npm/md/package")
	for _, dir := range []string{sotu, moby} {
		if _, err := os.Stat(filepath.Join(dir, "data")); err != nil {
			t.Skipf("corpus sources not available (%v); the checksum test still covers the archive", err)
		}
	}
	got, err := corpusarchive.BuildFromSources(sotu, moby)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, defaultArchive) {
		t.Fatalf("regenerated archive (%d bytes) differs from corpus/corpus.tar.gz (%d bytes); rerun go run ./data/internal/gencorpus", len(got), len(defaultArchive))
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func TestArchiveBuildDeterministic(t *testing.T) {
	files := []corpusarchive.File{
		{Name: "b/two.txt", Data: []byte("second\n")},
		{Name: "a/one.txt", Data: []byte("first — ünïcode")},
		{Name: "c.txt", Data: nil},
	}
	a, err := corpusarchive.Build(files)
	if err != nil {
		t.Fatal(err)
	}
	rev := slices.Clone(files)
	slices.Reverse(rev)
	b, err := corpusarchive.Build(rev)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("archive bytes depend on input order")
	}
	back, err := corpusarchive.Read(a)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a/one.txt", "b/two.txt", "c.txt"}
	for i, f := range back {
		if f.Name != want[i] {
			t.Errorf("entry %d is %q, want %q", i, f.Name, want[i])
		}
	}
	bad := []struct {
		name  string
		files []corpusarchive.File
	}{
		{"duplicate", []corpusarchive.File{{Name: "x"}, {Name: "x"}}},
		{"absolute", []corpusarchive.File{{Name: "/etc/x"}}},
		{"dotdot", []corpusarchive.File{{Name: "a/../x"}}},
		{"empty", []corpusarchive.File{{Name: ""}}},
	}
	for _, tc := range bad {
		if _, err := corpusarchive.Build(tc.files); err == nil {
			t.Errorf("%s: Build succeeded", tc.name)
		}
	}
	corrupt := slices.Clone(a)
	corrupt[len(corrupt)/2] ^= 0xff
	if _, err := corpusarchive.Read(corrupt); err == nil {
		t.Error("Read accepted a corrupted archive")
	}
	if _, err := corpusarchive.Read(a[:len(a)-10]); err == nil {
		t.Error("Read accepted a truncated archive")
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "corp", "b.txt"), "bee")
	writeFile(t, filepath.Join(dir, "corp", "a.txt"), "ay")
	writeFile(t, filepath.Join(dir, "corp", "sub", "c.txt"), "sea")
	writeFile(t, filepath.Join(dir, "corp", "notes.md"), "ignored")
	writeFile(t, filepath.Join(dir, "single.text"), "single file, any extension")
	writeFile(t, filepath.Join(dir, "bad", "latin1.txt"), "caf\xe9")
	writeFile(t, filepath.Join(dir, "latin1.txt"), "ok\xff")
	writeFile(t, filepath.Join(dir, "other", "a.txt"), "another a")
	if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		paths   []string
		want    []Document
		wantErr string // substring of the error; "" means success
	}{
		{
			name:  "directory sorted recursive",
			paths: []string{filepath.Join(dir, "corp")},
			want: []Document{ // named inside their directory, not by absolute path
				{"corp/a.txt", "ay"},
				{"corp/b.txt", "bee"},
				{"corp/sub/c.txt", "sea"},
			},
		},
		{
			name:  "file then directory keeps argument order",
			paths: []string{filepath.Join(dir, "single.text"), filepath.Join(dir, "corp", "sub")},
			want: []Document{
				{"single.text", "single file, any extension"},
				{"sub/c.txt", "sea"},
			},
		},
		{name: "non-UTF-8 in directory", paths: []string{filepath.Join(dir, "bad")}, wantErr: "latin1.txt: not valid UTF-8 (at byte 3)"},
		{name: "non-UTF-8 file", paths: []string{filepath.Join(dir, "latin1.txt")}, wantErr: "latin1.txt: not valid UTF-8 (at byte 2)"},
		{name: "missing", paths: []string{filepath.Join(dir, "nope.txt")}, wantErr: "nope.txt"},
		{name: "empty directory", paths: []string{filepath.Join(dir, "empty")}, wantErr: "holds no .txt files"},
		{name: "duplicate", paths: []string{filepath.Join(dir, "corp"), filepath.Join(dir, "corp", "a.txt")}, wantErr: "given more than once"},
		{name: "no paths", wantErr: "no paths"},
		{name: "two documents with one name", paths: []string{filepath.Join(dir, "latin1.txt"), filepath.Join(dir, "bad", "latin1.txt")}, wantErr: "not valid UTF-8"},
		{name: "name collision", paths: []string{filepath.Join(dir, "corp", "a.txt"), filepath.Join(dir, "other", "a.txt")}, wantErr: `a document named "a.txt" was already read from`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LoadFiles(tc.paths...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCorpusHash(t *testing.T) {
	base := []Document{{"a", "hello"}, {"b", "world"}}
	h := CorpusHash(base)
	if len(h) != 64 {
		t.Fatalf("hash %q is not 64 hex digits", h)
	}
	if CorpusHash(slices.Clone(base)) != h {
		t.Error("hash not deterministic")
	}
	variants := []struct {
		name string
		docs []Document
	}{
		{"text changed", []Document{{"a", "hello"}, {"b", "World"}}},
		{"name changed", []Document{{"a", "hello"}, {"c", "world"}}},
		{"order changed", []Document{{"b", "world"}, {"a", "hello"}}},
		{"boundary moved", []Document{{"a", "hellow"}, {"b", "orld"}}},
		{"name/text boundary", []Document{{"ah", "ello"}, {"b", "world"}}},
		{"document dropped", base[:1]},
		{"empty", nil},
	}
	seen := map[string]string{h: "base"}
	for _, v := range variants {
		got := CorpusHash(v.docs)
		if prev, ok := seen[got]; ok {
			t.Errorf("%s: same hash as %s", v.name, prev)
		}
		seen[got] = v.name
	}
}
