package trainer

import (
	"io"
	"math"
	"path/filepath"
	"testing"
)

// The matching arithmetic: uniform steps for an equal cost, and a budget scaled to a cost.
func TestUniformStepsArithmetic(t *testing.T) {
	for _, tc := range []struct {
		name          string
		cost, perStep float64
		want          int
	}{
		{"equal FLOPs", 3.0e12, 1.2e10, 250}, // budget FLOPs over uniform FLOPs per step
		{"layer-steps", 1500, 8, 188},        // 1500 layer-steps of 8 layers: 187.5 rounds up
		{"wall", 35.5, 0.112, 317},
		{"steps", 330, 1, 330},
		{"never below one step", 1, 1e9, 1},
		{"degenerate per-step cost", 100, 0, 1},
	} {
		if got := UniformSteps(tc.cost, tc.perStep); got != tc.want {
			t.Errorf("%s: UniformSteps(%g, %g) = %d, want %d", tc.name, tc.cost, tc.perStep, got, tc.want)
		}
	}
}

func TestScaledBudget(t *testing.T) {
	b, err := ParseBudget([]byte(`
[model]
num_hidden_layers = 4
[optim]
warmup = 10
[[phase]]
layers = "1-2"
steps = 30
[[phase]]
layers = "all"
steps = 70
`), "b.toml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := b.Scaled(1.5)
	if err != nil {
		t.Fatal(err)
	}
	if s.Phases[0].Steps != 45 || s.Phases[1].Steps != 105 || s.Optim.Warmup != 15 || b.Phases[0].Steps != 30 {
		t.Fatalf("scaled: %d, %d steps, warm-up %d (original %d)", s.Phases[0].Steps, s.Phases[1].Steps, s.Optim.Warmup, b.Phases[0].Steps)
	}
	tiny, err := b.Scaled(0.001)
	if err != nil || tiny.Phases[0].Steps != 1 || tiny.Phases[1].Steps != 1 {
		t.Fatalf("a tiny scale keeps one step per phase: %v", err)
	}
	for _, bad := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if _, err := b.Scaled(bad); err == nil {
			t.Errorf("scale %v accepted", bad)
		}
	}
	u, err := b.WithSteps(40)
	if err != nil || u.TotalSteps() != 40 || len(u.Phases) != 1 || u.Optim.Warmup != 4 {
		t.Fatalf("uniform with 40 steps: %v", err)
	}
}

// --compare at equal FLOPs and layer-steps, both directions: the adapted run's cost comes out
// equal to the other's within one step's worth.
func TestRunComparisonMatchesCosts(t *testing.T) {
	for _, to := range []string{MatchToBaseline, MatchToBudget} {
		t.Run(to, func(t *testing.T) {
			dir := t.TempDir()
			path := tinyBudget(t, dir, twoPhases, "")
			rep, err := RunComparison(path, Options{Log: io.Discard, Output: filepath.Join(dir, "cmp")},
				CompareOptions{Match: []string{MatchSteps, MatchFLOPs, MatchLayerSteps}, MatchTo: to})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Comparisons) != 3 {
				t.Fatalf("%d comparisons", len(rep.Comparisons))
			}
			for _, c := range rep.Comparisons {
				g, u := c.Growth.Cost(c.Match), c.Uniform.Cost(c.Match)
				// One step of the adapted run is the granularity of the match.
				step := c.Uniform.Cost(c.Match) / float64(c.Uniform.Steps)
				if to == MatchToBudget {
					step = g / float64(c.Growth.Steps) * float64(len(c.Growth.Phases))
				}
				if math.Abs(g-u) > step {
					t.Errorf("%s: growth %g, uniform %g (tolerance %g)", c.Match, g, u, step)
				}
			}
		})
	}
	if _, err := RunComparison("x.toml", Options{}, CompareOptions{Match: []string{MatchWall}, MatchTo: MatchToBudget}); err == nil {
		t.Fatal("wall time matched to the budget accepted")
	}
}
