package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/analysis"
)

// The budget names a tokenizer that exists, wherever it is written: analysis.json's model path
// is absolute, or (files written before it was) relative to analysis.json's folder; the
// tokenizer is where analyze found it (in a model directory, beside a .safetensors file, or the
// .gguf itself).
func TestBudgetTokenizerPathResolves(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"hf/tokenizer.json", "st/tokenizer.json", "st/model.safetensors", "q.gguf"} {
		p := filepath.Join(root, "models", f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	from := filepath.Join(root, "analysis.json")
	cases := []struct{ model, want string }{
		{filepath.Join(root, "models", "hf"), "models/hf/tokenizer.json"},
		{"models/hf", "models/hf/tokenizer.json"}, // relative to analysis.json's folder
		{filepath.Join(root, "models", "st", "model.safetensors"), "models/st/tokenizer.json"},
		{"models/q.gguf", "models/q.gguf"},
	}
	for _, tc := range cases {
		rep := &analysis.Report{Model: analysis.ModelInfo{Path: tc.model}}
		rep.Model.Config.NumHiddenLayers = 2
		head := defaultBudgetHead(rep, from, 0)
		i := strings.Index(head, "tokenizer = ")
		if i < 0 {
			t.Fatalf("%s: no tokenizer in\n%s", tc.model, head)
		}
		line := head[i+len("tokenizer = "):]
		tok, err := strconv.Unquote(line[:strings.Index(line, "\n")])
		if err != nil {
			t.Fatal(err)
		}
		if !filepath.IsAbs(tok) || tok != filepath.Join(root, tc.want) {
			t.Errorf("model %s: tokenizer %s, want %s", tc.model, tok, filepath.Join(root, tc.want))
		}
		if _, err := os.Stat(tok); err != nil {
			t.Errorf("model %s: %v", tc.model, err)
		}
	}
}
