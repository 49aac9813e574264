package paper

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/analysis"
)

// Every figure's Text states its Value: digits without separators, a percentage as a fraction,
// "10^k" as k decades, "4.7x" as 4.7.
func TestFiguresQuoteTheirValues(t *testing.T) {
	figures := map[string]Figure{
		"BaselinePPL": BaselinePPL, "MostImportantChange": MostImportantChange, "AntiLayerChange": AntiLayerChange,
		"ImportanceRange": ImportanceRange, "GateProjR2": GateProjR2, "DeltaCorrelation": DeltaCorrelation,
		"SubstitutedOnePPL": SubstitutedOnePPL, "SubstitutedManyPPL": SubstitutedManyPPL,
		"SlowRecoverySteps": SlowRecoverySteps, "FastRecoverySteps": FastRecoverySteps, "ScaleChange": ScaleChange,
		"GrowthValLoss": GrowthValLoss, "UniformValLoss": UniformValLoss, "LossRatio": LossRatio,
		"GrowthCostReduction": GrowthCostReduction, "GrowthSpeedup": GrowthSpeedup,
	}
	for name, f := range figures {
		s := strings.ReplaceAll(f.Text, ",", "")
		scale := 1.0
		switch {
		case strings.HasSuffix(s, "%"):
			s, scale = strings.TrimSuffix(s, "%"), 0.01
		case strings.HasSuffix(s, "x"):
			s = strings.TrimSuffix(s, "x")
		case strings.HasPrefix(s, "10^"):
			s = strings.TrimPrefix(s, "10^")
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Errorf("%s: text %q is not a number: %v", name, f.Text, err)
			continue
		}
		if math.Abs(v*scale-f.Value) > 1e-12*math.Max(1, math.Abs(f.Value)) {
			t.Errorf("%s: text %q reads %g, value is %g", name, f.Text, v*scale, f.Value)
		}
	}
}

func TestLayers(t *testing.T) {
	for _, layers := range [][]int{CriticalCore, AntiLayers, SlowRecovery, FastRecovery, {MostImportant}} {
		for _, l := range layers {
			if l < 0 || l >= NumLayers {
				t.Fatalf("layer %d outside the paper's %d", l, NumLayers)
			}
		}
	}
	if got := RecoveryLayers(); !slices.Equal(got, []int{8, 11, 14, 17}) {
		t.Fatalf("RecoveryLayers() = %v", got)
	}
	for _, c := range []struct {
		layer int
		want  string
		ok    bool
	}{{8, "200", true}, {11, "200", true}, {14, "0", true}, {17, "0", true}, {9, "", false}, {0, "", false}} {
		f, ok := RecoverySteps(c.layer)
		if ok != c.ok || f.Text != c.want {
			t.Errorf("RecoverySteps(%d) = %q, %v; want %q, %v", c.layer, f.Text, ok, c.want, c.ok)
		}
	}
	for _, c := range []struct {
		layers []int
		want   string
	}{{CriticalCore, "L8-L11"}, {[]int{3}, "L3"}, {nil, "none"}} {
		if got := LayerRange(c.layers); got != c.want {
			t.Errorf("LayerRange(%v) = %q, want %q", c.layers, got, c.want)
		}
	}
	if !slices.Contains(CriticalCore, MostImportant) || ScaleAlpha != 0.9 {
		t.Fatal("the most important layer is in the core, and the paper scales by 0.9")
	}
}

func TestVerdictWords(t *testing.T) {
	for v, want := range map[Verdict]string{Reproduced: "reproduced", Partly: "partly", NotReproduced: "not reproduced", Undecided: "not established"} {
		if v.String() != want {
			t.Errorf("%d: %q, want %q", int(v), v.String(), want)
		}
	}
}

func TestAblationVerdicts(t *testing.T) {
	core := []struct {
		name     string
		critical []int
		want     Verdict
	}{
		{"exactly the core", []int{8, 9, 10, 11}, Reproduced},
		{"the core and more", []int{0, 8, 9, 10, 11}, Partly},
		{"part of the core", []int{0, 1, 8, 10, 11, 29}, Partly},
		{"one core layer", []int{11}, Partly},
		{"no core layer", []int{0, 29}, NotReproduced},
		{"no critical layer", nil, NotReproduced},
	}
	for _, c := range core {
		if got := CoreVerdict(&analysis.AblationVariant{Critical: c.critical}); got != c.want {
			t.Errorf("core %s: %v, want %v", c.name, got, c.want)
		}
	}
	anti := []struct {
		name string
		anti []int
		want Verdict
	}{
		{"both", []int{14, 17}, Reproduced},
		{"both and more", []int{3, 14, 17}, Reproduced},
		{"one", []int{17}, Partly},
		{"other layers", []int{3, 5}, NotReproduced},
		{"none", nil, NotReproduced},
	}
	for _, c := range anti {
		if got := AntiVerdict(&analysis.AblationVariant{Anti: c.anti}); got != c.want {
			t.Errorf("anti %s: %v, want %v", c.name, got, c.want)
		}
	}
	span := []struct {
		decades float64
		want    Verdict
	}{
		{7, Reproduced}, {RangeReproducedDecades, Reproduced}, {5.99, Partly}, {RangePartlyDecades, Partly},
		{3.99, NotReproduced}, {math.NaN(), NotReproduced},
	}
	for _, c := range span {
		if got := RangeVerdict(&analysis.AblationVariant{SpanDecades: analysis.JSONFloat(c.decades)}); got != c.want {
			t.Errorf("span %g decades: %v, want %v", c.decades, got, c.want)
		}
	}
}

