package analysis

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestDeriveBudget(t *testing.T) {
	// 8 layers: a critical core (2-3), ordinary layers, one anti-layer (6).
	imp := []float64{0.3, 0.5, 600, 50, 0.4, 0.2, -0.01, 0.1}
	anti := []bool{false, false, false, false, false, false, true, false}
	d, err := DeriveBudget(imp, anti, nil, BudgetOptions{Cost: 0.46, Steps: 1000})
	if err != nil {
		t.Fatal(err)
	}
	steps := make([]int, 8)
	total := 0
	for _, l := range d.Layers {
		steps[l.Layer] = l.Steps
		total += l.Steps
	}
	if steps[6] != 0 {
		t.Fatalf("anti-layer trained %d steps", steps[6])
	}
	if steps[2] != d.TotalSteps || steps[2] < steps[3] || steps[3] < steps[1] {
		t.Fatalf("steps do not follow importance: %v", steps)
	}
	if math.Abs(d.CostRatio-0.46) > 0.03 {
		t.Fatalf("cost ratio %.3f, asked 0.46 (steps %v)", d.CostRatio, steps)
	}
	if len(d.Phases) > 6 {
		t.Fatalf("%d phases, at most 6", len(d.Phases))
	}
	for _, p := range d.Phases {
		if p.Steps < 10 { // 1% of the 1000-step run
			t.Fatalf("phase %s of %d steps: levels closer than 1%% of the run should merge", p.Name, p.Steps)
		}
	}
	// Phases nest and grow: each trains a superset of the previous one's layers, and every
	// layer ends up with exactly its steps.
	got := make([]int, 8)
	for i, p := range d.Phases {
		if i > 0 && !isSubset(d.Phases[i-1].Layers, p.Layers) {
			t.Fatalf("phase %d does not contain phase %d's layers", i+1, i)
		}
		for _, l := range p.Layers {
			got[l] += p.Steps
		}
	}
	if !slices.Equal(got, steps) {
		t.Fatalf("phases give %v, layers want %v", got, steps)
	}
	// The rendered phases carry their rule (trainer's tests check that the trainer accepts them).
	if src := d.TOML(true); !strings.Contains(src, "# per-layer steps:") {
		t.Fatal("rule comment missing")
	}
	// Slow recovery raises a layer's share.
	rec := []float64{0, 0, 0, 0, 0, 200, 0, 0}
	d2, err := DeriveBudget(imp, anti, rec, BudgetOptions{Cost: 0.46, Steps: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if d2.Layers[5].Score <= d.Layers[5].Score {
		t.Fatal("recovery did not raise the slow layer's score")
	}
}

func TestDeriveBudgetErrors(t *testing.T) {
	cases := []struct {
		imp  []float64
		anti []bool
		opts BudgetOptions
		want string
	}{
		{nil, nil, BudgetOptions{Cost: 0.5, Steps: 10}, "no layers"},
		{[]float64{1, 2}, nil, BudgetOptions{Cost: 0, Steps: 10}, "cost 0"},
		{[]float64{1, 2}, nil, BudgetOptions{Cost: 0.5, Steps: 0}, "steps 0"},
		{[]float64{1, 2}, []bool{true}, BudgetOptions{Cost: 0.5, Steps: 10}, "differ in length"},
		{[]float64{-1, -2}, nil, BudgetOptions{Cost: 0.5, Steps: 10}, "no layer has a positive importance"},
		{[]float64{1, 2, 3, 4}, []bool{true, true, true, false}, BudgetOptions{Cost: 0.5, Steps: 10}, "anti-layers never train"},
	}
	for _, tc := range cases {
		if _, err := DeriveBudget(tc.imp, tc.anti, nil, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.imp, err, tc.want)
		}
	}
}

func isSubset(a, b []int) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func TestMapDepth(t *testing.T) {
	imp := []float64{0.001, 0.1, 1000, 10, 0.01, -0.006}
	anti := []bool{false, false, false, false, false, true}
	rec := []float64{0, 10, 200, 100, 50, 0}
	// The same depth maps onto itself.
	same, sameAnti, sameRec, err := MapDepth(imp, anti, rec, 6)
	if err != nil {
		t.Fatal(err)
	}
	for i := range imp {
		if math.Abs(same[i]-imp[i]) > 1e-9*math.Max(1, math.Abs(imp[i])) || sameAnti[i] != anti[i] || math.Abs(sameRec[i]-rec[i]) > 1e-9 {
			t.Fatalf("layer %d: %v %v %v, want %v %v %v", i, same[i], sameAnti[i], sameRec[i], imp[i], anti[i], rec[i])
		}
	}
	// Half the depth: new layer j reads old position 2j + 0.5, halfway between layers 2j and
	// 2j+1, in symlog space for importance (so 0.1 and 1000 meet near their geometric middle).
	half, halfAnti, halfRec, err := MapDepth(imp, anti, rec, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !(half[0] > 0.001 && half[0] < 0.1) || !(half[1] > 10 && half[1] < 1000) || half[1] > 200 || halfRec[1] != 150 {
		t.Fatalf("half depth: importance %v, recovery %v", half, halfRec)
	}
	if !halfAnti[2] { // position 4.5 rounds to 5 (half away from zero): old layer 5's flag
		t.Fatalf("the deepest new layer should take the anti flag of old layer 5: %v", halfAnti)
	}
	// The ordering of importance survives: the critical layer stays the most important.
	deep, _, _, _ := MapDepth(imp, anti, nil, 12)
	best := 0
	for j := range deep {
		if deep[j] > deep[best] {
			best = j
		}
	}
	if best < 3 || best > 5 {
		t.Fatalf("the most important of 12 mapped layers is %d: %v", best, deep)
	}
	if _, _, _, err := MapDepth(imp, anti[:2], nil, 4); err == nil {
		t.Fatal("mismatched lengths accepted")
	}
}
