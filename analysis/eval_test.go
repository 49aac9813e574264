package analysis

import (
	"math"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/model"
)

// tinyModel is a random 4-layer model for engine tests.
func tinyModel(t *testing.T, seed uint64) *model.Model {
	t.Helper()
	cfg := model.Config{VocabSize: 64, HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: 4, NumAttentionHeads: 4,
		NumKeyValueHeads: 2, HeadDim: 8, MaxPositionEmbeddings: 64, RMSNormEps: 1e-5, RopeTheta: 1e4, TieWordEmbeddings: true, HiddenAct: "silu"}
	gen := torch.NewGenerator(seed, torch.CPU)
	defer gen.Close()
	m, err := model.New(cfg, gen)
	if err != nil {
		t.Fatal(err)
	}
	// Scale weights up so layers matter (0.02-std weights make every layer nearly an identity).
	for l := 0; l < 4; l++ {
		if err := m.ScaleLayer(l, 20, model.AllMatrices); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func windowsFor(n, length int, seed int64) [][]int64 {
	var out [][]int64
	x := seed
	for i := 0; i < n; i++ {
		w := make([]int64, length-i%3) // different lengths exercise the padding
		for j := range w {
			x = (x*1103515245 + 12345) % 2147483648
			w[j] = x % 64
		}
		out = append(out, w)
	}
	return out
}

func TestSweepMatchesFullForward(t *testing.T) {
	m := tinyModel(t, 1)
	defer m.Close()
	e := &Evaluator{M: m, Windows: windowsFor(7, 12, 3), Batch: 3}
	mods := []Mod{
		ControlMod("skip 2", 2, func(c *model.LayerControl) { c.Skip = true }),
		ControlMod("skip mlp 0", 0, func(c *model.LayerControl) { c.SkipMLP = true }),
		WeightMod("zero 3", 3, func(m *model.Model) (map[string]*torch.Tensor, error) {
			out := map[string]*torch.Tensor{}
			for _, n := range m.LayerParamNames(3) {
				out[n[len(model.LayerPrefix(3)):]] = m.Param(n).ZerosLike()
			}
			return out, nil
		}),
	}
	base, out, err := e.Sweep(mods, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Reference: each window alone, full forward, with the modification applied.
	ref := func(apply func() func()) []float64 {
		undo := apply()
		defer undo()
		var r []float64
		for _, w := range e.Windows {
			one := &Evaluator{M: m, Windows: [][]int64{w}, Batch: 1}
			torch.WithScope(func(s *torch.Scope) {
				torch.NoGrad(func() {
					b, err := model.Pack([][]int64{w}, model.Whole, torch.CPU)
					if err != nil {
						t.Fatal(err)
					}
					l, err := m.Loss(b, model.LossOptions{Reduction: model.LossSum})
					if err != nil {
						t.Fatal(err)
					}
					r = append(r, l.Item())
				})
			})
			_ = one
		}
		return r
	}
	check := func(name string, got, want []float64) {
		t.Helper()
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-4*(1+math.Abs(want[i])) {
				t.Fatalf("%s window %d: %v, full forward %v", name, i, got[i], want[i])
			}
		}
	}
	check("baseline", base, ref(func() func() { return func() {} }))
	for i, md := range mods {
		check(md.Name, out[i], ref(func() func() {
			undo, err := md.Apply(m)
			if err != nil {
				t.Fatal(err)
			}
			return undo
		}))
	}
	// Undo restored everything: the baseline is unchanged afterwards.
	again, err := e.NLL()
	if err != nil {
		t.Fatal(err)
	}
	check("baseline after sweep", again, base)
	// Zeroing all of a block's matrices makes it the identity, like skipping it.
	if math.Abs(Perplexity(out[2], e.Tokens())-Perplexity(func() []float64 {
		_, o, _ := e.Sweep([]Mod{ControlMod("skip 3", 3, func(c *model.LayerControl) { c.Skip = true })}, nil)
		return o[0]
	}(), e.Tokens())) > 1e-6 {
		t.Fatal("zeroed block differs from a skipped block")
	}
}