func TestPredictabilityVerdicts(t *testing.T) {
	r2 := []struct {
		in, held float64
		want     Verdict
	}{
		{0.95, 0.91, Reproduced}, {0.9, R2Reproduced, Reproduced}, {0.9, 0.79, Partly}, {R2Partly, 0.2, Partly},
		{0.49, 0.2, NotReproduced}, {0.000129, 8.26e-05, NotReproduced}, {math.NaN(), math.NaN(), NotReproduced},
	}
	for _, c := range r2 {
		pt := &analysis.PredictabilityType{Neighbor: analysis.PredictabilityR2{InSamplePooled: analysis.JSONFloat(c.in), HeldOutPooled: analysis.JSONFloat(c.held)}}
		if got := R2Verdict(pt); got != c.want {
			t.Errorf("R² %g / %g: %v, want %v", c.in, c.held, got, c.want)
		}
	}
	steps := func(ppl ...float64) *analysis.PredictabilitySubstitution {
		s := &analysis.PredictabilitySubstitution{}
		for i, p := range ppl {
			s.Steps = append(s.Steps, analysis.PredictabilitySubstStep{K: i + 1, PPL: analysis.JSONFloat(p)})
		}
		return s
	}
	subst := []struct {
		name string
		s    *analysis.PredictabilitySubstitution
		want Verdict
	}{
		{"beyond 100,000", steps(26, 500, 100001), Reproduced},
		{"at 100,000", steps(26, 500, 100000), Partly},
		{"just above 10x", steps(41.9, 100, 420), Partly},
		{"at 10x", steps(41.9, 100, 419), NotReproduced},
		{"flat", steps(41.9, 42, 43), NotReproduced},
		{"no steps", steps(), Undecided},
	}
	for _, c := range subst {
		if got := SubstitutionVerdict(c.s); got != c.want {
			t.Errorf("substitution %s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestRecoveryVerdict(t *testing.T) {
	cases := []struct {
		rho, p float64
		want   Verdict
	}{
		{0.8, 0.001, Reproduced}, {0.3, 0.0499, Reproduced}, {0.3, RecoveryAlpha, Partly}, {0.01, 0.9, Partly},
		{0, 0.01, NotReproduced}, {-0.5, 0.01, NotReproduced}, {math.NaN(), math.NaN(), Undecided}, {0.4, math.NaN(), Partly},
	}
	for _, c := range cases {
		rc := &analysis.RecoveryCorrelation{Rho: analysis.JSONFloat(c.rho), P: analysis.JSONFloat(c.p)}
		if got := RecoveryVerdict(rc); got != c.want {
			t.Errorf("rho %g, p %g: %v, want %v", c.rho, c.p, got, c.want)
		}
	}
}

func TestGrowthVerdicts(t *testing.T) {
	ratios := []struct {
		ratio float64
		want  Verdict
	}{
		{4.7, Reproduced}, {4.01, Reproduced}, {LossRatioReproduced, Partly}, {1.06, Partly}, {LossRatioPartly, NotReproduced},
		{0.856, NotReproduced},
	}
	for _, c := range ratios {
		if got := LossRatioVerdict(c.ratio); got != c.want {
			t.Errorf("loss ratio %g: %v, want %v", c.ratio, got, c.want)
		}
	}
	times := []struct {
		growth, uniform float64
		want            Verdict
	}{
		{87, 100, Reproduced}, {89.9, 100, Reproduced}, {90, 100, Partly}, {99.9, 100, Partly}, {100, 100, NotReproduced},
		{120, 100, NotReproduced},
	}
	for _, c := range times {
		if got := SpeedupVerdict(c.growth, c.uniform); got != c.want {
			t.Errorf("wall time %gs vs %gs: %v, want %v", c.growth, c.uniform, got, c.want)
		}
	}
}
