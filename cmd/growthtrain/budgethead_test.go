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

// On the CPU, recovery that would not fit --recovery-budget is skipped unless --metrics names
// it, and analyze says so; analysis.json records the model path absolute.
func TestAnalyzeSkipsSlowRecoveryOnCPU(t *testing.T) {
	dir := tinyModelDir(t, 4)
	rel, err := filepath.Rel(mustGetwd(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args         []string
		wantRecovery bool
	}{
		{[]string{"--recovery-budget", "1ns"}, false},
		{[]string{"--recovery-budget", "1ns", "--metrics", "recovery"}, true},
	} {
		out := t.TempDir()
		code, stdout, stderr := runStreams(t, append([]string{"analyze", "-m", rel, "--bootstrap", "10", "--recovery-steps", "2",
			"--recovery-layers", "0", "-o", out}, tc.args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", tc.args, code, stderr)
		}
		if !strings.Contains(stdout, filepath.Join(out, "analysis.json")) || strings.Contains(stdout, "estimated") {
			t.Errorf("%v: stdout %q (want the paths of the results only)", tc.args, stdout)
		}
		if skipped := strings.Contains(stderr, "recovery skipped"); skipped == tc.wantRecovery {
			t.Errorf("%v: stderr says skipped %v:\n%s", tc.args, skipped, stderr)
		}
		rep, err := analysis.ReadReport(filepath.Join(out, "analysis.json"))
		if err != nil {
			t.Fatal(err)
		}
		if (rep.Recovery != nil) != tc.wantRecovery || !filepath.IsAbs(rep.Model.Path) {
			t.Errorf("%v: recovery run %v, model path %q", tc.args, rep.Recovery != nil, rep.Model.Path)
		}
	}
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}
