package analysis

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/model"
)

// setLayer copies every parameter of layer src into layer dst, multiplying the weight matrices
// (not the norm gains) by scale.
func setLayer(t *testing.T, m *model.Model, dst, src int, scale float64) {
	t.Helper()
	err := torch.Try(func() {
		torch.WithScope(func(s *torch.Scope) {
			for _, n := range layerSuffixes(m, src) {
				v := m.Param(model.LayerPrefix(src) + n).Detach()
				if !isNormParam(n) {
					v = v.MulScalar(scale)
				}
				if err := m.SetParam(model.LayerPrefix(dst)+n, v); err != nil {
					t.Fatal(err)
				}
			}
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// zeroParams zeroes the named parameters of layer l.
func zeroParams(t *testing.T, m *model.Model, l int, suffixes ...string) {
	t.Helper()
	err := torch.Try(func() {
		torch.WithScope(func(s *torch.Scope) {
			for _, n := range suffixes {
				p := m.Param(model.LayerPrefix(l) + n)
				if err := m.SetParam(model.LayerPrefix(l)+n, p.ZerosLike()); err != nil {
					t.Fatal(err)
				}
			}
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkCIs fails unless every interval is ordered and contains its point estimate.
func checkCI(t *testing.T, name string, lo, point, hi float64) {
	t.Helper()
	tol := 1e-9 * (1 + math.Abs(point))
	if !(lo <= point+tol && point <= hi+tol) {
		t.Fatalf("%s: interval [%g, %g] does not contain the estimate %g", name, lo, hi, point)
	}
}

func TestAblationIdentityLayer(t *testing.T) {
	m := tinyModel(t, 11)
	defer m.Close()
	// Layer 2 is an exact identity: both branches end in a zero matrix.
	zeroParams(t, m, 2, "self_attn.o_proj.weight", "mlp.down_proj.weight")
	e := &Evaluator{M: m, Windows: windowsFor(9, 14, 5), Batch: 4}
	a, err := Ablation(e, AblationOptions{Bootstrap: 200, Seed: 3, CriticalChange: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Variants) != len(AblationVariants) {
		t.Fatalf("%d variants, want %d", len(a.Variants), len(AblationVariants))
	}
	if want := Perplexity(a.BaseNLL, e.Tokens()); float64(a.BaselinePPL) != want {
		t.Fatalf("baseline PPL %v, want %v", a.BaselinePPL, want)
	}
	for _, v := range a.Variants {
		imp := v.importance(4)
		for _, la := range v.Layers {
			name := v.Name + " layer " + string(rune('0'+la.Layer))
			checkCI(t, name, float64(la.CILo), float64(la.Change), float64(la.CIHi))
			crit, anti := FlagLayer(float64(la.CILo), float64(la.CIHi), 0.05)
			if crit != la.Critical || anti != la.Anti {
				t.Fatalf("%s: flags critical=%v anti=%v, rule gives %v %v", name, la.Critical, la.Anti, crit, anti)
			}
			if got := math.Exp(math.Log1p(float64(la.Change))) * float64(a.BaselinePPL); math.Abs(got-float64(la.PPL)) > 1e-6*got {
				t.Fatalf("%s: PPL %v inconsistent with change %v", name, la.PPL, la.Change)
			}
		}
		// Removing the identity layer (or either of its branches, or zeroing it) changes nothing.
		if v.Name != AblateNeighbourAverage {
			if c := imp[2]; math.Abs(c) > 1e-6 {
				t.Fatalf("%s of the identity layer: change %g", v.Name, c)
			}
		}
		if got := a.Importance(v.Name); !slices.Equal(got, imp) {
			t.Fatalf("Importance(%s) = %v, want %v", v.Name, got, imp)
		}
		// The ranking is by decreasing change.
		for i := 1; i < len(v.Ranking); i++ {
			if imp[v.Ranking[i-1]] < imp[v.Ranking[i]] {
				t.Fatalf("%s ranking %v not by decreasing change %v", v.Name, v.Ranking, imp)
			}
		}
		t.Logf("%-17s change %v ranking %v critical %v anti %v", v.Name, imp, v.Ranking, v.Critical, v.Anti)
	}
	// Other layers matter in this random model, and skip equals zero exactly.
	skip, zero := a.Importance(AblateSkip), a.Importance(AblateZero)
	for l := range skip {
		if l != 2 && math.Abs(skip[l]) < 1e-3 {
			t.Fatalf("skipping layer %d changes PPL by only %g", l, skip[l])
		}
		if math.Abs(skip[l]-zero[l]) > 1e-6*(1+math.Abs(skip[l])) {
			t.Fatalf("layer %d: skip %g, zero %g", l, skip[l], zero[l])
		}
	}
	// JSON (the tables and plots are package report's, tested there).
	js, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var back AblationResult
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.Importance(AblateSkip), skip) || !strings.Contains(string(js), `"ci_lo"`) {
		t.Fatal("JSON round trip lost the results")
	}
	// The model is unchanged afterwards.
	again, err := e.NLL()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again, a.BaseNLL) {
		t.Fatal("Ablation left the model changed")
	}
}

// importance is Importance for one variant, over L layers.
func (v *AblationVariant) importance(L int) []float64 {
	out := nanSlice(L)
	for _, la := range v.Layers {
		out[la.Layer] = float64(la.Change)
	}
	return out
}

func TestAblationNeighbourAverage(t *testing.T) {
	m := tinyModel(t, 12)
	defer m.Close()
	// Layers 0, 1 and 2 are equal, so the neighbour average of layers 0 (one neighbour, 1)
	// and 1 (mean of 0 and 2) is the layer itself; layer 3's neighbour (2) is different.
	setLayer(t, m, 0, 1, 1)
	setLayer(t, m, 2, 1, 1)
	e := &Evaluator{M: m, Windows: windowsFor(6, 12, 8), Batch: 4}
	a, err := Ablation(e, AblationOptions{Variants: []string{AblateNeighbourAverage}, Bootstrap: 100})
	if err != nil {
		t.Fatal(err)
	}
	imp := a.Importance(AblateNeighbourAverage)
	if math.Abs(imp[0]) > 1e-6 || math.Abs(imp[1]) > 1e-6 || math.Abs(imp[3]) < 1e-3 {
		t.Fatalf("neighbour-average changes %v: want 0 for layers 0 and 1, non-zero for 3", imp)
	}
	if !strings.Contains(strings.Join(a.Notes, " "), "one neighbour") {
		t.Fatalf("notes do not explain the end layers: %v", a.Notes)
	}
	// A layer between two different layers: the average of a layer scaled by 1 and by 3 is the
	// layer scaled by 2.
	m2 := tinyModel(t, 13)
	defer m2.Close()
	setLayer(t, m2, 1, 3, 1)
	setLayer(t, m2, 2, 3, 2)
	setLayer(t, m2, 3, 3, 3)
	e2 := &Evaluator{M: m2, Windows: e.Windows, Batch: 4}
	a2, err := Ablation(e2, AblationOptions{Variants: []string{AblateNeighbourAverage}, Layers: []int{2}, Bootstrap: 50})
	if err != nil {
		t.Fatal(err)
	}
	if c := a2.Importance(AblateNeighbourAverage)[2]; math.Abs(c) > 1e-5 {
		t.Fatalf("average of the ×1 and ×3 neighbours differs from the ×2 layer: change %g", c)
	}
	if len(a2.Variants[0].Layers) != 1 {
		t.Fatalf("ablated %d layers, asked for 1", len(a2.Variants[0].Layers))
	}
}

// antiModel is a model whose layers are identities except layer 2, which adds a large
// random update, on windows that repeat one token: with tied, large embeddings the identity
// model predicts "the same token again" confidently, and layer 2 only hurts.
func antiModel(t *testing.T) (*model.Model, [][]int64) {
	t.Helper()
	m := tinyModel(t, 21)
	for _, l := range []int{0, 1, 3} {
		zeroParams(t, m, l, "self_attn.o_proj.weight", "mlp.down_proj.weight")
	}
	err := torch.Try(func() {
		torch.NoGrad(func() { m.Param("model.embed_tokens.weight").MulScalarInPlace(50) })
	})
	if err != nil {
		t.Fatal(err)
	}
	var wins [][]int64
	for i := 0; i < 12; i++ {
		w := make([]int64, 10+i%3)
		for j := range w {
			w[j] = int64(i*5 + 1)
		}
		wins = append(wins, w)
	}
	return m, wins
}

func TestAblationFlagsAntiLayer(t *testing.T) {
	m, wins := antiModel(t)
	defer m.Close()
	e := &Evaluator{M: m, Windows: wins, Batch: 5}
	a, err := Ablation(e, AblationOptions{Variants: []string{AblateSkip, AblateSkipMLP}, Bootstrap: 300, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	v := a.Variant(AblateSkip)
	t.Logf("baseline PPL %v; skip changes %v; anti %v", a.BaselinePPL, a.Importance(AblateSkip), v.Anti)
	if !slices.Equal(v.Anti, []int{2}) {
		t.Fatalf("anti-layers %v, want [2]", v.Anti)
	}
	la := v.Layers[2]
	if !(float64(la.CIHi) < 0) || !la.Anti || la.Critical || la.Rank != 4 || v.Ranking[3] != 2 {
		t.Fatalf("layer 2: %+v, ranking %v", la, v.Ranking)
	}
	if a.Variant("nope") != nil || !math.IsNaN(a.Importance("nope")[0]) {
		t.Fatal("unknown variant")
	}
}

func TestFlagRuleAndRanking(t *testing.T) {
	cases := []struct {
		lo, hi, thr float64
		crit, anti  bool
	}{
		{-0.02, -0.001, 1, false, true}, // interval below 0: anti
		{-0.02, 0.001, 1, false, false}, // point may be below 0, interval straddles 0: no flag
		{1.2, 5, 1, true, false},        // PPL more than doubles throughout the interval
		{0.9, 5, 1, false, false},       // lower bound below the threshold
		{0.9, 5, 0.5, true, false},      // ... but above a lower threshold
		{math.NaN(), math.NaN(), 1, false, false},
	}
	for _, c := range cases {
		crit, anti := FlagLayer(c.lo, c.hi, c.thr)
		if crit != c.crit || anti != c.anti {
			t.Fatalf("FlagLayer(%v, %v, %v) = %v %v, want %v %v", c.lo, c.hi, c.thr, crit, anti, c.crit, c.anti)
		}
	}
	got := RankByImportance([]float64{0.1, math.NaN(), -0.2, 5, 0.1})
	if want := []int{1, 3, 0, 4, 2}; !slices.Equal(got, want) {
		t.Fatalf("ranking %v, want %v", got, want)
	}
	o, err := AblationOptions{}.withDefaults(3)
	if err != nil || o.CriticalChange != 1 || o.Bootstrap != 1000 || o.Level != 0.95 || len(o.Layers) != 3 || len(o.Variants) != 5 {
		t.Fatalf("defaults %+v %v", o, err)
	}
	if o, _ := (AblationOptions{CriticalChange: -1}).withDefaults(3); o.CriticalChange != 0 {
		t.Fatal("negative CriticalChange should mean 0")
	}
	if _, err := (AblationOptions{Variants: []string{"drop"}}).withDefaults(3); err == nil {
		t.Fatal("unknown variant accepted")
	}
	if _, err := (AblationOptions{Layers: []int{3}}).withDefaults(3); err == nil {
		t.Fatal("layer out of range accepted")
	}
	js, err := json.Marshal(struct{ A, B JSONFloat }{JSONFloat(math.Inf(1)), 1.5})
	if err != nil || string(js) != `{"A":null,"B":1.5}` {
		t.Fatalf("JSONFloat: %s %v", js, err)
	}
}
