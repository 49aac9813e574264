package analysis

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/model"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) != math.IsNaN(want) || (!math.IsNaN(got) && math.Abs(got-want) > tol) {
		t.Fatalf("%s: got %.12g, want %.12g (tol %g)", what, got, want, tol)
	}
}

// predModel is a random model with L layers of the tinyModel shapes.
func predModel(t *testing.T, L int, seed uint64) *model.Model {
	t.Helper()
	cfg := model.Config{VocabSize: 64, HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: L, NumAttentionHeads: 4,
		NumKeyValueHeads: 2, HeadDim: 8, MaxPositionEmbeddings: 64, RMSNormEps: 1e-5, RopeTheta: 1e4, TieWordEmbeddings: true, HiddenAct: "silu"}
	gen := torch.NewGenerator(seed, torch.CPU)
	defer gen.Close()
	m, err := model.New(cfg, gen)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// setLinearInDepth makes every studied weight W[l] = A + (l/L)·B (random A, B; norms around 1),
// so each interior layer is exactly the average of its neighbours.
func setLinearInDepth(t *testing.T, m *model.Model, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 3))
	L := m.Config.NumHiddenLayers
	for _, typ := range PredictTypes {
		suffix, _ := PredictTypeParam(typ)
		shape := m.Param(model.LayerPrefix(0) + suffix).Shape()
		n := 1
		for _, s := range shape {
			n *= int(s)
		}
		A, B := make([]float64, n), make([]float64, n)
		for j := range A {
			A[j], B[j] = 0.3*rng.NormFloat64(), 0.3*rng.NormFloat64()
			if strings.Contains(typ, "layernorm") {
				A[j] = 1 + 0.1*rng.NormFloat64()
				B[j] *= 0.3
			}
		}
		for l := 0; l < L; l++ {
			w := make([]float32, n)
			for j := range w {
				w[j] = float32(A[j] + float64(l)/float64(L)*B[j])
			}
			if err := m.SetParam(model.LayerPrefix(l)+suffix, torch.FromSlice(w, shape...)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestPredictabilityLinearLayers(t *testing.T) {
	m := predModel(t, 6, 1)
	defer m.Close()
	setLinearInDepth(t, m, 2)
	e := &Evaluator{M: m, Windows: windowsFor(8, 16, 5), Batch: 4}
	for _, method := range []string{MethodNeighbors, MethodDepth, MethodNeighborsElementwise} {
		res, err := Predictability(m, e, PredictabilityOptions{Permutations: 30, Seed: 1, MaxSubstitute: 4, SubstituteMethod: method, Elementwise: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, pt := range res.Types {
			// float32 storage of A + lB limits exactness to ~1e-7 relative
			near(t, pt.Type+" neighbour held-out R²", float64(pt.Neighbor.HeldOutPooled), 1, 1e-6)
			near(t, pt.Type+" neighbour in-sample R²", float64(pt.Neighbor.InSamplePooled), 1, 1e-6)
			near(t, pt.Type+" elementwise held-out R²", float64(pt.NeighborElementwise.HeldOutPooled), 1, 1e-6)
			near(t, pt.Type+" depth in-sample R²", float64(pt.Depth.InSamplePooled), 1, 1e-6)
			near(t, pt.Type+" depth held-out R²", float64(pt.Depth.HeldOutPooled), 1, 1e-6)
			for l := 1; l < 5; l++ {
				near(t, pt.Type+" neighbour held-out R² per layer", float64(pt.Neighbor.HeldOut[l]), 1, 1e-5)
				near(t, pt.Type+" a", float64(pt.NeighborCoef[l][0]), 0.5, 1e-4)
			}
			near(t, pt.Type+" delta corr (constant deltas)", float64(pt.Delta.Mean), 1, 1e-3)
			// Shuffling destroys the smooth order: the null is far below the observed 1.
			if float64(pt.Delta.Shuffled.Q975) > 0.9 || float64(pt.Delta.Shuffled.PGreater) > 0.05 {
				t.Fatalf("%s: shuffled null %+v should be far below 1", pt.Type, pt.Delta.Shuffled)
			}
		}
		s := res.Substitution
		if s == nil || len(s.Steps) != 4 {
			t.Fatalf("%s: substitution %+v", method, s)
		}
		if method != MethodDepth {
			// neighbour methods cannot predict an endpoint exactly: the predictable order puts
			// them last, so the first 4 substituted layers are the interior ones
			for _, l := range s.Layers {
				if l == 0 || l == 5 {
					t.Fatalf("%s: endpoint %d substituted among the first 4 (order %v)", method, l, s.Layers)
				}
			}
		}
		for _, st := range s.Steps {
			if math.Abs(float64(st.Change)) > 1e-4 {
				t.Fatalf("%s: substituting exactly predictable layers %v changed PPL by %v", method, st.Layers, st.Change)
			}
		}
		if _, err := json.Marshal(res); err != nil {
			t.Fatal(err)
		}
	}
	// The model is unchanged by the substitution sweep: predictions still match exactly.
	for l := 1; l < 5; l++ {
		p, err := PredictLayer(m, l, MethodNeighbors, 0)
		if err != nil {
			t.Fatal(err)
		}
		for suffix, v := range p {
			w := m.Param(model.LayerPrefix(l) + suffix)
			if got, want := v.Shape(), w.Shape(); len(got) != len(want) || v.DType() != w.DType() {
				t.Fatalf("%s: prediction shape %v dtype %v, param %v %v", suffix, got, v.DType(), want, w.DType())
			}
			d := v.Sub(w).Abs().Amax(false).Item()
			if d > 1e-5 {
				t.Fatalf("layer %d %s: prediction differs by %v", l, suffix, d)
			}
			v.Close()
		}
		if len(p) != len(PredictTypes) {
			t.Fatalf("PredictLayer returned %d tensors", len(p))
		}
	}
}

func TestPredictabilityIndependentLayers(t *testing.T) {
	m := predModel(t, 12, 3) // HF init: every matrix iid N(0, 0.02²), independent across layers
	defer m.Close()
	e := &Evaluator{M: m, Windows: windowsFor(4, 12, 5), Batch: 4}
	res, err := Predictability(m, e, PredictabilityOptions{Permutations: 50, Seed: 2, MaxSubstitute: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, pt := range res.Types {
		if strings.Contains(pt.Type, "layernorm") {
			// all ones: no variance, R² and correlations undefined (reported as null)
			if !math.IsNaN(float64(pt.Delta.Mean)) {
				t.Fatalf("%s: constant layers give delta corr %v", pt.Type, pt.Delta.Mean)
			}
			continue
		}
		near(t, pt.Type+" delta corr", float64(pt.Delta.Mean), -0.5, 0.05)
		near(t, pt.Type+" shuffled null mean", float64(pt.Delta.Shuffled.Mean), -0.5, 0.05)
		if r := float64(pt.Neighbor.HeldOutPooled); math.Abs(r) > 0.05 {
			t.Fatalf("%s: neighbour held-out R² %v for independent layers", pt.Type, r)
		}
		if r := float64(pt.Depth.HeldOutPooled); r > 0.05 {
			t.Fatalf("%s: depth held-out R² %v for independent layers", pt.Type, r)
		}
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back PredictabilityResult
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(float64(back.Types[0].Neighbor.HeldOut[0])) {
		t.Fatal("endpoint neighbour R² should round-trip as NaN")
	}
}

// TestPredictabilityTiming logs the cost on a synthetic 30-layer model with SmolLM2-135M's
// shapes (no assertion). It allocates ~1.5 GB, so it runs only with GROWTHTRAIN_BENCH=1.
func TestPredictabilityTiming(t *testing.T) {
	if os.Getenv("GROWTHTRAIN_BENCH") == "" {
		t.Skip("set GROWTHTRAIN_BENCH=1 to time Predictability on SmolLM2-135M shapes")
	}
	gen := torch.NewGenerator(1, torch.CPU)
	defer gen.Close()
	m, err := model.New(model.SmolLM2_135M(), gen)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	start := time.Now()
	res, err := Predictability(m, nil, PredictabilityOptions{SkipSubstitution: true, Elementwise: os.Getenv("GROWTHTRAIN_BENCH") == "ew"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Predictability, 30 layers, SmolLM2-135M shapes, 9 types, 200 permutations: %.1fs total; phases %v",
		time.Since(start).Seconds(), res.Seconds)
	start = time.Now()
	p, err := PredictLayer(m, 15, MethodNeighbors, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("PredictLayer(neighbors): %.2fs", time.Since(start).Seconds())
	for _, v := range p {
		v.Close()
	}
	start = time.Now()
	p, err = PredictLayer(m, 15, MethodDepth, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("PredictLayer(depth): %.2fs", time.Since(start).Seconds())
	for _, v := range p {
		v.Close()
	}
}
