package model

import (
	"math"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

func probeModel(t *testing.T, cfg Config) *Model {
	t.Helper()
	gen := torch.NewGenerator(7, torch.CPU)
	defer gen.Close()
	m, err := New(cfg, gen)
	if err != nil {
		t.Fatal(err)
	}
	// Large weights make the attention far from uniform, so the test has teeth.
	for l := 0; l < cfg.NumHiddenLayers; l++ {
		if err := m.ScaleLayer(l, 25, AllMatrices); err != nil {
			t.Fatal(err)
		}
	}
	torch.NoGrad(func() {
		for l := 0; l < cfg.NumHiddenLayers; l++ {
			for _, n := range []string{"q_proj.bias", "k_proj.bias", "v_proj.bias", "o_proj.bias", "q_norm.weight", "k_norm.weight"} {
				if b := m.Param(LayerPrefix(l) + "self_attn." + n); b != nil {
					b.CopyFrom(torch.Randn(b.Shape()).MulScalar(0.3))
				}
			}
		}
	})
	return m
}

// TestAttentionProbs checks that the probabilities are distributions over the causal past and
// that probs·v through o_proj reproduces the layer's attention branch.
func TestAttentionProbs(t *testing.T) {
	cfgs := map[string]Config{
		"gqa": {VocabSize: 50, HiddenSize: 32, IntermediateSize: 48, NumHiddenLayers: 2, NumAttentionHeads: 4,
			NumKeyValueHeads: 2, HeadDim: 8, MaxPositionEmbeddings: 64, RMSNormEps: 1e-5, RopeTheta: 1e4,
			TieWordEmbeddings: true, HiddenAct: "silu"},
		"mha-bias": {VocabSize: 40, HiddenSize: 24, IntermediateSize: 40, NumHiddenLayers: 2, NumAttentionHeads: 3,
			NumKeyValueHeads: 3, HeadDim: 8, MaxPositionEmbeddings: 64, RMSNormEps: 1e-6, RopeTheta: 1e5,
			AttentionBias: true, HiddenAct: "silu"},
		"qwen3-qk-norm": {ModelType: "qwen3", VocabSize: 50, HiddenSize: 32, IntermediateSize: 48, NumHiddenLayers: 2,
			NumAttentionHeads: 4, NumKeyValueHeads: 2, HeadDim: 16, MaxPositionEmbeddings: 64, RMSNormEps: 1e-6,
			RopeTheta: 1e4, HiddenAct: "silu"},
		"qwen2-window-4": {ModelType: "qwen2", VocabSize: 50, HiddenSize: 32, IntermediateSize: 48, NumHiddenLayers: 2,
			NumAttentionHeads: 4, NumKeyValueHeads: 2, HeadDim: 8, MaxPositionEmbeddings: 64, RMSNormEps: 1e-6,
			RopeTheta: 1e4, HiddenAct: "silu", SlidingWindow: 4, LayerTypes: []string{"sliding_attention", "full_attention"}},
		"gemma": {ModelType: "gemma", VocabSize: 50, HiddenSize: 32, IntermediateSize: 48, NumHiddenLayers: 2,
			NumAttentionHeads: 4, NumKeyValueHeads: 1, HeadDim: 16, MaxPositionEmbeddings: 64, RMSNormEps: 1e-6,
			RopeTheta: 1e4, HiddenAct: "gelu_pytorch_tanh"},
	}
	for name, cfg := range cfgs {
		t.Run(name, func(t *testing.T) {
			m := probeModel(t, cfg)
			defer m.Close()
			const B, T = 2, 11
			ids := make([]int64, B*T)
			for i := range ids {
				ids[i] = int64((i*17 + 3) % cfg.VocabSize)
			}
			err := torch.Try(func() {
				torch.WithScope(func(s *torch.Scope) {
					torch.NoGrad(func() {
						out, err := m.Forward(torch.FromSlice(ids, B, T), ForwardOptions{CaptureHidden: true})
						if err != nil {
							t.Fatal(err)
						}
						H, kv, d := int64(cfg.NumAttentionHeads), int64(cfg.NumKeyValueHeads), int64(cfg.HeadDim)
						for l := 0; l < cfg.NumHiddenLayers; l++ {
							h := out.Hidden[l]
							probs := m.AttentionProbs(l, h)
							if got := probs.Shape(); len(got) != 4 || got[0] != B || got[1] != H || got[2] != T || got[3] != T {
								t.Fatalf("layer %d: probs shape %v", l, got)
							}
							p := probs.Float64s()
							maxOff, sumErr, minEnt := 0.0, 0.0, math.Inf(1)
							for r := 0; r < B*int(H)*T; r++ {
								qpos := r % T
								row := p[r*T : (r+1)*T]
								var s, ent float64
								for k, v := range row {
									if w := cfg.Window(l); k > qpos || (w > 0 && k <= qpos-w) {
										maxOff = math.Max(maxOff, math.Abs(v))
									}
									if v < 0 {
										t.Fatalf("negative probability %v", v)
									}
									s += v
									if v > 0 {
										ent -= v * math.Log(v)
									}
								}
								sumErr = math.Max(sumErr, math.Abs(s-1))
								if qpos == T-1 {
									minEnt = math.Min(minEnt, ent)
								}
							}
							if sumErr > 1e-5 {
								t.Fatalf("layer %d: rows sum to 1 within %g", l, sumErr)
							}
							if maxOff != 0 {
								t.Fatalf("layer %d: probability %g on a future position or outside the window", l, maxOff)
							}
							// The branch itself: Block with the MLP skipped, minus its input.
							m.Layers[l].SkipMLP = true
							want := m.Block(l, h).Sub(h)
							m.Layers[l] = DefaultControl()
							pre := LayerPrefix(l)
							x := m.norm(h, m.params[pre+"input_layernorm.weight"])
							v := m.linear(x, pre+"self_attn.v_proj").View(B, T, kv, d).Transpose(1, 2)
							o := probs.Matmul(repeatKV(v, int(H/kv))).Transpose(1, 2).Reshape(B, T, H*d)
							got := m.linear(o, pre+"self_attn.o_proj")
							diff := got.Sub(want).Abs().Amax(false).Item()
							scale := want.Abs().Amax(false).Item()
							if diff > 1e-4*(1+scale) {
								t.Fatalf("layer %d: probs·v·o differs from the attention branch by %g (scale %g)", l, diff, scale)
							}
							t.Logf("layer %d: max |diff| %.3g (branch scale %.3g); min last-row entropy %.3f of max %.3f",
								l, diff, scale, minEnt, math.Log(T))
						}
					})
				})
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
