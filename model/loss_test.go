package model

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

func tinyLossModel(t *testing.T) *Model {
	t.Helper()
	cfg := Config{VocabSize: 300, HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: 2, NumAttentionHeads: 4,
		NumKeyValueHeads: 2, HeadDim: 8, MaxPositionEmbeddings: 128, RMSNormEps: 1e-5, RopeTheta: 1e4, TieWordEmbeddings: true, HiddenAct: "silu"}
	return seededModel(t, cfg, 5)
}

// seededModel is New(cfg) with weights drawn from a generator seeded with seed, closed when t ends.
func seededModel(t *testing.T, cfg Config, seed uint64) *Model {
	t.Helper()
	gen := torch.NewGenerator(seed, torch.CPU)
	defer gen.Close()
	m, err := New(cfg, gen)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func TestPackLayouts(t *testing.T) {
	wins := [][]int64{{1, 2, 3, 4}, {5, 6}}
	const x = IgnoreIndex
	for _, tc := range []struct {
		name           string
		layout         Layout
		inputs, target []int64
		shape          []int64
		tokens         int64
	}{
		{"shifted", Shifted, []int64{1, 2, 3, 5, 0, 0}, []int64{2, 3, 4, 6, x, x}, []int64{2, 3}, 4},
		{"whole", Whole, []int64{1, 2, 3, 4, 5, 6, 0, 0}, []int64{2, 3, 4, x, 6, x, x, x}, []int64{2, 4}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Pack(wins, tc.layout, torch.CPU)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if !slices.Equal(b.Inputs.Shape(), tc.shape) || !slices.Equal(b.Targets.Shape(), tc.shape) {
				t.Fatalf("shapes %v %v, want %v", b.Inputs.Shape(), b.Targets.Shape(), tc.shape)
			}
			if got := b.Inputs.Int64s(); !slices.Equal(got, tc.inputs) {
				t.Errorf("inputs %v, want %v", got, tc.inputs)
			}
			if got := b.Targets.Int64s(); !slices.Equal(got, tc.target) {
				t.Errorf("targets %v, want %v", got, tc.target)
			}
			if b.Tokens != tc.tokens {
				t.Errorf("tokens %d, want %d", b.Tokens, tc.tokens)
			}
		})
	}
	for _, bad := range [][][]int64{nil, {{1, 2}, {3}}} {
		if _, err := Pack(bad, Shifted, torch.CPU); !errors.Is(err, ErrInput) {
			t.Errorf("Pack(%v): %v, want ErrInput", bad, err)
		}
	}
}

// Both layouts give the same loss for the same windows (the Whole layout's extra position has
// no target), and NextTokens is the Whole layout of a tensor.
func TestLossLayoutsAgree(t *testing.T) {
	m := tinyLossModel(t)
	wins := [][]int64{{1, 7, 9, 200, 13, 4}, {8, 8, 3, 299, 0, 1}}
	torch.WithScope(func(s *torch.Scope) {
		torch.NoGrad(func() {
			var got []float64
			for _, layout := range []Layout{Shifted, Whole} {
				b, err := Pack(wins, layout, torch.CPU)
				if err != nil {
					t.Fatal(err)
				}
				l, err := m.Loss(b, LossOptions{})
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, l.Item())
			}
			nt, err := NextTokens(torch.FromSlice(slices.Concat(wins...), 2, 6))
			if err != nil {
				t.Fatal(err)
			}
			l, err := m.Loss(nt, LossOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, l.Item())
			if math.Abs(got[0]-got[1]) > 1e-6*got[0] || got[1] != got[2] {
				t.Fatalf("losses shifted / whole / NextTokens: %v", got)
			}
		})
	})
}

