package model

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/internal/testref"
	"github.com/growthtrain/growthtrain/model/safetensors"
	"github.com/growthtrain/growthtrain/tokenizer"
)

// refScript builds small random models of each architecture (model_type, default llama) with
// transformers itself, saves them (safetensors) and, for fixed ids, the reference logits, loss
// and hidden states. argv: out_dir, JSON list of {name, model_type, config}.
const refScript = `
import json, sys, torch
from transformers import AutoConfig, AutoModelForCausalLM
from safetensors.torch import save_file
out, cases = sys.argv[1], json.loads(sys.argv[2])
for case in cases:
    torch.manual_seed(0)
    cfg = AutoConfig.for_model(case.get("model_type") or "llama", **case["config"])
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager").eval()
    with torch.no_grad():  # make norms and biases non-trivial, so they are tested too
        for n, p in model.named_parameters():
            if n.endswith("norm.weight"):
                p.uniform_(0.5, 1.5)
            elif n.endswith(".bias"):
                p.normal_(0, 0.1)
    d = out + "/" + case["name"]
    model.save_pretrained(d)
    ids = torch.randint(0, cfg.vocab_size, (2, 23), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        r = model(ids, labels=ids, output_hidden_states=True)
    t = {"ids": ids, "logits": r.logits.float().contiguous(), "loss": r.loss.float().reshape(1)}
    for i, h in enumerate(r.hidden_states):
        t["hidden_%d" % i] = h.float().contiguous()
    # Mixed precision as PyTorch users train: float32 parameters, bfloat16 autocast.
    with torch.autocast("cpu", dtype=torch.bfloat16):
        r = model(ids, labels=ids)
    r.loss.backward()
    t["bf16_logits"] = r.logits.float().contiguous()
    t["bf16_loss"] = r.loss.float().reshape(1)
    for n, p in model.named_parameters():
        if n in ("model.embed_tokens.weight", "model.layers.0.mlp.down_proj.weight", "model.norm.weight"):
            t["bf16_grad." + n] = p.grad.float().contiguous()
    save_file(t, d + "/ref.safetensors")
`

func TestParityWithTransformers(t *testing.T) {
	cases := []parityCase{
		{"tied-gqa", "", map[string]any{
			"vocab_size": 320, "hidden_size": 64, "intermediate_size": 160, "num_hidden_layers": 3,
			"num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-5,
			"rope_theta": 100000.0, "tie_word_embeddings": true, "max_position_embeddings": 64,
		}},
		{"untied-mha-bias", "", map[string]any{
			"vocab_size": 301, "hidden_size": 48, "intermediate_size": 96, "num_hidden_layers": 2,
			"num_attention_heads": 3, "num_key_value_heads": 3, "rms_norm_eps": 1e-6,
			"rope_theta": 10000.0, "tie_word_embeddings": false, "attention_bias": true,
			"mlp_bias": true, "max_position_embeddings": 64,
		}},
	}
	runParity(t, cases)
}

type parityCase struct {
	Name      string         `json:"name"`
	ModelType string         `json:"model_type"`
	Config    map[string]any `json:"config"`
}

