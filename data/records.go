package data

// Text from record files: JSON Lines (one object per line, the text in a named field) and
// Parquet (the text in a named column; one file or a directory of shards, the layout the HF
// datasets hub uses for WikiText and most other sets). Plain text files stay with ReadText and
// LoadFiles.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Format is the kind of a text source.
type Format string

const (
	FormatAuto    Format = "auto"    // from the name: .jsonl/.ndjson, .parquet or a directory of them, else text
	FormatText    Format = "text"    // a UTF-8 text file (ReadText)
	FormatJSONL   Format = "jsonl"   // JSON Lines, one object per line
	FormatParquet Format = "parquet" // a Parquet file or a directory of Parquet shards
)

// Formats are the values ParseFormat accepts.
var Formats = []Format{FormatAuto, FormatText, FormatJSONL, FormatParquet}

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown data format %q (want auto, text, jsonl or parquet)", s)
}

// DetectFormat resolves FormatAuto for path: a .jsonl or .ndjson file is JSON Lines, a .parquet
// file or a directory holding .parquet files is Parquet, anything else is text.
func DetectFormat(path string) Format {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson":
		return FormatJSONL
	case ".parquet":
		return FormatParquet
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		if shards, _ := parquetShards(path); len(shards) > 0 {
			return FormatParquet
		}
	}
	return FormatText
}

// RecordOptions says where the text is in a record file.
type RecordOptions struct {
	Format Format // FormatAuto (the zero value too) detects it from the path
	Field  string // JSONL field or Parquet column holding the text (default "text")
}

func (o RecordOptions) resolve(path string) Format {
	if o.Format == "" || o.Format == FormatAuto {
		return DetectFormat(path)
	}
	return o.Format
}

func (o RecordOptions) field() string {
	if o.Field == "" {
		return "text"
	}
	return o.Field
}

// ReadRecords returns the texts of path's records in file order: the field of each JSONL line,
// the column's value of each Parquet row (shards in name order). A plain text file is one
// record. Null values and missing JSONL fields are errors that name the file and the line or
// row; so is a field that is not a string.
func ReadRecords(path string, opts RecordOptions) ([]string, error) {
	f := opts.resolve(path)
	switch f {
	case FormatJSONL:
		return readJSONL(path, opts.field())
	case FormatParquet:
		return readParquet(path, opts.field())
	case FormatText:
		text, err := ReadText(path)
		if err != nil {
			return nil, err
		}
		return []string{text}, nil
	}
	return nil, fmt.Errorf("%s: unknown data format %q", path, f)
}

// ReadTextAny reads path as one text: a text file as it is; the records of a JSONL or Parquet
// source concatenated, each ending with a newline (one is added where a record has none), which
// keeps WikiText's own line structure.
func ReadTextAny(path string, opts RecordOptions) (string, error) {
	if opts.resolve(path) == FormatText {
		return ReadText(path)
	}
	recs, err := ReadRecords(path, opts)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, r := range recs {
		b.WriteString(r)
		if !strings.HasSuffix(r, "\n") {
			b.WriteByte('\n')
		}
	}
	return b.String(), nil
}

// ReadDocuments is ReadRecords as documents named "<file>#<index>", for the recovery and
// training text (each record is one document, separated by the end-of-text token).
func ReadDocuments(path string, opts RecordOptions) ([]Document, error) {
	recs, err := ReadRecords(path, opts)
	if err != nil {
		return nil, err
	}
	docs := make([]Document, 0, len(recs))
	for i, r := range recs {
		if r == "" {
			continue
		}
		docs = append(docs, Document{Name: fmt.Sprintf("%s#%d", filepath.Base(path), i), Text: r})
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%s: no non-empty records", path)
	}
	return docs, nil
}
