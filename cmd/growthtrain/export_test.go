package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/internal/testref"
	"github.com/growthtrain/growthtrain/model"
	"github.com/growthtrain/growthtrain/tokenizer"
)

// ggufCheckScript: argv gguf_path, JSON ids, text. Reads the file with gguf-py (architecture,
// tensor names and types) and with transformers' gguf_file loader (logits of ids, the tokenizer's
// ids of text), and prints one JSON object.
const ggufCheckScript = `
import json, os, sys, torch
from gguf import GGUFReader
from transformers import AutoModelForCausalLM, AutoTokenizer
paths, ids, text = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
out = []
for path in paths:
    r = GGUFReader(path)
    arch = bytes(r.fields["general.architecture"].parts[-1]).decode()
    tensors = {t.name: t.tensor_type.name for t in r.tensors}
    d, f = os.path.dirname(path), os.path.basename(path)
    m = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32).eval()
    with torch.no_grad():
        logits = m(torch.tensor([ids]), use_cache=False).logits.flatten().tolist()
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    out.append({"arch": arch, "tensors": tensors, "logits": logits, "ids": tok(text, add_special_tokens=False)["input_ids"]})
print(json.dumps(out))
`

// ggufCheck is what ggufCheckScript reports for one file.
type ggufCheck struct {
	Arch    string            `json:"arch"`
	Tensors map[string]string `json:"tensors"`
	Logits  []float32         `json:"logits"`
	IDs     []int64           `json:"ids"`
}