// runParity has transformers build, save and run each case, then loads the saved directory and
// compares logits, hidden states, loss and (bfloat16 autocast) gradients.
func runParity(t *testing.T, cases []parityCase) {
	t.Helper()
	dir := t.TempDir()
	spec, _ := json.Marshal(cases)
	testref.RunPython(t, refScript, dir, string(spec))
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			m, err := Load(filepath.Join(dir, tc.Name), LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			// What SaveHF writes parses back to the same configuration.
			saved := filepath.Join(t.TempDir(), "saved")
			if err := m.SaveHF(saved); err != nil {
				t.Fatal(err)
			}
			if c, err := LoadConfig(filepath.Join(saved, "config.json")); err != nil {
				t.Fatal(err)
			} else if !reflect.DeepEqual(c, m.Config) {
				t.Fatalf("saved config reads back as\n%+v\nnot\n%+v", c, m.Config)
			}
			ref := readRef(t, filepath.Join(dir, tc.Name, "ref.safetensors"))
			defer closeAll(ref)
			// With gradients recorded (training: the composite ATen ops) and without (inference:
			// the fused CPU kernels for RMSNorm, rotary embeddings and the loss).
			t.Run("bfloat16-autocast", func(t *testing.T) { checkMixedParity(t, m, ref) })
			for _, mode := range []string{"recording-gradients", "no-grad"} {
				run := func(f func()) { f() }
				if mode == "no-grad" {
					run = torch.NoGrad
				}
				torch.WithScope(func(s *torch.Scope) {
					run(func() {
						out, err := m.Forward(ref["ids"], ForwardOptions{CaptureHidden: true})
						if err != nil {
							t.Fatal(err)
						}
						if d := maxAbsDiff(out.Logits, ref["logits"]); d > 1e-4 {
							t.Errorf("%s: logits differ by %g (limit 1e-4)", mode, d)
						} else {
							t.Logf("%s: max |logit difference| = %.2g", mode, d)
						}
						// HF's last hidden state is after the final norm; ours are layer outputs.
						for i := 0; i < m.Config.NumHiddenLayers; i++ {
							if d := maxAbsDiff(out.Hidden[i], ref[fmt.Sprintf("hidden_%d", i)]); d > 1e-4 {
								t.Errorf("%s: hidden state %d differs by %g", mode, i, d)
							}
						}
						loss, err := nextTokenLoss(m, ref["ids"])
						if err != nil {
							t.Fatal(err)
						}
						if d := math.Abs(loss.Item() - ref["loss"].Item()); d > 1e-5 {
							t.Errorf("%s: loss %v vs transformers %v", mode, loss.Item(), ref["loss"].Item())
						}
					})
				})
			}
		})
	}
}

// A model made and saved by growthtrain loads in transformers with the same logits.
func TestSaveHFLoadsInTransformers(t *testing.T) {
	cfg := Config{VocabSize: 200, HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: 2,
		NumAttentionHeads: 4, NumKeyValueHeads: 2, MaxPositionEmbeddings: 32, RMSNormEps: 1e-5,
		RopeTheta: 10000, TieWordEmbeddings: true, HiddenAct: "silu"}
	bos, eos := int64(7), int64(9)
	cfg.BOSTokenID, cfg.EOSTokenID = &bos, &eos
	cfg.FillDefaults()
	gen := torch.NewGenerator(5, torch.CPU)
	defer gen.Close()
	m, err := New(cfg, gen)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	dir := t.TempDir()
	if err := m.SaveHF(dir); err != nil {
		t.Fatal(err)
	}
	// A directory anyone can read, as any other output.
	for _, f := range []string{"", "config.json", "generation_config.json", "model.safetensors"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o644)
		if f == "" {
			want = 0o755 | os.ModeDir
		}
		if st.Mode()&(os.ModeDir|0o777) != want {
			t.Errorf("%s: mode %v, want %v", filepath.Join(dir, f), st.Mode(), want)
		}
	}
	ids := []int64{5, 17, 99, 3, 150, 42, 7, 8, 199, 0, 64}
	var want []float32
	torch.WithScope(func(s *torch.Scope) {
		out, err := m.Forward(torch.FromSlice(ids, 1, int64(len(ids))), ForwardOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want = out.Logits.Float32s()
	})
	idsJSON, _ := json.Marshal(ids)
	got := testref.RunPython(t, `
import json, sys, torch
from transformers import AutoModelForCausalLM
m = AutoModelForCausalLM.from_pretrained(sys.argv[1]).eval()
ids = torch.tensor([json.loads(sys.argv[2])])
g = m.generation_config
print(json.dumps([m.config.bos_token_id, m.config.eos_token_id, g.bos_token_id, g.eos_token_id, g.pad_token_id]))
with torch.no_grad():
    print(json.dumps(m(ids).logits.flatten().tolist()))
`, dir, string(idsJSON))
	idsLine, rest, _ := strings.Cut(string(got), "\n")
	if idsLine != "[7, 9, 7, 9, 9]" {
		t.Errorf("transformers reads bos, eos (config), bos, eos, pad (generation config) as %s, want [7, 9, 7, 9, 9]", idsLine)
	}
	var logits []float32
	if err := json.Unmarshal([]byte(rest), &logits); err != nil {
		t.Fatal(err)
	}
	if len(logits) != len(want) {
		t.Fatalf("transformers gave %d logits, we have %d", len(logits), len(want))
	}
	worst := 0.0
	for i := range want {
		worst = math.Max(worst, math.Abs(float64(logits[i]-want[i])))
	}
	if worst > 1e-4 {
		t.Fatalf("transformers' logits of our saved model differ by %g", worst)
	}
}

