package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/internal/testref"
	"github.com/growthtrain/growthtrain/model"
	"github.com/growthtrain/growthtrain/tokenizer"
)

// hfRandomModel has transformers build and save a small random model (norm weights and
// biases made non-trivial) of model_type with the given config, and puts a trained tokenizer
// beside it.
func hfRandomModel(t *testing.T, modelType string, cfg map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	spec, _ := json.Marshal(cfg)
	testref.RunPython(t, `
import json, sys, torch
from transformers import AutoConfig, AutoModelForCausalLM
torch.manual_seed(0)
cfg = AutoConfig.for_model(sys.argv[2], **json.loads(sys.argv[3]))
m = AutoModelForCausalLM.from_config(cfg).eval()
with torch.no_grad():
    for n, p in m.named_parameters():
        if n.endswith("norm.weight"):
            p.uniform_(0.5, 1.5)
        elif n.endswith(".bias"):
            p.normal_(0, 0.1)
m.save_pretrained(sys.argv[1])
`, dir, modelType, string(spec))
	text, err := os.ReadFile(filepath.Join(testref.RepoRoot(t), "model", "testdata", "moby_dick_ch1-3.txt"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Train([]string{string(text)}, tokenizer.TrainOptions{VocabSize: 300, SpecialTokens: []string{"<|endoftext|>"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.SaveDir(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// prunedLogitsScript: argv orig_dir, pruned_dir, JSON drop list, JSON ids. Prints the max
// difference between transformers' logits of the exported pruned model and of the original
// model with those layers removed in Python, then the exported model's logits.
const prunedLogitsScript = `
import json, sys, torch
from transformers import AutoModelForCausalLM
drop, ids = json.loads(sys.argv[3]), torch.tensor([json.loads(sys.argv[4])])
orig = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32).eval()
keep = [i for i in range(orig.config.num_hidden_layers) if i not in drop]
orig.model.layers = torch.nn.ModuleList([orig.model.layers[i] for i in keep])
orig.config.num_hidden_layers = len(keep)
if getattr(orig.config, "layer_types", None):
    orig.config.layer_types = [orig.config.layer_types[i] for i in keep]
pruned = AutoModelForCausalLM.from_pretrained(sys.argv[2]).eval()
assert pruned.config.num_hidden_layers == len(keep), pruned.config.num_hidden_layers
with torch.no_grad():
    a, b = orig(ids, use_cache=False).logits, pruned(ids, use_cache=False).logits
print((a - b).abs().max().item())
print(json.dumps(b.flatten().tolist()))
`

// prune removes the layers it says it removes, and the exported HF directory loads in
// transformers with the logits of the original model without those layers, and in growthtrain
// with transformers' logits.
func TestPruneExportsModelTransformersLoads(t *testing.T) {
	orig := hfRandomModel(t, "qwen2", map[string]any{
		"vocab_size": 300, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 6,
		"num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 128,
		"use_sliding_window": true, "sliding_window": 5, "max_window_layers": 3, "tie_word_embeddings": true,
	})
	text := filepath.Join(testref.RepoRoot(t), "model", "testdata", "moby_dick_ch1-3.txt")
	ids := []int64{5, 17, 99, 3, 150, 42, 7, 8, 199, 0, 64, 12, 13, 250, 77}
	idsJSON, _ := json.Marshal(ids)
	for _, tc := range []struct {
		name string
		args []string
		drop []int // nil: whatever the metric chose (read from prune.json)
	}{
		{"drop-list", []string{"--drop", "4,1"}, []int{1, 4}},
		{"angular-k2", []string{"--k", "2", "--metric", "angular"}, nil},
		{"block-influence-healed", []string{"--k", "1", "--metric", "block-influence", "--heal-steps", "2", "--train-data", text, "--heal-seq-len", "32"}, nil},
		{"skip-k2", []string{"--k", "2", "--metric", "skip"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "pruned")
			args := append([]string{"prune", "-m", orig, "--data", text, "--eval-tokens", "400", "--seq-len", "64", "-o", out}, tc.args...)
			if err := run(args...); err != nil {
				t.Fatal(err)
			}
			var rep pruneReport
			raw, err := os.ReadFile(filepath.Join(out, "prune.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &rep); err != nil {
				t.Fatal(err)
			}
			if tc.drop != nil && !slices.Equal(rep.Drop, tc.drop) {
				t.Fatalf("dropped %v, want %v", rep.Drop, tc.drop)
			}
			wantDrop := 2
			if tc.name == "block-influence-healed" {
				wantDrop = 1
				if rep.PPLHealed == nil {
					t.Fatal("prune.json has no healed perplexity")
				}
			}
			if len(rep.Drop) != wantDrop || !(rep.PPLBefore > 1) || !(rep.PPLAfter > 1) {
				t.Fatalf("prune.json: %s", raw)
			}
			if tc.name == "angular-k2" && rep.Drop[1] != rep.Drop[0]+1 {
				t.Fatalf("angular distance drops a contiguous block, got %v", rep.Drop)
			}
			for _, f := range []string{"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors"} {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Errorf("export is missing %s", f)
				}
			}
			dropJSON, _ := json.Marshal(rep.Drop)
			res := string(testref.RunPython(t, prunedLogitsScript, orig, out, string(dropJSON), string(idsJSON)))
			first, rest, _ := strings.Cut(res, "\n")
			var d float64
			if err := json.Unmarshal([]byte(first), &d); err != nil {
				t.Fatalf("reference output %q", res)
			}
			if tc.name != "block-influence-healed" && d > 1e-5 {
				t.Errorf("transformers: exported model vs original without layers %v: logits differ by %g", rep.Drop, d)
			}
			if tc.name == "block-influence-healed" && d < 1e-4 {
				t.Errorf("healing changed nothing (logits differ by %g from the unhealed model)", d)
			}
			var theirs []float32
			if err := json.Unmarshal([]byte(rest), &theirs); err != nil {
				t.Fatal(err)
			}
			m, err := model.Load(out, model.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if d := maxDiff(forwardLogits(t, m, ids), theirs); d > 1e-4 {
				t.Errorf("growthtrain vs transformers on the HF export: max logit difference %g", d)
			}
		})
	}
	// Bad requests are refused with a clear error.
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--drop", "1,9"}, "out of range"},
		{[]string{"--drop", "1,x"}, "not a layer index"},
		{[]string{"--k", "6"}, "k = 6"},
		{[]string{"--k", "1", "--metric", "random"}, "unknown metric"},
		{[]string{"--k", "1", "--drop", "2"}, "exactly one of"},
		{[]string{"--drop", "0", "--gguf", "f32"}, "sliding window"},
		{[]string{"--drop", "0", "--gguf", "q4_k"}, "--gguf"},
	} {
		err := run(append([]string{"prune", "-m", orig, "-o", filepath.Join(t.TempDir(), "x")}, bad.args...)...)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("prune %v: error %v, want one containing %q", bad.args, err, bad.want)
		}
	}
}

// With --gguf, prune also writes the pruned model as GGUF, which loads with the HF export's
// logits (f32: exactly the same weights).
func TestPruneWritesGGUF(t *testing.T) {
	dir := tinyModelDir(t, 4)
	out := filepath.Join(t.TempDir(), "pruned")
	if err := run("prune", "-m", dir, "--drop", "2", "--gguf", "f32", "-o", out); err != nil {
		t.Fatal(err)
	}
	ids := []int64{5, 17, 99, 3, 150, 42, 7, 8}
	var logits [][]float32
	for _, p := range []string{out, filepath.Join(out, "model.gguf")} {
		m, err := model.Load(p, model.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if m.Config.NumHiddenLayers != 3 {
			t.Fatalf("%s: %d layers, want 3", p, m.Config.NumHiddenLayers)
		}
		logits = append(logits, forwardLogits(t, m, ids))
		m.Close()
	}
	if d := maxDiff(logits[0], logits[1]); d > 1e-5 {
		t.Fatalf("GGUF and HF exports differ by %g", d)
	}
}
