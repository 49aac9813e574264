package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/internal/testref"
)

// tinyCorpus writes the test text as a few documents and returns their directory.
func tinyCorpus(t *testing.T) string {
	t.Helper()
	corpus := t.TempDir()
	text, err := os.ReadFile(filepath.Join(testref.RepoRoot(t), "model", "testdata", "moby_dick_ch1-3.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for i, part := range strings.SplitAfter(string(text), "CHAPTER") {
		if err := os.WriteFile(filepath.Join(corpus, fmt.Sprintf("%d.txt", i)), []byte(part), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return corpus
}

// tinyTrainBudget writes a budget for a 3-layer model on corpus into a temporary directory.
func tinyTrainBudget(t *testing.T, corpus, tokenizer, extra string) string {
	t.Helper()
	dir := t.TempDir()
	return writeFile(t, "tiny.toml", fmt.Sprintf(`
[run]
output = %q
seed = 3
[model]
num_hidden_layers = 3
hidden_size = 32
intermediate_size = 64
num_attention_heads = 2
max_position_embeddings = 64
[data]
corpus = [%q]
tokenizer = %q
seq_len = 16
batch_size = 4
val_fraction = 0.3
cache_dir = %q
[eval]
tokens = 256
%s
[[phase]]
layers = "1"
steps = 3
[[phase]]
layers = "all"
steps = 3
train_embeddings = true
train_head = true
`, filepath.Join(dir, "out"), corpus, tokenizer, filepath.Join(dir, "cache"), extra))
}

// The basic workflow: train a budget, then evaluate and analyze its checkpoint's model/ (a
// complete HF directory) — with a trained tokenizer (which knows its end-of-text token) and
// with one that has no EOS at all (the separator policy, not a panic).
func TestTrainThenAnalyzeCheckpoint(t *testing.T) {
	corpus := tinyCorpus(t)
	plainTok := filepath.Join(t.TempDir(), "plain", "tokenizer.json")
	if err := os.MkdirAll(filepath.Dir(plainTok), 0o755); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(corpus, "*.txt"))
	if err := run(append([]string{"tokenizer", "train", "--vocab-size", "300", "-o", plainTok}, files...)...); err != nil {
		t.Fatal(err)
	}
	text := filepath.Join(testref.RepoRoot(t), "model", "testdata", "moby_dick_ch1-3.txt")
	for _, tc := range []struct {
		name, tokenizer string
		eos             bool
	}{
		{"trained tokenizer", "train:300", true},
		{"tokenizer without EOS", plainTok, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			budget := tinyTrainBudget(t, corpus, tc.tokenizer, "")
			if err := run("-c", budget); err != nil {
				t.Fatal(err)
			}
			// Twice over the same cache: the second run loads the trained tokenizer from it.
			out := filepath.Join(t.TempDir(), "out2")
			if err := run("-c", budget, "-o", out); err != nil {
				t.Fatal(err)
			}
			// The loss curve is drawn beside metrics.jsonl.
			if st, err := os.Stat(filepath.Join(out, "loss.png")); err != nil || st.Size() < 1000 {
				t.Errorf("loss.png beside metrics.jsonl: %v", err)
			}
			modelDir := filepath.Join(out, "checkpoints", "step-0000006", "model")
			for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json"} {
				if _, err := os.Stat(filepath.Join(modelDir, f)); err != nil {
					t.Errorf("the checkpoint's model/ lacks %s", f)
				}
			}
			for _, d := range []string{filepath.Dir(modelDir), modelDir} {
				if st, err := os.Stat(d); err != nil || st.Mode().Perm()&0o055 != 0o055 {
					t.Errorf("%s: mode %v, want readable by group and others", d, st.Mode().Perm())
				}
			}
			var cfg map[string]any
			raw, _ := os.ReadFile(filepath.Join(modelDir, "config.json"))
			if err := json.Unmarshal(raw, &cfg); err != nil {
				t.Fatal(err)
			}
			if _, ok := cfg["eos_token_id"]; ok != tc.eos {
				t.Errorf("config.json eos_token_id present=%v, want %v: %s", ok, tc.eos, raw)
			}
			tokCfg, _ := os.ReadFile(filepath.Join(modelDir, "tokenizer_config.json"))
			if strings.Contains(string(tokCfg), "eos_token") != tc.eos {
				t.Errorf("tokenizer_config.json: %s", tokCfg)
			}
			if err := run("eval", "-m", modelDir, "--data", text, "--seq-len", "32", "--max-tokens", "300"); err != nil {
				t.Fatalf("eval of the checkpoint: %v", err)
			}
			if err := run("analyze", "-m", modelDir, "-o", t.TempDir(), "--metrics", "ablation,recovery", "--bootstrap", "20",
				"--recovery-steps", "2", "--recovery-layers", "1", "--train-data", text); err != nil {
				t.Fatalf("analyze of the checkpoint: %v", err)
			}
		})
	}
}