// SmolLM2-135M-Instruct from the GGUF: our perplexity on 2,000 tokens of held-out English
// equals transformers' on the same GGUF within 0.1%.
func TestGGUFPerplexityMatchesTransformers(t *testing.T) {
	path := testref.SmolLM2GGUF(t)
	tok, err := tokenizer.LoadGGUF(path)
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile("testdata/moby_dick_ch1-3.txt")
	if err != nil {
		t.Fatal(err)
	}
	ids := tok.Encode(string(text))
	if len(ids) < 2000 {
		t.Fatalf("only %d tokens of text", len(ids))
	}
	ids = ids[:2000]
	m, err := Load(path, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got, want := m.Config.NumHiddenLayers, 30; got != want {
		t.Fatalf("%d layers, want %d", got, want)
	}
	var ours float64
	torch.WithScope(func(s *torch.Scope) {
		loss, err := nextTokenLoss(m, torch.FromSlice(ids, 1, int64(len(ids))))
		if err != nil {
			t.Fatal(err)
		}
		ours = math.Exp(loss.Item())
	})
	// Evaluate runs without gradients, so through the fused CPU kernels.
	res, err := m.Evaluate(ids, EvalOptions{SeqLen: len(ids)})
	if err != nil {
		t.Fatal(err)
	}
	idsFile := filepath.Join(t.TempDir(), "ids.json")
	data, _ := json.Marshal(ids)
	if err := os.WriteFile(idsFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out := testref.RunPython(t, `
import json, math, os, sys, torch
from transformers import AutoModelForCausalLM
path = sys.argv[1]
m = AutoModelForCausalLM.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path), dtype=torch.float32).eval()
ids = torch.tensor([json.load(open(sys.argv[2]))])
with torch.no_grad():
    print(math.exp(m(ids, labels=ids).loss.item()))
`, path, idsFile)
	var theirs float64
	if _, err := fmt.Sscan(strings.TrimSpace(string(out)), &theirs); err != nil {
		t.Fatalf("reference output %q: %v", out, err)
	}
	for _, c := range []struct {
		how  string
		ours float64
	}{{"Loss (recording gradients)", ours}, {"Evaluate (no grad, fused kernels)", res.Perplexity}} {
		rel := math.Abs(c.ours-theirs) / theirs
		t.Logf("perplexity on 2000 tokens, %s: growthtrain %.4f, transformers %.4f (relative difference %.2g)", c.how, c.ours, theirs, rel)
		if rel > 1e-3 {
			t.Errorf("%s: perplexity %.4f vs transformers %.4f: relative difference %.2g > 0.1%%", c.how, c.ours, theirs, rel)
		}
	}
	if ours < 2 || ours > 100 {
		t.Fatalf("perplexity %.2f is not what a pretrained model gives on English prose", ours)
	}
}

func readRef(t *testing.T, path string) map[string]*torch.Tensor {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]*torch.Tensor{}
	for _, n := range f.Names() {
		info, _ := f.Info(n)
		raw, err := f.Bytes(n)
		if err != nil {
			t.Fatal(err)
		}
		dt := torch.Float32
		if info.DType == safetensors.I64 {
			dt = torch.Int64
		}
		out[n] = torch.FromBytes(raw, dt, info.Shape...)
	}
	return out
}

func closeAll(m map[string]*torch.Tensor) {
	for _, t := range m {
		t.Close()
	}
}

func maxAbsDiff(a, b *torch.Tensor) float64 {
	var d float64
	torch.WithScope(func(s *torch.Scope) {
		d = a.Sub(b).Abs().Amax(false).Item()
	})
	return d
}

// Evaluate's chunked head gives the same perplexity as the full-logits loss.
func TestEvaluateChunkedHead(t *testing.T) {
	m := tinyLossModel(t)
	ids := make([]int64, 250)
	for i := range ids {
		ids[i] = int64(i*37) % 300
	}
	var want float64
	torch.WithScope(func(s *torch.Scope) {
		x := torch.FromSlice(ids[:100], 1, 100)
		l, err := nextTokenLoss(m, x)
		if err != nil {
			t.Fatal(err)
		}
		want = l.Item() * 99
	})
	for _, chunk := range []int{0, 7, 32, 99, 128} {
		res, err := m.Evaluate(ids[:100], EvalOptions{SeqLen: 100, HeadChunk: chunk})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(res.NLL-want) > 1e-4*math.Abs(want) || res.Tokens != 99 {
			t.Fatalf("chunk %d: NLL %v over %d tokens, full loss gives %v", chunk, res.NLL, res.Tokens, want)
		}
	}
}

// nextTokenLoss is the mean next-token loss of ids [B, T] (every token an input; HF's
// labels=ids loss).
func nextTokenLoss(m *Model, ids *torch.Tensor) (*torch.Tensor, error) {
	b, err := NextTokens(ids)
	if err != nil {
		return nil, err
	}
	return m.Loss(b, LossOptions{})
}

// checkMixedParity runs m in mixed precision (float32 parameters, bfloat16 compute) against
// transformers under torch.autocast: logits, loss and gradients.
func checkMixedParity(t *testing.T, m *Model, ref map[string]*torch.Tensor) {
	m.Compute = torch.BFloat16
	defer func() { m.Compute = torch.Float32 }()
	torch.WithScope(func(s *torch.Scope) {
		out, err := m.Forward(ref["ids"], ForwardOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// The bfloat16 products must have changed something, or this compares float32 with itself.
		if maxAbsDiff(out.Logits, ref["logits"]) == 0 {
			t.Fatal("mixed-precision logits equal the float32 ones: autocast did not run")
		}
		// bfloat16 keeps 8 significant bits: the logits agree to its rounding, not to float32's
		// (on the CPU they come out equal: the same kernels in the same order).
		scale := ref["bf16_logits"].Abs().Amax(false).Item()
		if d := maxAbsDiff(out.Logits, ref["bf16_logits"]); d > 1e-2*scale {
			t.Errorf("logits differ by %g (scale %g)", d, scale)
		} else {
			t.Logf("max |logit difference| %.2g (max |logit| %.2g)", d, scale)
		}
		loss, err := nextTokenLoss(m, ref["ids"])
		if err != nil {
			t.Fatal(err)
		}
		if d := math.Abs(loss.Item() - ref["bf16_loss"].Item()); d > 1e-3*ref["bf16_loss"].Item() {
			t.Errorf("loss %v vs transformers %v", loss.Item(), ref["bf16_loss"].Item())
		}
		loss.Backward()
		defer func() {
			for _, n := range m.Names() {
				m.Param(n).SetGradNone()
			}
		}()
		for _, n := range []string{"model.embed_tokens.weight", "model.layers.0.mlp.down_proj.weight", "model.norm.weight"} {
			g := m.Param(n).Grad()
			if g == nil || g.DType() != torch.Float32 {
				t.Fatalf("%s: gradient %v, want float32", n, g)
			}
			want := ref["bf16_grad."+n]
			scale := want.Abs().Amax(false).Item()
			if d := maxAbsDiff(g, want); d > 2e-2*scale {
				t.Errorf("%s: gradient differs by %g (scale %g)", n, d, scale)
			} else {
				t.Logf("%s: max |gradient difference| %.2g (scale %.2g)", n, d, scale)
			}
		}
	})
}
