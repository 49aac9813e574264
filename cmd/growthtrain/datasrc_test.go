package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/internal/testref"
	"github.com/parquet-go/parquet-go"
)

// --data of eval and analyze reads a text file, a JSONL field and a Parquet column, and a
// missing field is an error that names it.
func TestDataFormatsWired(t *testing.T) {
	dir := tinyModelDir(t)
	raw, err := os.ReadFile(filepath.Join(testref.RepoRoot(t), "model", "testdata", "moby_dick_ch1-3.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")[:200]
	tmp := t.TempDir()
	var jsonl strings.Builder
	for _, l := range lines {
		b, _ := json.Marshal(map[string]string{"content": l})
		jsonl.Write(b)
		jsonl.WriteByte('\n')
	}
	jsonlPath := filepath.Join(tmp, "moby.jsonl")
	if err := os.WriteFile(jsonlPath, []byte(jsonl.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	type row struct {
		Text string `parquet:"text"`
	}
	rows := make([]row, len(lines))
	for i, l := range lines {
		rows[i] = row{l}
	}
	shards := filepath.Join(tmp, "shards")
	os.MkdirAll(shards, 0o755)
	for i, part := range [][]row{rows[:100], rows[100:]} {
		f, err := os.Create(filepath.Join(shards, []string{"a.parquet", "b.parquet"}[i]))
		if err != nil {
			t.Fatal(err)
		}
		w := parquet.NewGenericWriter[row](f)
		if _, err := w.Write(part); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	textPath := filepath.Join(tmp, "moby.txt")
	os.WriteFile(textPath, []byte(strings.Join(lines, "\n")+"\n"), 0o644)

	for _, args := range [][]string{
		{"eval", "-m", dir, "--data", textPath, "--seq-len", "64"},
		{"eval", "-m", dir, "--data", jsonlPath, "--data-field", "content", "--seq-len", "64"},
		{"eval", "-m", dir, "--data", shards, "--seq-len", "64"},
		{"analyze", "-m", dir, "--data", jsonlPath, "--data-field", "content", "--metrics", "lens", "--bootstrap", "10", "--eval-tokens", "256", "--seq-len", "64", "-o", t.TempDir()},
	} {
		if err := run(args...); err != nil {
			t.Errorf("%v: %v", args, err)
		}
	}
	if err := run("eval", "-m", dir, "--data", jsonlPath, "--seq-len", "64"); err == nil || !strings.Contains(err.Error(), `"text"`) {
		t.Errorf("a JSONL file without the field: %v", err)
	}
}
