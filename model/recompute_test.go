package model

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

func recomputeModel(t *testing.T, layers int, hidden, inter int) *Model {
	t.Helper()
	cfg := Config{VocabSize: 300, HiddenSize: hidden, IntermediateSize: inter, NumHiddenLayers: layers, NumAttentionHeads: 4,
		NumKeyValueHeads: 2, HeadDim: hidden / 4, MaxPositionEmbeddings: 256, RMSNormEps: 1e-5, RopeTheta: 1e4, TieWordEmbeddings: true, HiddenAct: "silu"}
	return seededModel(t, cfg, 11)
}

func randomWindows(seed uint64, n, t, vocab int) [][]int64 {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([][]int64, n)
	for i := range out {
		for j := 0; j <= t; j++ {
			out[i] = append(out[i], r.Int64N(int64(vocab)))
		}
	}
	return out
}

// gradients runs one forward and backward pass (recomputing the layers marked, nil: none) of
// loss x scale and returns the loss and every trainable parameter's gradient, by name.
func gradients(t *testing.T, m *Model, b Batch, recompute []bool, scale float64) (float64, map[string][]float32, int) {
	t.Helper()
	grads := map[string][]float32{}
	var loss float64
	stages := 0
	err := torch.Try(func() {
		torch.WithScope(func(*torch.Scope) {
			r, err := m.LossRecomputing(b, LossOptions{}, recompute)
			if err != nil {
				t.Fatal(err)
			}
			stages = r.Stages()
			loss = r.Loss.Item()
			r.Loss.MulScalar(scale).Backward()
			if err := r.Backward(); err != nil {
				t.Fatal(err)
			}
			for _, n := range m.Names() {
				p := m.Param(n)
				if g := p.Grad(); g != nil {
					grads[n] = g.Float32s()
					p.ZeroGrad()
				}
			}
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return loss, grads, stages
}

// Recomputing layers changes no number: the loss and every gradient equal the plain pass's,
// bit for bit, whichever layers are recomputed, trainable, skipped, or computed in bfloat16.
func TestRecomputeGradientsEqualPlain(t *testing.T) {
	const layers = 4
	all := []bool{true, true, true, true}
	for _, tc := range []struct {
		name      string
		trainable func(m *Model) []string // nil: everything
		recompute []bool
		skip      int // a layer made the identity, -1: none
		mixed     bool
		scale     float64
		stages    int
	}{
		{name: "all trainable, all recomputed", recompute: all, skip: -1, scale: 1, stages: 4},
		{name: "every other layer", recompute: []bool{true, false, true, false}, skip: -1, scale: 1, stages: 2},
		{name: "top two trainable", trainable: func(m *Model) []string {
			return append(append(m.LayerParamNames(2), m.LayerParamNames(3)...), "model.norm.weight")
		}, recompute: all, skip: -1, scale: 1, stages: 2},
		{name: "one middle layer trainable, embeddings frozen", trainable: func(m *Model) []string {
			return m.LayerParamNames(1)
		}, recompute: all, skip: -1, scale: 1, stages: 3},
		{name: "a skipped layer, micro-batch scale", recompute: all, skip: 2, scale: 0.25, stages: 3},
		{name: "the last layer only", recompute: []bool{false, false, false, true}, skip: -1, scale: 1, stages: 1},
		{name: "bfloat16 mixed precision", recompute: all, skip: -1, mixed: true, scale: 1, stages: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := recomputeModel(t, layers, 32, 64)
			if tc.trainable != nil {
				if err := m.SetTrainable(false, m.Names()...); err != nil {
					t.Fatal(err)
				}
				if err := m.SetTrainable(true, tc.trainable(m)...); err != nil {
					t.Fatal(err)
				}
			}
			if tc.skip >= 0 {
				m.Layers[tc.skip].Skip = true
			}
			if tc.mixed {
				m.Compute = torch.BFloat16
			}
			b, err := Pack(randomWindows(3, 3, 16, 300), Shifted, torch.CPU)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			wantLoss, want, none := gradients(t, m, b, nil, tc.scale)
			gotLoss, got, stages := gradients(t, m, b, tc.recompute, tc.scale)
			if none != 0 || stages != tc.stages {
				t.Errorf("recomputed %d layers (plain pass: %d), want %d", stages, none, tc.stages)
			}
			if gotLoss != wantLoss {
				t.Errorf("loss %v, want %v", gotLoss, wantLoss)
			}
			if len(got) != len(want) || len(want) == 0 {
				t.Fatalf("%d gradients, want %d (> 0)", len(got), len(want))
			}
			for n, w := range want {
				if g := got[n]; !slices.Equal(g, w) {
					t.Errorf("%s: gradient differs from the plain pass's (first values %v, want %v)", n, head(g), head(w))
				}
			}
		})
	}
}

func head(v []float32) []float32 { return v[:min(3, len(v))] }

// With gradients off (validation) nothing is recomputed and the loss is Loss's.
func TestRecomputeWithoutGradients(t *testing.T) {
	m := recomputeModel(t, 2, 32, 64)
	b, err := Pack(randomWindows(4, 2, 8, 300), Shifted, torch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	torch.WithScope(func(*torch.Scope) {
		torch.NoGrad(func() {
			r, err := m.LossRecomputing(b, LossOptions{}, []bool{true, true})
			if err != nil {
				t.Fatal(err)
			}
			l, err := m.Loss(b, LossOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Stages() != 0 || r.Loss.Item() != l.Item() {
				t.Errorf("no-grad pass recomputed %d layers, loss %v vs %v", r.Stages(), r.Loss.Item(), l.Item())
			}
		})
	})
	if _, err := m.LossRecomputing(b, LossOptions{}, []bool{true, true, true}); !errors.Is(err, ErrInput) {
		t.Errorf("three layers marked on a two-layer model: %v, want ErrInput", err)
	}
}

// Recomputing every layer lowers the peak memory of a training step's forward and backward
// pass: measured by the CPU cache's peak of live bytes, it must fall below 60% of the plain
// pass's on a model whose activations outweigh its parameters.
func TestRecomputeLowersPeakMemory(t *testing.T) {
	if !torch.CPUCache().Installed {
		t.Fatal("the CPU cache is not installed: the test runtime should install it")
	}
	m := recomputeModel(t, 6, 64, 256)
	b, err := Pack(randomWindows(5, 8, 128, 300), Shifted, torch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	peak := func(recompute []bool) int64 {
		gradients(t, m, b, recompute, 1) // the gradients exist from here on: they are not in the difference
		base := torch.CPUCache().Live
		torch.ResetCPUCachePeak()
		gradients(t, m, b, recompute, 1)
		return torch.CPUCachePeak() - base
	}
	plain := peak(nil)
	recomputed := peak([]bool{true, true, true, true, true, true})
	t.Logf("peak above the parameters and gradients: plain %.1f MB, every layer recomputed %.1f MB (%.2fx)",
		float64(plain)/1e6, float64(recomputed)/1e6, float64(recomputed)/float64(plain))
	if float64(recomputed) > 0.6*float64(plain) {
		t.Errorf("recomputing every layer: peak %d bytes, plain %d: want below 60%% of it", recomputed, plain)
	}
}

func ExampleModel_LossRecomputing() {
	cfg := Config{VocabSize: 64, HiddenSize: 16, IntermediateSize: 32, NumHiddenLayers: 2, NumAttentionHeads: 2,
		NumKeyValueHeads: 2, HeadDim: 8, MaxPositionEmbeddings: 32, RMSNormEps: 1e-5, RopeTheta: 1e4, HiddenAct: "silu"}
	m, _ := New(cfg, nil)
	defer m.Close()
	b, _ := Pack([][]int64{{1, 2, 3, 4, 5}}, Shifted, torch.CPU)
	defer b.Close()
	torch.WithScope(func(*torch.Scope) {
		r, _ := m.LossRecomputing(b, LossOptions{}, []bool{true, true})
		fmt.Println("recomputed layers:", r.Stages())
		r.Loss.Backward() // reaches the top layer's output, not the layers
		fmt.Println("layer 0 has a gradient:", m.Param("model.layers.0.mlp.up_proj.weight").Grad() != nil)
		_ = r.Backward() // recomputes layer 1, then layer 0, into their gradients
		fmt.Println("layer 0 has a gradient:", m.Param("model.layers.0.mlp.up_proj.weight").Grad() != nil)
	})
	// Output:
	// recomputed layers: 2
	// layer 0 has a gradient: false
	// layer 0 has a gradient: true
}
