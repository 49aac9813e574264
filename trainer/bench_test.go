package trainer

import (
	"fmt"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/model"
	"github.com/growthtrain/growthtrain/optim"
)

// BenchmarkStep times one training step (optim.Step: forward, backward, clipping, AdamW) of a 12-layer model with
// SmolLM2's layer shape, training all layers versus only the top k: frozen layers below the
// lowest trainable one skip their backward pass. Run with
//
//	go test -run '^$' -bench BenchmarkStep ./trainer/
//
// and compare ns/op across the sub-benchmarks (docs/performance.md records a run).
func BenchmarkStep(b *testing.B) {
	cfg := model.Config{VocabSize: 4096, HiddenSize: 576, IntermediateSize: 1536, NumHiddenLayers: 12,
		NumAttentionHeads: 9, NumKeyValueHeads: 3, HeadDim: 64, MaxPositionEmbeddings: 256, RMSNormEps: 1e-5,
		RopeTheta: 1e5, TieWordEmbeddings: true, HiddenAct: "silu"}
	gen := torch.NewGenerator(1, torch.CPU)
	defer gen.Close()
	m, err := model.New(cfg, gen)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	windows := make([][]int64, 4)
	for i := range windows {
		windows[i] = torch.Randint(0, 4096, []int64{129}, torch.WithGenerator(gen)).Int64s()
	}
	for _, top := range []int{12, 6, 2} {
		b.Run(fmt.Sprintf("train-top-%d-of-12", top), func(b *testing.B) {
			_ = m.SetTrainable(false, m.Names()...)
			var names []string
			for l := 12 - top; l < 12; l++ {
				names = append(names, m.LayerParamNames(l)...)
			}
			_ = m.SetTrainable(true, names...)
			opt := optim.NewAdamW(torch.AdamWConfig{LR: 1e-4, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1})
			defer opt.Close()
			step := optim.Step{Optimizer: opt}
			params := optim.Params(names, m.Param)
			for i := 0; i < b.N; i++ {
				res, err := step.Run(params, 1e-4, 1, func(int) (*torch.Tensor, error) {
					batch, err := model.Pack(windows, model.Shifted, torch.CPU)
					if err != nil {
						return nil, err
					}
					return m.Loss(batch, model.LossOptions{})
				})
				if err != nil {
					b.Fatal(err)
				}
				res.Close()
			}
		})
	}
}
