package trainer

import (
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/internal/testref"
	"github.com/growthtrain/growthtrain/model"
)

// The trainer runs a budget on each non-LLaMA architecture given as [model] config (Qwen2 with
// a sliding window on its upper layers, Gemma), and its checkpoint loads in transformers as
// that architecture with our loss.
func TestTrainerRunsOtherArchitectures(t *testing.T) {
	var ckpts []string
	var losses []float64
	ids := []int64{5, 9, 100, 42, 7, 250, 3, 3, 17, 80}
	for _, c := range []model.Config{
		{ModelType: "qwen2", SlidingWindow: 4, LayerTypes: []string{"full_attention", "sliding_attention", "sliding_attention"}},
		{ModelType: "gemma", HiddenAct: "gelu_pytorch_tanh"},
	} {
		dir := t.TempDir()
		c.VocabSize, c.HiddenSize, c.IntermediateSize, c.NumHiddenLayers = 300, 32, 64, 3
		c.NumAttentionHeads, c.NumKeyValueHeads, c.MaxPositionEmbeddings, c.TieWordEmbeddings = 2, 1, 64, true
		c.FillDefaults()
		cfg, err := c.JSON()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644); err != nil {
			t.Fatal(err)
		}
		path := tinyBudget(t, dir, twoPhases, "")
		src, _ := os.ReadFile(path)
		withConfig := strings.Replace(string(src), "[model]\n", "[model]\nconfig = \"config.json\"\n", 1)
		if err := os.WriteFile(path, []byte(withConfig), 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := LoadBudget(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Run(b, Options{Log: io.Discard}); err != nil {
			t.Fatalf("%s: %v", c.ModelType, err)
		}
		ckpt := filepath.Join(dir, "out", "checkpoints", "step-0000008", "model")
		m, err := model.LoadHF(ckpt, model.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if m.Config.ModelType != c.ModelType || m.Config.Window(2) != c.Window(2) {
			t.Fatalf("checkpoint config: %+v", m.Config)
		}
		torch.WithScope(func(s *torch.Scope) {
			pb, err := model.Pack([][]int64{ids}, model.Whole, torch.CPU)
			if err != nil {
				t.Fatal(err)
			}
			l, err := m.Loss(pb, model.LossOptions{})
			if err != nil {
				t.Fatal(err)
			}
			losses = append(losses, l.Item())
		})
		m.Close()
		ckpts = append(ckpts, ckpt)
	}
	ckJSON, _ := json.Marshal(ckpts)
	idsJSON, _ := json.Marshal(ids)
	out := testref.RunPython(t, `
import json, sys, torch
from transformers import AutoModelForCausalLM
ids = torch.tensor([json.loads(sys.argv[2])])
res = []
for d in json.loads(sys.argv[1]):
    m = AutoModelForCausalLM.from_pretrained(d).eval()
    with torch.no_grad():
        res.append([type(m).__name__, m(ids, labels=ids).loss.item()])
print(json.dumps(res))
`, string(ckJSON), string(idsJSON))
	var res [][2]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"Qwen2ForCausalLM", "GemmaForCausalLM"} {
		if res[i][0] != want || math.Abs(res[i][1].(float64)-losses[i]) > 1e-4 {
			t.Errorf("transformers: %v; want %s with loss %v", res[i], want, losses[i])
		}
	}
}
