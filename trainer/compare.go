package trainer

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/growthtrain/growthtrain/data"
	"github.com/growthtrain/growthtrain/model"
)

// Cost measures a comparison can hold equal between a budget and its uniform baseline.
const (
	MatchSteps      = "steps"       // optimisation steps (the paper's "identical" setting)
	MatchFLOPs      = "flops"       // estimated training FLOPs (absent layers free)
	MatchLayerSteps = "layer-steps" // layers trained x steps (the paper's cost accounting)
	MatchWall       = "wall"        // measured wall time
)

// Matches are the cost measures, in the order the comparison table lists them.
var Matches = []string{MatchSteps, MatchFLOPs, MatchLayerSteps, MatchWall}

// Which run of a pair is adapted to the other's cost.
const (
	MatchToBaseline = "baseline" // the baseline gets the steps at which its cost equals the budget's
	MatchToBudget   = "budget"   // the budget's phases are scaled so its cost equals the baseline's
)

// CompareOptions configures RunComparison.
type CompareOptions struct {
	// Match lists the cost measures to equalise, one comparison each (default: flops).
	Match []string
	// MatchTo is MatchToBaseline (default) or MatchToBudget. Wall time can only adapt the
	// baseline: a budget's time is known once it has run.
	MatchTo string
	// CalibrationSteps: with MatchWall, the uniform baseline's seconds per step are measured on
	// this many steps (after one warm-up step) in a scratch directory (default 8).
	CalibrationSteps int
}

// Comparison is one matched pair: a budget run and its uniform baseline at equal cost.
type Comparison struct {
	Match          string   `json:"match"`
	MatchTo        string   `json:"match_to"`
	Growth         *Summary `json:"growth"`
	Uniform        *Summary `json:"uniform"`
	ValLossRatio   float64  `json:"val_loss_ratio"` // uniform / growth: > 1 means growth ended lower
	StepsRatio     float64  `json:"steps_ratio"`    // growth / uniform
	LayerStepRatio float64  `json:"layer_steps_ratio"`
	FLOPsRatio     float64  `json:"flops_ratio"` // estimated
	WallTimeRatio  float64  `json:"wall_time_ratio"`
	SameParameters bool     `json:"same_parameters"`
}

// ComparisonReport is comparison.json: every matched pair of one --compare.
type ComparisonReport struct {
	Budget      string       `json:"budget"`
	Comparisons []Comparison `json:"comparisons"`
}

// Compare computes the comparison of two summaries.
func Compare(growth, uniform *Summary) Comparison {
	return Comparison{
		Growth: growth, Uniform: uniform,
		ValLossRatio:   uniform.FinalValLoss / growth.FinalValLoss,
		StepsRatio:     float64(growth.Steps) / float64(uniform.Steps),
		LayerStepRatio: float64(growth.TotalLayerSt) / float64(uniform.TotalLayerSt),
		FLOPsRatio:     growth.FLOPs / uniform.FLOPs,
		WallTimeRatio:  growth.Seconds / uniform.Seconds,
		SameParameters: growth.Params == uniform.Params,
	}
}

// Cost returns a finished run's cost in the given measure.
func (s *Summary) Cost(match string) float64 {
	switch match {
	case MatchSteps:
		return float64(s.Steps)
	case MatchFLOPs:
		return s.FLOPs
	case MatchLayerSteps:
		return float64(s.TotalLayerSt)
	case MatchWall:
		return s.Seconds
	}
	return math.NaN()
}

// checkMatch validates a cost measure and direction.
func checkMatch(match, to string) error {
	if !slices.Contains(Matches, match) {
		return fmt.Errorf("--match %q: want one of %s", match, strings.Join(Matches, ", "))
	}
	if to != MatchToBaseline && to != MatchToBudget {
		return fmt.Errorf("--match-to %q: want %s or %s", to, MatchToBaseline, MatchToBudget)
	}
	if match == MatchWall && to == MatchToBudget {
		return errors.New("--match wall adapts the baseline only (a budget's wall time is known once it has run): use --match-to baseline")
	}
	return nil
}

// UniformSteps is the arithmetic of MatchToBaseline: the number of uniform steps at which the
// baseline's cost equals the budget run's, given the uniform baseline's cost of one step in the
// same measure (for steps: 1; FLOPs: its FLOPs per step; layer-steps: the layer count; wall: its
// measured seconds per step). At least 1.
func UniformSteps(budgetCost, uniformPerStep float64) int {
	if !(uniformPerStep > 0) || !(budgetCost > 0) {
		return 1
	}
	return max(1, int(math.Round(budgetCost/uniformPerStep)))
}

