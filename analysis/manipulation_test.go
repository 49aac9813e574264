package analysis

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/analysis/stats"
	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/model"
	"gonum.org/v1/gonum/mat"
)

func resultOf(t *testing.T, r *ManipulationResult, strategy string, alpha float64) ManipulationOutcome {
	t.Helper()
	for _, x := range r.Results {
		if x.Strategy == strategy && (x.Alpha == nil || *x.Alpha == alpha) {
			return x
		}
	}
	t.Fatalf("no result for %s %g", strategy, alpha)
	return ManipulationOutcome{}
}

// ownWeights is a predictor that predicts each layer perfectly.
func ownWeights(m *model.Model, l int) (map[string]*torch.Tensor, error) {
	out := map[string]*torch.Tensor{}
	for _, n := range layerSuffixes(m, l) {
		out[n] = m.Param(model.LayerPrefix(l) + n).Detach().MulScalar(1)
	}
	return out, nil
}

func TestManipulationKnownAnswers(t *testing.T) {
	m := tinyModel(t, 31)
	defer m.Close()
	setLayer(t, m, 2, 1, 1) // layer 2 is a copy of layer 1: copying l-1 onto it changes nothing
	e := &Evaluator{M: m, Windows: windowsFor(8, 13, 2), Batch: 3}
	if _, err := e.NLL(); err != nil { // builds the model's RoPE cache, which stays
		t.Fatal(err)
	}
	live := torch.LiveTensors()
	r, err := Manipulation(e, []int{2}, ManipulationOptions{Alphas: []float64{0.5, 0.9, 1.0}, Rank: 1 << 20,
		Predict: ownWeights, Bootstrap: 200, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	if now := torch.LiveTensors(); now > live {
		t.Fatalf("Manipulation leaked %d tensors", now-live)
	}
	for _, x := range r.Results {
		checkCI(t, x.Strategy+" "+x.Detail, float64(x.CILo), float64(x.Change), float64(x.CIHi))
		t.Logf("%-17s %-60.60s change %+.6f", x.Strategy, x.Detail, float64(x.Change))
		if want := stats.PerplexityChange(r.BaseNLL, x.NLL, e.Tokens()); float64(x.Change) != want {
			t.Fatalf("%s: change %v, want %v", x.Strategy, x.Change, want)
		}
	}
	if n := len(r.Results); n != 3+5 {
		t.Fatalf("%d results", n)
	}
	zero := map[string]float64{ManipCopy: 0, ManipPredicted: 0, ManipLowRank: 1e-5}
	for s, tol := range zero {
		if c := float64(resultOf(t, r, s, 0).Change); math.Abs(c) > tol {
			t.Fatalf("%s: change %g, want 0", s, c)
		}
	}
	if c := resultOf(t, r, ManipScale, 1).Change; c != 0 {
		t.Fatalf("scale 1: change %v", c)
	}
	for _, s := range []string{ManipNeighbourAverage, ManipRandom} {
		if c := float64(resultOf(t, r, s, 0).Change); math.Abs(c) < 1e-4 {
			t.Fatalf("%s: change %g, expected an effect", s, c)
		}
	}
	if c := float64(resultOf(t, r, ManipScale, 0.5).Change); math.Abs(c) < 1e-4 {
		t.Fatalf("scale 0.5: change %g, expected an effect", c)
	}
	if !resultOf(t, r, ManipScale, 0.9).Paper || resultOf(t, r, ManipScale, 1).Paper {
		t.Fatal("alpha 0.9 must be marked as the paper's setting, and only it")
	}
	if d := resultOf(t, r, ManipLowRank, 0).Detail; !strings.Contains(d, "q 32/32") || !strings.Contains(d, "k 16/16") {
		t.Fatalf("low-rank detail %q", d)
	}
	// JSON (the table and plots are package report's, tested there).
	if js, err := json.Marshal(r); err != nil || !strings.Contains(string(js), `"alpha":0.9`) {
		t.Fatalf("JSON %s %v", js, err)
	}
	// The model is unchanged afterwards.
	again, err := e.NLL()
	if err != nil || !slices.Equal(again, r.BaseNLL) {
		t.Fatalf("Manipulation left the model changed (%v)", err)
	}
}

// TestManipulationUsesOriginals checks that strategies reading other layers of the set see
// their original weights, by comparing with a model changed by hand.
func TestManipulationUsesOriginals(t *testing.T) {
	m := tinyModel(t, 32)
	defer m.Close()
	e := &Evaluator{M: m, Windows: windowsFor(5, 11, 9), Batch: 4}
	r, err := Manipulation(e, []int{2, 1}, ManipulationOptions{Strategies: []string{ManipCopy, ManipNeighbourAverage}, Bootstrap: 20})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Layers, []int{1, 2}) {
		t.Fatalf("layers %v", r.Layers)
	}
	orig := map[int]LayerWeights{}
	for l := 0; l < 4; l++ {
		w, err := SaveLayer(m, l)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		orig[l] = w
	}
	byHand := func(set func()) []float64 {
		set()
		nll, err := e.NLL()
		if err != nil {
			t.Fatal(err)
		}
		for l, w := range orig {
			if err := RestoreLayer(m, l, w); err != nil {
				t.Fatal(err)
			}
		}
		return nll
	}
	copyWant := byHand(func() {
		_ = RestoreLayer(m, 1, orig[0])
		_ = RestoreLayer(m, 2, orig[1])
	})
	avgWant := byHand(func() {
		err := torch.Try(func() {
			torch.WithScope(func(s *torch.Scope) {
				for _, l := range []int{1, 2} {
					for n, a := range orig[l-1] {
						_ = m.SetParam(model.LayerPrefix(l)+n, a.Add(orig[l+1][n]).DivScalar(2))
					}
				}
			})
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	for _, c := range []struct {
		s    string
		want []float64
	}{{ManipCopy, copyWant}, {ManipNeighbourAverage, avgWant}} {
		got := resultOf(t, r, c.s, 0).NLL
		for i := range got {
			if math.Abs(got[i]-c.want[i]) > 1e-4*(1+math.Abs(c.want[i])) {
				t.Fatalf("%s window %d: %v, by hand %v", c.s, i, got[i], c.want[i])
			}
		}
	}
	if len(r.Results) != 2 {
		t.Fatalf("results %v", r.Results)
	}
}

func TestManipulationRandomAndPredictor(t *testing.T) {
	m := tinyModel(t, 33)
	defer m.Close()
	e := &Evaluator{M: m, Windows: windowsFor(4, 10, 1), Batch: 4}
	run := func(seed uint64) []float64 {
		r, err := Manipulation(e, []int{0}, ManipulationOptions{Strategies: []string{ManipRandom, ManipPredicted}, Seed: seed, Bootstrap: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Results) != 1 || !strings.Contains(strings.Join(r.Notes, " "), "predicted: skipped") {
			t.Fatalf("nil predictor: results %v, notes %v", r.Results, r.Notes)
		}
		return r.Results[0].NLL
	}
	a, b, c := run(5), run(5), run(6)
	if !slices.Equal(a, b) || slices.Equal(a, c) {
		t.Fatal("random re-initialisation is not determined by its seed")
	}
	// The noise has each matrix's own standard deviation.
	err := torch.Try(func() {
		torch.WithScope(func(s *torch.Scope) {
			vals, err := randomValues(m, []int{1}, 9)
			if err != nil {
				t.Fatal(err)
			}
			if len(vals[1]) != 7 {
				t.Fatalf("%d matrices re-initialised", len(vals[1]))
			}
			for n, v := range vals[1] {
				want := m.Param(model.LayerPrefix(1) + n).Std(false).Item()
				if got := v.Std(false).Item(); math.Abs(got/want-1) > 0.15 {
					t.Fatalf("%s: std %g, matrix std %g", n, got, want)
				}
			}
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	bad := func(m *model.Model, l int) (map[string]*torch.Tensor, error) {
		return map[string]*torch.Tensor{"mlp.nope.weight": torch.Zeros([]int64{1})}, nil
	}
	if _, err := Manipulation(e, []int{1}, ManipulationOptions{Strategies: []string{ManipPredicted}, Predict: bad}); err == nil {
		t.Fatal("predictor output with an unknown name accepted")
	}
	if _, err := Manipulation(e, []int{4}, ManipulationOptions{}); err == nil {
		t.Fatal("layer out of range accepted")
	}
	if _, err := Manipulation(e, []int{1}, ManipulationOptions{Strategies: []string{"melt"}}); err == nil {
		t.Fatal("unknown strategy accepted")
	}
}

func TestTruncateSVD(t *testing.T) {
	// A 4×3 matrix with singular values 5, 2, 0.5 (orthonormal factors from a rotation).
	u := mat.NewDense(4, 3, []float64{0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0.5, 0.5, -0.5, 0.5, -0.5, -0.5})
	v := mat.NewDense(3, 3, []float64{1, 0, 0, 0, 0.6, 0.8, 0, -0.8, 0.6})
	s := mat.NewDiagDense(3, []float64{5, 2, 0.5})
	var a mat.Dense
	a.Product(u, s, v.T())
	data := mat.DenseCopyOf(&a).RawMatrix().Data
	for k, wantErr := range map[int]float64{3: 0, 2: 0.5, 1: math.Hypot(2, 0.5)} {
		got, err := truncateSVD(slices.Clone(data), 4, 3, k)
		if err != nil {
			t.Fatal(err)
		}
		var d mat.Dense
		d.Sub(mat.NewDense(4, 3, got), &a)
		if e := mat.Norm(&d, 2); math.Abs(e-wantErr) > 1e-12 {
			t.Fatalf("rank %d: Frobenius error %g, want %g", k, e, wantErr)
		}
	}
	if truncationRank(1536, 576, 0, 0.25) != 144 || truncationRank(10, 3, 0, 0.01) != 1 || truncationRank(10, 3, 7, 0.25) != 3 {
		t.Fatal("truncationRank")
	}
	if matrixType("self_attn.q_proj.weight") != "q" || matrixType("mlp.down_proj.weight") != "down" {
		t.Fatal("matrixType")
	}
}

func TestDefaultManipulationLayers(t *testing.T) {
	change := []float64{5, 0.2, -0.01, 3, 0.001, math.NaN(), 0.5}
	v := AblationVariant{Name: AblateNeighbourAverage}
	for l, c := range change {
		v.Layers = append(v.Layers, AblationLayer{Layer: l, Change: JSONFloat(c)})
	}
	a := &AblationResult{Variants: []AblationVariant{v}}
	if got := DefaultManipulationLayers(a, AblateNeighbourAverage); !slices.Equal(got, []int{1, 2, 4}) {
		t.Fatalf("least important third %v, want [1 2 4]", got)
	}
	if DefaultManipulationLayers(a, AblateSkip) != nil {
		t.Fatal("missing variant")
	}
}
