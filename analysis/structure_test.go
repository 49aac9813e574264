package analysis

import (
	"encoding/json"
	"math"
	"testing"
)

func TestStructureKnownAnswers(t *testing.T) {
	m := tinyModel(t, 41)
	defer m.Close()
	setLayer(t, m, 3, 1, 2.5)                                                 // layer 3 = 2.5 × layer 1 (matrices)
	zeroParams(t, m, 2, "self_attn.o_proj.weight", "mlp.down_proj.weight")    // layer 2 is the identity
	zeroParams(t, m, 0, "self_attn.q_proj.weight", "self_attn.k_proj.weight") // layer 0 attends uniformly
	e := &Evaluator{M: m, Windows: windowsFor(7, 12, 4), Batch: 3}
	res, err := Structure(e, StructureOptions{SpectrumTopK: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range append(MatrixTypes, CosineAll) {
		c := res.Cosine[typ]
		if math.Abs(float64(c[1][3])-1) > 1e-9 || c[1][3] != c[3][1] {
			t.Fatalf("%s: cosine of layer 1 and its scaled copy %v / %v, want 1", typ, c[1][3], c[3][1])
		}
		if typ != "q" && typ != "k" && typ != "o" && typ != "down" && math.Abs(float64(c[0][0])-1) > 1e-12 {
			t.Fatalf("%s: diagonal %v", typ, c[0][0])
		}
		if typ == CosineAll {
			continue
		}
		for _, metric := range []string{MetricSpectral, MetricFrobenius} {
			v := res.Metric(typ, metric)
			if math.Abs(v[3]/v[1]-2.5) > 1e-6 {
				t.Fatalf("%s %s ratio %v, want 2.5", typ, metric, v[3]/v[1])
			}
		}
		for _, metric := range []string{MetricStableRank, MetricEffectiveRank} {
			v := res.Metric(typ, metric)
			if math.Abs(v[3]-v[1]) > 1e-6*v[1] || v[1] < 1 {
				t.Fatalf("%s %s not scale invariant: %v", typ, metric, v)
			}
		}
		sp := res.Matrices[1].Matrices[slicesIndex(MatrixTypes, typ)].Spectrum
		if len(sp) != 5 || sp[0] != 1 || sp[4] > sp[0] {
			t.Fatalf("%s spectrum %v", typ, sp)
		}
	}
	// A zeroed matrix has no direction: its cosines are undefined, and JSON still encodes.
	if !math.IsNaN(float64(res.Cosine["o"][2][1])) {
		t.Fatalf("cosine of a zero matrix %v", res.Cosine["o"][2][1])
	}
	// The identity layer does not move the residual stream.
	h := res.Hidden[2]
	if math.Abs(float64(h.BlockInfluence)) > 1e-12 || float64(h.AngularDistance) > 1e-6 || float64(h.RelativeUpdate) != 0 {
		t.Fatalf("identity layer: %+v", h)
	}
	for _, l := range []int{0, 1, 3} {
		if bi := float64(res.Hidden[l].BlockInfluence); bi < 1e-3 || bi > 2 {
			t.Fatalf("layer %d: BI %v", l, bi)
		}
	}
	// Uniform attention over the past: entropy log(t+1) at position t, normalised 1.
	var want, n float64
	for _, w := range e.Windows {
		for tpos := range w {
			want += math.Log(float64(tpos + 1))
			n++
		}
	}
	want /= n
	if res.Tokens != int(n) || res.Windows != len(e.Windows) {
		t.Fatalf("tokens %d windows %d", res.Tokens, res.Windows)
	}
	for hd := 0; hd < res.Entropy.Heads; hd++ {
		if got := float64(res.Entropy.Mean[0][hd]); math.Abs(got-want) > 1e-5 {
			t.Fatalf("uniform head %d: entropy %v, want %v", hd, got, want)
		}
		if got := float64(res.Entropy.Normalised[0][hd]); math.Abs(got-1) > 1e-5 {
			t.Fatalf("uniform head %d: normalised entropy %v", hd, got)
		}
		for l := 1; l < 4; l++ {
			if v := float64(res.Entropy.Normalised[l][hd]); !(v >= 0 && v <= 1+1e-6) {
				t.Fatalf("layer %d head %d: normalised entropy %v", l, hd, v)
			}
		}
	}
	if float64(res.Entropy.Normalised[1][0]) > 0.99 {
		t.Fatalf("a scaled random layer should not attend uniformly: %v", res.Entropy.Normalised[1])
	}
	// Padding does not leak in: the same measures window by window.
	one, err := Structure(&Evaluator{M: m, Windows: e.Windows, Batch: 1}, StructureOptions{SpectrumTopK: 5})
	if err != nil {
		t.Fatal(err)
	}
	for l := range res.Hidden {
		a, b := res.Hidden[l], one.Hidden[l]
		if math.Abs(float64(a.BlockInfluence-b.BlockInfluence)) > 1e-6 || math.Abs(float64(a.AngularDistance-b.AngularDistance)) > 1e-6 ||
			math.Abs(float64(a.RelativeUpdate-b.RelativeUpdate)) > 1e-5 {
			t.Fatalf("layer %d: batched %+v, window by window %+v", l, a, b)
		}
		for hd := range res.Entropy.Mean[l] {
			if math.Abs(float64(res.Entropy.Mean[l][hd]-one.Entropy.Mean[l][hd])) > 1e-5 {
				t.Fatalf("layer %d head %d: entropy batched %v, alone %v", l, hd, res.Entropy.Mean[l][hd], one.Entropy.Mean[l][hd])
			}
		}
	}
	// JSON (the tables and plots are package report's, tested there).
	js, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back StructureResult
	if err := json.Unmarshal(js, &back); err != nil || len(back.Hidden) != 4 || !math.IsNaN(float64(back.Cosine["o"][2][1])) {
		t.Fatalf("JSON round trip: %v", err)
	}
	// Weights only.
	w, err := Structure(e, StructureOptions{SkipHidden: true})
	if err != nil || w.Hidden != nil || w.Entropy != nil || len(w.Matrices[0].Matrices[0].Spectrum) != 32 {
		t.Fatalf("weights-only structure: %v", err)
	}
}

func slicesIndex(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