// An exported GGUF reads back in gguf-py, in transformers (logits equal to growthtrain's on the
// same file, and to the original model's for f32; the tokenizer's ids equal the original
// tokenizer's) and in growthtrain.
func TestExportGGUFRoundTrips(t *testing.T) {
	text := "Call me Ishmael. Some years ago—never mind how long precisely—having little money,\n\n  and nothing in particular 1234 to interest me on shore."
	ids := []int64{5, 17, 99, 3, 150, 42, 7, 8, 199, 0, 64, 12, 13, 250, 77}
	idsJSON, _ := json.Marshal(ids)
	type export struct {
		name, path, typ, ggufArch string
		tied                      bool
		tok                       *tokenizer.Tokenizer
		want                      []float32 // the original model's logits
	}
	var exports []export
	for _, arch := range []struct {
		modelType, ggufArch string
		cfg                 map[string]any
	}{
		{"llama", "llama", map[string]any{"vocab_size": 300, "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
			"num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 128, "tie_word_embeddings": false}},
		{"qwen2", "qwen2", map[string]any{"vocab_size": 300, "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
			"num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 128, "tie_word_embeddings": true}},
		// head_dim 128 ≠ hidden/heads: transformers' qwen3 GGUF loader takes Qwen3Config's 128
		// rather than attention.key_length, so only this head size can be checked there.
		{"qwen3", "qwen3", map[string]any{"vocab_size": 300, "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
			"num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 128, "max_position_embeddings": 128, "tie_word_embeddings": true}},
	} {
		orig := hfRandomModel(t, arch.modelType, arch.cfg)
		ref, tok, err := loadModelFrom(orig, "", "cpu", "float32")
		if err != nil {
			t.Fatal(err)
		}
		want := forwardLogits(t, ref, ids)
		ref.Close()
		for _, typ := range []string{"f32", "f16", "bf16", "q8_0"} {
			path := filepath.Join(t.TempDir(), "model.gguf")
			if err := run("export", "-m", orig, "--format", "gguf", "--type", typ, "-o", path); err != nil {
				t.Fatal(err)
			}
			exports = append(exports, export{arch.modelType + "-" + typ, path, typ, arch.ggufArch, arch.cfg["tie_word_embeddings"].(bool), tok, want})
		}
	}
	var paths []string
	for _, e := range exports {
		paths = append(paths, e.path)
	}
	pathsJSON, _ := json.Marshal(paths)
	var checks []ggufCheck
	if err := json.Unmarshal(testref.RunPython(t, ggufCheckScript, string(pathsJSON), string(idsJSON), text), &checks); err != nil || len(checks) != len(exports) {
		t.Fatalf("reference output: %d results, %v", len(checks), err)
	}
	for i, e := range exports {
		got := checks[i]
		t.Run(e.name, func(t *testing.T) {
			if got.Arch != e.ggufArch {
				t.Errorf("gguf-py reads general.architecture %q, want %q", got.Arch, e.ggufArch)
			}
			if w, n := got.Tensors["blk.1.ffn_down.weight"], got.Tensors["blk.1.attn_norm.weight"]; w != strings.ToUpper(e.typ) || n != "F32" {
				t.Errorf("tensor types: ffn_down %s, attn_norm %s; want %s and F32", w, n, strings.ToUpper(e.typ))
			}
			if _, ok := got.Tensors["output.weight"]; ok == e.tied {
				t.Errorf("output.weight present = %v with tie_word_embeddings %v", ok, e.tied)
			}
			if want := e.tok.Encode(text); !slices.Equal(got.IDs, want) {
				t.Errorf("transformers' GGUF tokenizer: %v\nthe original tokenizer: %v", got.IDs, want)
			}
			gtok, err := tokenizer.LoadGGUF(e.path)
			if err != nil {
				t.Fatal(err)
			}
			if ours := gtok.Encode(text); !slices.Equal(ours, got.IDs) {
				t.Errorf("growthtrain's GGUF tokenizer: %v\ntransformers': %v", ours, got.IDs)
			}
			m, err := model.Load(e.path, model.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			ours := forwardLogits(t, m, ids)
			if d := maxDiff(ours, got.Logits); d > 1e-4 {
				t.Errorf("growthtrain vs transformers on the GGUF: logits differ by %g", d)
			}
			// Against the unquantised original: exact for f32, within the type's rounding else.
			tol := map[string]float64{"f32": 1e-5, "f16": 5e-3, "bf16": 3e-2, "q8_0": 3e-2}[e.typ]
			if d := maxDiff(ours, e.want); d > tol {
				t.Errorf("GGUF %s vs the original model: logits differ by %g (limit %g)", e.typ, d, tol)
			} else {
				t.Logf("GGUF %s vs the original: max |logit difference| %.2g", e.typ, d)
			}
		})
	}
	// What GGUF cannot hold here is refused by name.
	refused := func(c model.Config, want string, extra ...string) {
		t.Helper()
		c.VocabSize, c.HiddenSize, c.IntermediateSize, c.NumHiddenLayers = 300, 32, 64, 1
		c.NumAttentionHeads, c.NumKeyValueHeads, c.MaxPositionEmbeddings = 2, 1, 64
		c.FillDefaults()
		dir := tinyDirFor(t, c)
		err := run(append([]string{"export", "-m", dir, "--format", "gguf", "-o", filepath.Join(t.TempDir(), "x.gguf")}, extra...)...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("GGUF export of %s %v: error %v, want one containing %q", c.ModelType, extra, err, want)
		}
	}
	refused(model.Config{ModelType: "gemma", HiddenAct: "gelu_pytorch_tanh"}, `model_type "gemma"`)
	refused(model.Config{ModelType: "mistral", SlidingWindow: 8}, "sliding window")
	refused(model.Config{ModelType: "mistral"}, "--type", "--type", "q4_k")
	refused(model.Config{RopeScaling: &model.RopeScaling{Type: "linear", Factor: 2}}, "rope scaling")
}

// tinyDirFor writes a random model of config c, with a trained tokenizer, as an HF directory.
func tinyDirFor(t *testing.T, c model.Config) string {
	t.Helper()
	dir := tinyModelDir(t)
	gen := torch.NewGenerator(1, torch.CPU)
	defer gen.Close()
	m, err := model.New(c, gen)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.SaveHF(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func forwardLogits(t *testing.T, m *model.Model, ids []int64) []float32 {
	t.Helper()
	var out []float32
	torch.WithScope(func(s *torch.Scope) {
		o, err := m.Forward(torch.FromSlice(ids, 1, int64(len(ids))), model.ForwardOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out = o.Logits.Float32s()
	})
	return out
}

func maxDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}
