package data

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

type textRow struct {
	ID   int64  `parquet:"id"`
	Text string `parquet:"text"`
}

type nullableRow struct {
	Body *string `parquet:"body,optional"`
}

// writeParquet writes rows with the Go library, in row groups of groupRows rows (HF datasets'
// shards are Snappy- or Zstandard-compressed: pass parquet.Compression).
func writeParquet[T any](t *testing.T, path string, rows []T, groupRows int, opts ...parquet.WriterOption) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[T](f, opts...)
	for start := 0; start < len(rows); start += groupRows {
		if _, err := w.Write(rows[start:min(start+groupRows, len(rows))]); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil { // ends the row group
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestReadRecords(t *testing.T) {
	dir := t.TempDir()
	jsonl := filepath.Join(dir, "a.jsonl")
	os.WriteFile(jsonl, []byte("{\"text\": \"first line\", \"n\": 1}\n\n{\"n\": 2, \"text\": \"second\\nwith a newline\"}\r\n{\"text\": \"ünïcode\", \"body\": 3}"), 0o644)

	// WikiText-like rows, in the HF datasets layout: a directory of shards, several row groups.
	wiki := []string{"", " = Valkyria Chronicles III = \n", "", " Senjō no Valkyria 3 is a game . \n", "last row without newline"}
	shards := filepath.Join(dir, "wikitext")
	os.MkdirAll(shards, 0o755)
	var rows0, rows1 []textRow
	for i, s := range wiki {
		if i < 3 {
			rows0 = append(rows0, textRow{ID: int64(i), Text: s})
		} else {
			rows1 = append(rows1, textRow{ID: int64(i), Text: s})
		}
	}
	writeParquet(t, filepath.Join(shards, "test-00000-of-00002.parquet"), rows0, 2, parquet.Compression(&parquet.Snappy))
	writeParquet(t, filepath.Join(shards, "test-00001-of-00002.parquet"), rows1, 1, parquet.Compression(&parquet.Zstd))
	one := filepath.Join(dir, "one.parquet")
	writeParquet(t, one, rows1, 10)
	body := "a body"
	nullable := filepath.Join(dir, "nullable.parquet")
	writeParquet(t, nullable, []nullableRow{{Body: &body}, {Body: nil}}, 10)
	plain := filepath.Join(dir, "plain.txt")
	os.WriteFile(plain, []byte("just text"), 0o644)

	cases := []struct {
		name string
		path string
		opts RecordOptions
		want []string
	}{
		{"jsonl, default field", jsonl, RecordOptions{}, []string{"first line", "second\nwith a newline", "ünïcode"}},
		{"jsonl, explicit format", jsonl, RecordOptions{Format: FormatJSONL, Field: "text"}, []string{"first line", "second\nwith a newline", "ünïcode"}},
		{"parquet directory of shards", shards, RecordOptions{}, wiki},
		{"parquet file", one, RecordOptions{Field: "text"}, wiki[3:]},
		{"text", plain, RecordOptions{}, []string{"just text"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadRecords(tc.path, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}

	text, err := ReadTextAny(shards, RecordOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "\n = Valkyria Chronicles III = \n\n Senjō no Valkyria 3 is a game . \nlast row without newline\n"; text != want {
		t.Fatalf("joined text %q, want %q", text, want)
	}
	if text, _ := ReadTextAny(plain, RecordOptions{}); text != "just text" {
		t.Fatalf("plain text read as %q", text)
	}
	docs, err := ReadDocuments(shards, RecordOptions{})
	if err != nil || len(docs) != 3 || docs[0].Name != "wikitext#1" {
		t.Fatalf("documents %v, %v", docs, err)
	}

	bad := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}
	errCases := []struct {
		name string
		path string
		opts RecordOptions
		want string
	}{
		{"missing field", jsonl, RecordOptions{Field: "body"}, `a.jsonl:1: no field "body"`},
		{"field not a string", jsonl, RecordOptions{Field: "n"}, `a.jsonl:1: field "n" is a number, not a string`},
		{"not JSON", bad("b.jsonl", "{\"text\": \"ok\"}\nnot json\n"), RecordOptions{}, "b.jsonl:2: not a JSON object"},
		{"null field", bad("c.jsonl", "{\"text\": null}\n"), RecordOptions{}, `c.jsonl:1: field "text" is null`},
		{"empty jsonl", bad("d.jsonl", "\n\n"), RecordOptions{}, "no JSON lines"},
		{"missing column", one, RecordOptions{Field: "content"}, `no column "content" (columns: id, text`},
		{"numeric column", one, RecordOptions{Field: "id"}, `column "id" holds INT64 values`},
		{"null value", nullable, RecordOptions{Field: "body"}, `row 1: column "body" is null`},
		{"not parquet", bad("e.parquet", "plain text"), RecordOptions{}, "e.parquet: not a Parquet file"},
		{"directory without shards", t.TempDir(), RecordOptions{Format: FormatParquet}, "holds no .parquet files"},
		{"missing file", filepath.Join(dir, "none.jsonl"), RecordOptions{}, "none.jsonl"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadRecords(tc.path, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestDetectAndParseFormat(t *testing.T) {
	dir := t.TempDir()
	shards := filepath.Join(dir, "shards")
	os.MkdirAll(shards, 0o755)
	writeParquet(t, filepath.Join(shards, "train-00000-of-00001.parquet"), []textRow{{Text: "x"}}, 1)
	for path, want := range map[string]Format{
		"a.jsonl": FormatJSONL, "b.NDJSON": FormatJSONL, "c.parquet": FormatParquet, "d.txt": FormatText,
		shards: FormatParquet, dir: FormatText, // a directory without shards is not Parquet
	} {
		if got := DetectFormat(path); got != want {
			t.Errorf("DetectFormat(%s) = %s, want %s", path, got, want)
		}
	}
	for _, s := range []string{"auto", "text", "jsonl", "parquet"} {
		if f, err := ParseFormat(s); err != nil || string(f) != s {
			t.Errorf("ParseFormat(%q) = %v, %v", s, f, err)
		}
	}
	if _, err := ParseFormat("csv"); err == nil || !strings.Contains(err.Error(), "want auto, text, jsonl or parquet") {
		t.Errorf("ParseFormat(csv): %v", err)
	}
}
