// Package data provides the training and validation text and token streams for growthtrain's
// trainer: an embedded public-domain default corpus, loading of user text files, a
// deterministic train/validation split, parallel tokenization with an on-disk cache, a
// resumable random-window batch sampler and fixed validation windows.
//
// See docs/data.md for the corpus provenance and the determinism guarantees.
package data

import (
	"crypto/sha256"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/growthtrain/growthtrain/data/internal/corpusarchive"
	"github.com/growthtrain/growthtrain/internal/inputfile"
	"github.com/growthtrain/growthtrain/internal/mmap"
)

// Document is one text of a corpus. Name identifies it (it decides the train/validation split
// and enters CorpusHash); Text is its UTF-8 content.
type Document struct {
	Name, Text string
}

//go:embed corpus/corpus.tar.gz
var defaultArchive []byte

var defaultCorpus = sync.OnceValues(func() ([]Document, error) {
	files, err := corpusarchive.Read(defaultArchive)
	if err != nil {
		return nil, fmt.Errorf("data: embedded corpus/corpus.tar.gz: %w", err)
	}
	docs := make([]Document, len(files))
	for i, f := range files {
		if !utf8.Valid(f.Data) {
			return nil, fmt.Errorf("data: embedded corpus/corpus.tar.gz: %s is not valid UTF-8", f.Name)
		}
		docs[i] = Document{Name: f.Name, Text: string(f.Data)}
	}
	return docs, nil
})

// DefaultCorpus returns the embedded default corpus, sorted by name: 233 State of the Union
// addresses ("sotu/1790_george_washington.txt", ...) and Moby-Dick's 135 chapters
// ("mobydick/chapter_001.txt", ...) plus its etymology, extracts and epilogue, about 12 MB of
// public-domain English prose (see data/corpus/README.md). The archive is decompressed once per
// process; each call returns a fresh slice.
func DefaultCorpus() ([]Document, error) {
	docs, err := defaultCorpus()
	if err != nil {
		return nil, err
	}
	return slices.Clone(docs), nil
}

// LoadFiles reads UTF-8 text files into documents. A path naming a file gives one document
// named by that path (slash-separated); a path naming a directory gives every "*.txt" file
// below it (recursively), sorted by path. Documents come in argument order. It fails, naming the
// file, when a file cannot be read or is not valid UTF-8, when a directory holds no .txt file,
// or when the same document name occurs twice.
func LoadFiles(paths ...string) ([]Document, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("data: LoadFiles: no paths given")
	}
	var docs []Document
	seen := map[string]string{}   // document name -> file
	seenPath := map[string]bool{} // the same file reached twice (e.g. a file and its directory)
	// Names do not depend on where the corpus lives (the split hashes them): a file given
	// directly is named by its base name, a file found in a directory by that directory's base
	// name and its path inside it.
	add := func(path, name string) error {
		text, err := ReadText(path)
		if err != nil {
			return err
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return fmt.Errorf("data: %w", err)
		}
		if seenPath[abs] {
			return fmt.Errorf("data: %s: given more than once", path)
		}
		seenPath[abs] = true
		name = filepath.ToSlash(name)
		if prev, ok := seen[name]; ok {
			return fmt.Errorf("data: %s: a document named %q was already read from %s", path, name, prev)
		}
		seen[name] = path
		docs = append(docs, Document{Name: name, Text: text})
		return nil
	}
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		if !info.IsDir() {
			if err := add(p, filepath.Base(p)); err != nil {
				return nil, err
			}
			continue
		}
		var files []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(d.Name(), ".txt") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("data: %s: directory holds no .txt files", p)
		}
		slices.Sort(files)
		base := filepath.Base(filepath.Clean(p))
		for _, f := range files {
			rel, err := filepath.Rel(p, f)
			if err != nil {
				return nil, fmt.Errorf("data: %w", err)
			}
			if err := add(f, filepath.Join(base, rel)); err != nil {
				return nil, err
			}
		}
	}
	return docs, nil
}

// ReadText reads a UTF-8 text file; an error names the file and, for invalid UTF-8, the offset
// of the first bad byte. Only regular files are read: a named pipe or a device (/dev/zero) is
// refused without blocking. The text is read straight into the returned string (one copy of
// the file in memory, not two), after checking that the system can give that much memory
// (a file larger than that is an error, not the Go runtime's fatal out-of-memory).
func ReadText(path string) (string, error) {
	f, st, err := inputfile.Open(path)
	if err != nil {
		return "", fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	if err := mmap.CheckAlloc(st.Size()); err != nil {
		return "", fmt.Errorf("data: %s: %d bytes: cannot have the memory to read it: %w", path, st.Size(), err)
	}
	var b strings.Builder
	b.Grow(int(st.Size()))
	// Read at most one byte more than the size, to notice a file that grows while being read.
	n, err := io.Copy(&b, io.LimitReader(f, st.Size()+1))
	if err != nil {
		return "", fmt.Errorf("data: %s: %w", path, err)
	}
	if n > st.Size() {
		return "", fmt.Errorf("data: %s: grew while being read (more than the %d bytes it had)", path, st.Size())
	}
	s := b.String()
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("data: %s: not valid UTF-8 (at byte %d)", path, invalidUTF8Offset(s))
	}
	return s, nil
}

// invalidUTF8Offset returns the byte offset of the first invalid UTF-8 sequence in s.
func invalidUTF8Offset(s string) int {
	off := 0
	for off < len(s) {
		r, size := utf8.DecodeRuneInString(s[off:])
		if r == utf8.RuneError && size <= 1 {
			return off
		}
		off += size
	}
	return off
}

// CorpusHash returns the hex sha256 of docs in the given order: for each document, its name
// length, name, text length and text (lengths as 8-byte little-endian integers). Equal hashes
// mean the same names and texts in the same order.
func CorpusHash(docs []Document) string {
	h := sha256.New()
	var n [8]byte
	for _, d := range docs {
		binary.LittleEndian.PutUint64(n[:], uint64(len(d.Name)))
		h.Write(n[:])
		io.WriteString(h, d.Name)
		binary.LittleEndian.PutUint64(n[:], uint64(len(d.Text)))
		h.Write(n[:])
		io.WriteString(h, d.Text)
	}
	return hex.EncodeToString(h.Sum(nil))
}