// The reductions and chunking agree: the mean is the sum over the counted targets, the
// per-row sums add up to the sum, and chunks change nothing beyond rounding.
func TestHeadLossReductionsAndChunks(t *testing.T) {
	m := tinyLossModel(t)
	wins := [][]int64{{1, 7, 9, 200, 13, 4, 5, 6, 7, 8, 9}, {8, 8, 3, 299}}
	torch.WithScope(func(s *torch.Scope) {
		torch.NoGrad(func() {
			b, err := Pack(wins, Whole, torch.CPU)
			if err != nil {
				t.Fatal(err)
			}
			h, err := m.Hidden(b.Inputs)
			if err != nil {
				t.Fatal(err)
			}
			mean := m.HeadLoss(h, b.Targets, LossOptions{}).Item()
			sum := m.HeadLoss(h, b.Targets, LossOptions{Reduction: LossSum}).Item()
			rows := m.HeadLoss(h, b.Targets, LossOptions{Reduction: LossPerRow}).Float64s()
			close := func(a, b float64) bool { return math.Abs(a-b) <= 1e-5*math.Abs(b) }
			if !close(mean*float64(b.Tokens), sum) || len(rows) != 2 || !close(rows[0]+rows[1], sum) {
				t.Fatalf("mean %v x %d tokens, sum %v, rows %v", mean, b.Tokens, sum, rows)
			}
			for _, chunk := range []int{1, 3, 10, 11, 50} {
				cm := m.HeadLoss(h, b.Targets, LossOptions{Chunk: chunk}).Item()
				cs := m.HeadLoss(h, b.Targets, LossOptions{Reduction: LossSum, Chunk: chunk}).Item()
				cr := m.HeadLoss(h, b.Targets, LossOptions{Reduction: LossPerRow, Chunk: chunk}).Float64s()
				if !close(cm, mean) || !close(cs, sum) || !close(cr[0], rows[0]) || !close(cr[1], rows[1]) {
					t.Fatalf("chunk %d: mean %v sum %v rows %v; unchunked %v %v %v", chunk, cm, cs, cr, mean, sum, rows)
				}
			}
		})
	})
}

