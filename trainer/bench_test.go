package trainer

import (
	"fmt"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/model"
)

// BenchmarkStep times one training step (forward, backward, AdamW) of a 12-layer model with
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
	ids := torch.Randint(0, 4096, []int64{4, 129}, torch.WithGenerator(gen))
	defer ids.Close()
	for _, top := range []int{12, 6, 2} {
		b.Run(fmt.Sprintf("train-top-%d-of-12", top), func(b *testing.B) {
			_ = m.SetTrainable(false, m.Names()...)
			var params []Param
			for l := 12 - top; l < 12; l++ {
				_ = m.SetTrainable(true, m.LayerParamNames(l)...)
				for _, n := range m.LayerParamNames(l) {
					params = append(params, Param{Name: n, Tensor: m.Param(n), NoDecay: m.Param(n).Dim() < 2})
				}
			}
			opt := NewAdamW(torch.AdamWConfig{LR: 1e-4, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1})
			defer opt.Close()
			for i := 0; i < b.N; i++ {
				torch.WithScope(func(s *torch.Scope) {
					in := ids.Slice(1, 0, 128, 1)
					out, _ := m.Forward(in, model.ForwardOptions{})
					torch.CrossEntropy(out.Logits.Reshape(-1, 4096), ids.Slice(1, 1, 129, 1).Reshape(-1), torch.CrossEntropyOptions{}).Backward()
				})
				_ = opt.Step(params, 1e-4)
				_ = ZeroGrad(params)
			}
		})
	}
}