// Scaled returns b with every phase's steps multiplied by factor (rounded, at least 1) and
// warm-up scaled alike: the arithmetic of MatchToBudget. The fraction of the run each phase
// takes is kept as well as rounding allows.
func (b *Budget) Scaled(factor float64) (*Budget, error) {
	if !(factor > 0) || math.IsInf(factor, 0) {
		return nil, fmt.Errorf("scale factor %v: want a finite number > 0", factor)
	}
	s := *b
	s.Phases = slices.Clone(b.Phases)
	for i := range s.Phases {
		s.Phases[i].Steps = max(1, int(math.Round(float64(b.Phases[i].Steps)*factor)))
	}
	s.Optim.Warmup = min(int(math.Round(float64(b.Optim.Warmup)*factor)), s.TotalSteps())
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// WithSteps returns the uniform baseline of b trained for steps steps (its warm-up scaled to
// the same fraction of the run).
func (b *Budget) WithSteps(steps int) (*Budget, error) {
	u := b.Uniform()
	return u.Scaled(float64(steps) / float64(u.TotalSteps()))
}

// PlanConfig resolves the model configuration a budget will train (the tokenizer decides the
// vocabulary), without training: what the cost arithmetic needs before a run.
func PlanConfig(b *Budget, opts Options) (model.Config, error) {
	docs, err := loadCorpus(b)
	if err != nil {
		return model.Config{}, err
	}
	train, _, err := data.Split(docs, b.Data.ValFraction, b.Run.Seed)
	if err != nil {
		return model.Config{}, fmt.Errorf("[data] %w", err)
	}
	tok, _, err := resolveTokenizer(b, train, opts.AutoTokenizer)
	if err != nil {
		return model.Config{}, err
	}
	cfg, err := modelConfig(b, tok.VocabSize())
	if err != nil {
		return model.Config{}, err
	}
	return cfg, b.SetNumLayers(cfg.NumHiddenLayers)
}

// RunComparison trains the budget at path and its uniform baseline at equal cost for every
// measure in co.Match, into subdirectories of opts.Output: growth/ (the budget as written),
// uniform/ (the baseline at the budget's steps), uniform-<measure>/ (a baseline adapted to the
// budget's cost) or growth-<measure>/ (the budget scaled to the baseline's). Each run resumes
// when opts.Resume and it has a checkpoint (a finished one re-finishes at once).
func RunComparison(path string, opts Options, co CompareOptions) (*ComparisonReport, error) {
	if len(co.Match) == 0 {
		co.Match = []string{MatchFLOPs}
	}
	if co.MatchTo == "" {
		co.MatchTo = MatchToBaseline
	}
	if co.CalibrationSteps <= 0 {
		co.CalibrationSteps = 8
	}
	for _, m := range co.Match {
		if err := checkMatch(m, co.MatchTo); err != nil {
			return nil, err
		}
	}
	out := opts.Output
	run := func(b *Budget, uniform bool, dir string) (*Summary, error) {
		o := opts
		o.Uniform, o.Output = uniform, filepath.Join(out, dir)
		o.Resume = opts.Resume && HasCheckpoint(b, o.Output)
		return Run(b, o)
	}
	load := func() (*Budget, error) { return LoadBudget(path) } // Run resolves a budget in place
	rep := &ComparisonReport{Budget: path}
	b, err := load()
	if err != nil {
		return nil, err
	}
	growth, err := run(b, false, "growth")
	if err != nil {
		return nil, err
	}
	var equalSteps *Summary // the baseline at the budget's steps, trained once for all pairs that use it
	baseline := func() (*Summary, error) {
		if equalSteps != nil {
			return equalSteps, nil
		}
		b, err := load()
		if err != nil {
			return nil, err
		}
		equalSteps, err = run(b, true, "uniform")
		return equalSteps, err
	}
	for _, m := range co.Match {
		var c Comparison
		switch {
		case m == MatchSteps:
			u, err := baseline()
			if err != nil {
				return nil, err
			}
			c = Compare(growth, u)
		case co.MatchTo == MatchToBaseline:
			per := map[string]float64{MatchFLOPs: growth.UniformFLOPs / float64(growth.Steps), MatchLayerSteps: float64(growth.Layers)}[m]
			if m == MatchWall {
				if per, err = calibrate(path, opts, co.CalibrationSteps); err != nil {
					return nil, fmt.Errorf("--match wall: timing the baseline: %w", err)
				}
			}
			b, err := load()
			if err != nil {
				return nil, err
			}
			ub, err := b.WithSteps(UniformSteps(growth.Cost(m), per))
			if err != nil {
				return nil, err
			}
			u, err := run(ub, true, "uniform-"+m)
			if err != nil {
				return nil, err
			}
			c = Compare(growth, u)
		default: // the budget scaled to the equal-steps baseline's cost
			u, err := baseline()
			if err != nil {
				return nil, err
			}
			b, err := load()
			if err != nil {
				return nil, err
			}
			sb, err := b.Scaled(u.Cost(m) / growth.Cost(m))
			if err != nil {
				return nil, err
			}
			g, err := run(sb, false, "growth-"+m)
			if err != nil {
				return nil, err
			}
			c = Compare(g, u)
		}
		c.Match, c.MatchTo = m, co.MatchTo
		if m == MatchSteps {
			c.MatchTo = ""
		}
		rep.Comparisons = append(rep.Comparisons, c)
	}
	return rep, nil
}

// calibrate measures the uniform baseline's seconds per step: steps steps after one warm-up
// step, in a scratch directory that is removed afterwards.
func calibrate(path string, opts Options, steps int) (float64, error) {
	b, err := LoadBudget(path)
	if err != nil {
		return 0, err
	}
	ub, err := b.WithSteps(steps + 1)
	if err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp("", "growthtrain-calibrate-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	o := opts
	o.Output, o.Resume, o.Log, o.Progress, o.StopAt = dir, false, io.Discard, false, 0
	ub.Checkpoint = CheckpointConfig{Keep: 1}
	start := time.Now()
	sum, err := Run(ub, o)
	if err != nil {
		return 0, err
	}
	// The phase time excludes set-up; the first step warms caches up, so it is averaged in.
	per := time.Since(start).Seconds() / float64(steps+1)
	if sum.Seconds > 0 {
		per = sum.Seconds / float64(sum.Steps)
	}
	// The ranks of a data-parallel run must size the baseline alike: rank 0's timing.
	return (&dist{g: opts.Group}).fromRoot(per)
}

// PrintComparison writes the comparison table: every cost measure of every run, then one
// verdict per matched pair.
func PrintComparison(w io.Writer, rep *ComparisonReport) {
	if len(rep.Comparisons) == 0 {
		return
	}
	first := rep.Comparisons[0].Growth
	fmt.Fprintf(w, "\ngrowth vs uniform (%s, %.2fM parameters)\n", first.Name, float64(first.Params)/1e6)
	fmt.Fprintf(w, "%-30s %8s %12s %12s %10s %10s\n", "run", "steps", "layer-steps", "GFLOPs est.", "wall s", "val loss")
	seen := map[*Summary]bool{}
	row := func(label string, s *Summary) {
		if seen[s] {
			return
		}
		seen[s] = true
		fmt.Fprintf(w, "%-30s %8d %12d %12.1f %10.1f %10.4f\n", label, s.Steps, s.TotalLayerSt, s.FLOPs/1e9, s.Seconds, s.FinalValLoss)
	}
	for _, c := range rep.Comparisons {
		g, u := "growth (budget as written)", "uniform, equal steps"
		switch {
		case c.Match != MatchSteps && c.MatchTo == MatchToBaseline:
			u = "uniform, equal " + c.Match
		case c.Match != MatchSteps:
			g = "growth scaled to equal " + c.Match
		}
		row(g, c.Growth)
		row(u, c.Uniform)
	}
	for _, c := range rep.Comparisons {
		what := "equal steps"
		if c.Match != MatchSteps {
			what = "equal " + c.Match + " (the " + c.MatchTo + " adapted)"
		}
		fmt.Fprintf(w, "at %s: validation loss uniform/growth = %.3f (%s); growth/uniform: steps %.2f, layer-steps %.2f, FLOPs %.2f, wall time %.2f\n",
			what, c.ValLossRatio, verdict(c.ValLossRatio), c.StepsRatio, c.LayerStepRatio, c.FLOPsRatio, c.WallTimeRatio)
	}
	if !first.sameParams(rep) {
		fmt.Fprintln(w, "PARAMETER COUNTS DIFFER between the runs")
	}
}

func (s *Summary) sameParams(rep *ComparisonReport) bool {
	for _, c := range rep.Comparisons {
		if !c.SameParameters {
			return false
		}
	}
	return true
}

func verdict(r float64) string {
	switch {
	case r > 1.005:
		return "growth lower"
	case r < 0.995:
		return "uniform lower"
	}
	return "about equal"
}

// WriteComparison writes the report as JSON, atomically.
func WriteComparison(path string, rep *ComparisonReport) error { return writeJSONAtomic(path, rep) }