// A bad input is the model's error (ErrInput), not one of the bindings'.
func TestLossInputErrors(t *testing.T) {
	m := tinyLossModel(t)
	for _, tc := range []struct {
		name string
		ids  func() *torch.Tensor
	}{
		{"one dimension", func() *torch.Tensor { return torch.FromSlice([]int64{1, 2, 3}, 3) }},
		{"float ids", func() *torch.Tensor { return torch.Zeros([]int64{1, 3}) }},
		{"too long", func() *torch.Tensor { return torch.Zeros([]int64{1, 200}, torch.WithDType(torch.Int64)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids := tc.ids()
			defer ids.Close()
			_, err := m.Hidden(ids)
			if !errors.Is(err, ErrInput) || errors.Is(err, torch.ErrArgument) {
				t.Fatalf("Hidden: %v (want ErrInput, not torch.ErrArgument)", err)
			}
			if _, err := m.Forward(ids, ForwardOptions{}); !errors.Is(err, ErrInput) {
				t.Fatalf("Forward: %v, want ErrInput", err)
			}
		})
	}
}

// With gradients recorded, a chunked loss goes through the fused head (no logits kept for
// backward): the same loss and gradients as the composite head, in float32 and in mixed
// precision.
func TestFusedHeadLossMatchesComposite(t *testing.T) {
	m := tinyLossModel(t)
	wins := [][]int64{{1, 7, 9, 200, 13, 4, 5, 6, 7, 8, 9}, {8, 8, 3, 299, 4, 4, 4, 4, 4, 4, 4}}
	names := []string{"model.embed_tokens.weight", "model.norm.weight", "model.layers.1.mlp.down_proj.weight"}
	run := func(chunk int, compute torch.DType) (loss float64, grads [][]float32) {
		m.Compute = compute
		defer func() { m.Compute = torch.Float32 }()
		torch.WithScope(func(s *torch.Scope) {
			b, err := Pack(wins, Shifted, torch.CPU)
			if err != nil {
				t.Fatal(err)
			}
			l, err := m.Loss(b, LossOptions{Chunk: chunk})
			if err != nil {
				t.Fatal(err)
			}
			l.Backward()
			loss = l.Item()
			for _, n := range names {
				grads = append(grads, m.Param(n).Grad().Float32s())
			}
			for _, n := range m.Names() {
				m.Param(n).SetGradNone()
			}
		})
		return loss, grads
	}
	for _, compute := range []torch.DType{torch.Float32, torch.BFloat16} {
		tol := 1e-5
		if compute == torch.BFloat16 {
			tol = 3e-2
		}
		want, wantGrads := run(0, compute)
		for _, chunk := range []int{1, 4, 10} {
			got, grads := run(chunk, compute)
			if math.Abs(got-want) > tol*want {
				t.Errorf("%v chunk %d: loss %v, composite %v", compute, chunk, got, want)
			}
			for i, n := range names {
				var d, scale float64
				for j := range grads[i] {
					d = math.Max(d, math.Abs(float64(grads[i][j]-wantGrads[i][j])))
					scale = math.Max(scale, math.Abs(float64(wantGrads[i][j])))
				}
				if d > tol*scale {
					t.Errorf("%v chunk %d: gradient of %s differs by %.2g (scale %.2g)", compute, chunk, n, d, scale)
				}
			}
		}
	}
}

// A forward pass keeps one tensor handle per layer (its output), not every intermediate: the
// layers' temporaries are released as soon as each layer is done, and backward still works.
func TestForwardReleasesLayerIntermediates(t *testing.T) {
	m := tinyLossModel(t)
	torch.WithScope(func(s *torch.Scope) {
		b, err := Pack([][]int64{{1, 2, 3, 4, 5, 6, 7, 8}}, Shifted, torch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		before := torch.LiveTensors()
		h, err := m.Hidden(b.Inputs)
		if err != nil {
			t.Fatal(err)
		}
		// The embedding output and one output per layer (rotary tables are cached once).
		if grown := torch.LiveTensors() - before; grown > int64(m.Config.NumHiddenLayers)+3 {
			t.Fatalf("%d tensors alive after the forward pass of %d layers", grown, m.Config.NumHiddenLayers)
		}
		m.HeadLoss(h, b.Targets, LossOptions{}).Backward()
		if g := m.Param("model.layers.0.self_attn.q_proj.weight").Grad(); g == nil {
			t.Fatal("no gradient reached layer 0")
		}
	})
	for _, n := range m.Names() {
		m.Param(n).SetGradNone()
	}
}

// A skipped layer (an absent layer in growth training) is not in the graph at all: its block
// returns its input without creating a tensor, and its weights get no gradient.
func TestSkippedLayerCostsNothing(t *testing.T) {
	m := tinyLossModel(t)
	m.Layers[1].Skip = true
	defer func() { m.Layers[1].Skip = false }()
	torch.WithScope(func(s *torch.Scope) {
		b, err := Pack([][]int64{{1, 2, 3, 4, 5, 6}}, Shifted, torch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		h := m.Embed(b.Inputs)
		before := torch.LiveTensors()
		if out := m.Block(1, h); out != h || torch.LiveTensors() != before {
			t.Fatal("a skipped block computed something")
		}
		l, err := m.Loss(b, LossOptions{})
		if err != nil {
			t.Fatal(err)
		}
		l.Backward()
	})
	for _, n := range m.LayerParamNames(1) {
		if m.Param(n).Grad() != nil {
			t.Fatalf("%s of the skipped layer has a gradient", n)
		}
	}
	if m.Param("model.layers.0.mlp.down_proj.weight").Grad() == nil {
		t.Fatal("the layer below got no gradient through the skipped one")
	}
	for _, n := range m.Names() {
		m.Param(n).SetGradNone()
	}
}
