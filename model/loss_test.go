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
	gen := torch.NewGenerator(5, torch.CPU)
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
