package analysis

import (
	"math"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/model"
	"github.com/growthtrain/growthtrain/optim"
)

// The diagnostics and a training step work on every architecture, not only LLaMA: a few AdamW
// steps lower the loss of a fixed batch, and every ablation variant gives a finite change for
// every layer (Qwen2 with biases and a sliding window, Qwen3's q/k norms, Gemma's offset norms).
func TestArchitecturesTrainAndAblate(t *testing.T) {
	for _, c := range []model.Config{
		{ModelType: "qwen2", SlidingWindow: 4, LayerTypes: []string{"full_attention", "sliding_attention", "sliding_attention"}},
		{ModelType: "qwen3"},
		{ModelType: "gemma", HiddenAct: "gelu_pytorch_tanh"},
		{ModelType: "mistral", SlidingWindow: 5},
	} {
		t.Run(c.ModelType, func(t *testing.T) {
			c.VocabSize, c.HiddenSize, c.IntermediateSize, c.NumHiddenLayers = 64, 32, 64, 3
			c.NumAttentionHeads, c.NumKeyValueHeads, c.MaxPositionEmbeddings = 4, 2, 64
			c.FillDefaults()
			gen := torch.NewGenerator(7, torch.CPU)
			defer gen.Close()
			m, err := model.New(c, gen)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			batch := windowsFor(4, 14, 11)
			opt := optim.NewAdamW(torch.AdamWConfig{LR: 1e-2, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8})
			defer opt.Close()
			params := optim.Params(m.Names(), m.Param)
			step := optim.Step{Optimizer: opt, GradClip: 1}
			var first, last float64
			for i := 0; i < 8; i++ {
				res, err := step.Run(params, 1e-2, 1, func(int) (*torch.Tensor, error) {
					b, err := model.Pack(batch, model.Whole, m.Device)
					if err != nil {
						return nil, err
					}
					return m.Loss(b, model.LossOptions{})
				})
				if err != nil {
					t.Fatal(err)
				}
				l, _, err := res.Read()
				res.Close()
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					first = l
				}
				last = l
			}
			if !(last < first-0.1) {
				t.Fatalf("8 training steps took the loss from %.4f to %.4f", first, last)
			}
			e := &Evaluator{M: m, Windows: windowsFor(6, 12, 5), Batch: 3}
			a, err := Ablation(e, AblationOptions{Bootstrap: 20, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(a.Variants) != len(AblationVariants) {
				t.Fatalf("%d variants", len(a.Variants))
			}
			for _, v := range a.Variants {
				for _, l := range v.Layers {
					if d := float64(l.Change); math.IsNaN(d) || math.IsInf(d, 0) || d == 0 {
						t.Errorf("%s layer %d: perplexity change %v", v.Name, l.Layer, d)
					}
				}
			}
		})
	}
}
