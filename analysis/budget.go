package analysis

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// BudgetOptions configures DeriveBudget.
type BudgetOptions struct {
	Cost           float64 // target layer-steps as a fraction of uniform training (e.g. 0.46)
	Steps          int     // length of the run: the most important layers train every step
	Phases         int     // at most this many phases (default 6, the paper's count)
	RecoveryWeight float64 // how much slow recovery adds to a layer's share (default 0.5; 0 ignores recovery)
	MinShare       float64 // floor of a non-anti layer's score relative to the top one (default 0.05)
}

// LayerBudget is the derived training budget of one layer.
type LayerBudget struct {
	Layer  int     `json:"layer"`
	Score  float64 `json:"score"`
	Steps  int     `json:"steps"`
	Anti   bool    `json:"anti_layer"`
	Reason string  `json:"reason"`
}

// PhaseSpec is one phase of a derived budget.
type PhaseSpec struct {
	Name   string `json:"name"`
	Layers []int  `json:"layers"`
	Steps  int    `json:"steps"`
}

// DerivedBudget is the result of DeriveBudget.
type DerivedBudget struct {
	Layers     []LayerBudget `json:"layers"`
	Phases     []PhaseSpec   `json:"phases"`
	CostRatio  float64       `json:"cost_ratio"` // achieved layer-steps / uniform
	TotalSteps int           `json:"total_steps"`
	Rule       string        `json:"rule"`
}

// BudgetRule documents DeriveBudget's rule (also written into the generated TOML).
const BudgetRule = `score(l) = max(log10(1 + max(importance(l), 0)), min_share x the top one) ` +
	`x (1 + w x recovery steps(l) / max recovery steps); anti-layers (removal lowers perplexity, supported by ` +
	`the confidence interval) score 0. Steps are water-filled: steps(l) = min(N, c * score(l)) ` +
	`with c chosen so the layer-steps equal cost x layers x N. Layers are grouped into at most P ` +
	`levels of equal steps, and phases nest: phase k trains every layer whose steps reach level k, ` +
	`so the most important layers train in every phase and the rest join as the model grows.`

// DeriveBudget turns per-layer importance (ablation's perplexity change, a fraction), anti-layer
// flags and recovery steps (optional; nil or all zero to ignore) into per-layer steps and nested
// phases with the requested cost.
func DeriveBudget(importance []float64, anti []bool, recovery []float64, opts BudgetOptions) (*DerivedBudget, error) {
	L := len(importance)
	switch {
	case L == 0:
		return nil, errors.New("budget: no layers")
	case anti != nil && len(anti) != L, recovery != nil && len(recovery) != L:
		return nil, errors.New("budget: importance, anti-layer and recovery lists differ in length")
	case opts.Cost <= 0 || opts.Cost > 1:
		return nil, fmt.Errorf("budget: cost %g must be in (0, 1]", opts.Cost)
	case opts.Steps <= 0:
		return nil, fmt.Errorf("budget: steps %d must be positive", opts.Steps)
	}
	if opts.Phases <= 0 {
		opts.Phases = 6
	}
	if opts.RecoveryWeight == 0 && recovery != nil {
		opts.RecoveryWeight = 0.5
	}
	if opts.MinShare == 0 {
		opts.MinShare = 0.05
	}
	maxRec := 0.0
	for _, r := range recovery {
		maxRec = math.Max(maxRec, r)
	}
	out := &DerivedBudget{Rule: BudgetRule}
	score := make([]float64, L)
	top := 0.0
	for l := 0; l < L; l++ {
		lb := LayerBudget{Layer: l}
		if anti != nil && anti[l] {
			lb.Anti, lb.Reason = true, "anti-layer: never trained"
		} else {
			score[l] = math.Log10(1 + math.Max(importance[l], 0))
			top = math.Max(top, score[l])
		}
		out.Layers = append(out.Layers, lb)
	}
	if top == 0 {
		return nil, errors.New("budget: no layer has a positive importance")
	}
	active := 0
	for l := range score {
		if !out.Layers[l].Anti {
			score[l] = math.Max(score[l], opts.MinShare*top)
			if maxRec > 0 { // after the floor, so slow recovery counts for unimportant layers too
				score[l] *= 1 + opts.RecoveryWeight*recovery[l]/maxRec
			}
			active++
		}
		out.Layers[l].Score = score[l]
	}
	target := opts.Cost * float64(L) * float64(opts.Steps)
	if target > float64(active*opts.Steps) {
		return nil, fmt.Errorf("budget: cost %g needs %.0f layer-steps but the %d trainable layers give at most %d (anti-layers never train)",
			opts.Cost, target, active, active*opts.Steps)
	}
	// Water-filling: find c with sum(min(N, c*score)) = target, by bisection.
	N := float64(opts.Steps)
	fill := func(c float64) float64 {
		s := 0.0
		for _, v := range score {
			s += math.Min(N, c*v)
		}
		return s
	}
	lo, hi := 0.0, N/top
	for fill(hi) < target {
		hi *= 2
	}
	for i := 0; i < 200; i++ {
		mid := (lo + hi) / 2
		if fill(mid) < target {
			lo = mid
		} else {
			hi = mid
		}
	}
	steps := make([]float64, L)
	for l, v := range score {
		steps[l] = math.Min(N, hi*v)
	}
	// Levels closer than 1% of the run are one phase, not a sliver of a few steps.
	levels := quantizeLevels(steps, opts.Phases, max(1, N/100))
	total := 0
	for l := range out.Layers {
		out.Layers[l].Steps = levels[l]
		total += levels[l]
		if !out.Layers[l].Anti {
			out.Layers[l].Reason = fmt.Sprintf("importance %s", fmtChange(importance[l]))
		}
	}
	// Nested phases: distinct step levels, highest first.
	var distinct []int
	for _, s := range levels {
		if s > 0 && !slices.Contains(distinct, s) {
			distinct = append(distinct, s)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(distinct)))
	names := []string{"gastrulation", "neurulation", "organogenesis", "growth", "connective", "maturation"}
	for k, lvl := range distinct {
		next := 0
		if k+1 < len(distinct) {
			next = distinct[k+1]
		}
		var ls []int
		for l, s := range levels {
			if s >= lvl {
				ls = append(ls, l)
			}
		}
		name := fmt.Sprintf("phase%d", k+1)
		if len(distinct) <= len(names) {
			name = names[len(names)-len(distinct)+k]
		}
		out.Phases = append(out.Phases, PhaseSpec{Name: name, Layers: ls, Steps: lvl - next})
	}
	out.TotalSteps = distinct[0]
	out.CostRatio = float64(total) / (float64(L) * float64(out.TotalSteps))
	return out, nil
}

// quantizeLevels rounds per-layer steps to at most k distinct values, keeping their sum
// (rounding the mean of each group) and the zeros. Groups are split only at gaps of at least
// minGap steps.
func quantizeLevels(steps []float64, k int, minGap float64) []int {
	type item struct {
		l int
		s float64
	}
	var items []item
	for l, s := range steps {
		if s > 0 {
			items = append(items, item{l, s})
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].s > items[j].s })
	out := make([]int, len(steps))
	// Split the sorted steps into k groups at the largest gaps.
	type gap struct {
		at int
		d  float64
	}
	var gaps []gap
	for i := 1; i < len(items); i++ {
		if d := items[i-1].s - items[i].s; d >= minGap {
			gaps = append(gaps, gap{i, d})
		}
	}
	sort.SliceStable(gaps, func(i, j int) bool { return gaps[i].d > gaps[j].d })
	cuts := []int{}
	for _, g := range gaps[:min(len(gaps), k-1)] {
		cuts = append(cuts, g.at)
	}
	sort.Ints(cuts)
	start := 0
	for _, end := range append(cuts, len(items)) {
		mean := 0.0
		for _, it := range items[start:end] {
			mean += it.s
		}
		mean /= float64(end - start)
		for _, it := range items[start:end] {
			out[it.l] = max(1, int(math.Round(mean)))
		}
		start = end
	}
	return out
}

func fmtChange(x float64) string {
	return fmt.Sprintf("%+.1f%%", 100*x)
}

// TOML renders the derived budget as [[phase]] tables (the rest of a budget file comes from a
// template), with the rule and per-layer steps as comments.
func (d *DerivedBudget) TOML(trainShared bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Derived by growthtrain budget: cost ratio %.3f (layer-steps / uniform), %d steps.\n", d.CostRatio, d.TotalSteps)
	for _, line := range wrap(BudgetRule, 96) {
		fmt.Fprintf(&b, "# %s\n", line)
	}
	b.WriteString("# per-layer steps:")
	for _, l := range d.Layers {
		fmt.Fprintf(&b, " L%d=%d", l.Layer, l.Steps)
	}
	b.WriteString("\n")
	for _, p := range d.Phases {
		fmt.Fprintf(&b, "\n[[phase]]\nname = %q\nlayers = [", p.Name)
		for i, l := range p.Layers {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprint(&b, l)
		}
		fmt.Fprintf(&b, "]\nsteps = %d\n", p.Steps)
		if trainShared {
			b.WriteString("train_embeddings = true\ntrain_head = true\ntrain_final_norm = true\n")
		}
	}
	return b.String()
}

func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if len(line)+len(w)+1 > width && line != "" {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}

// MapDepth carries per-layer diagnostics of an L-layer model over to a model of n layers by
// relative depth: layer j of the new model sits at (j + 0.5) / n of the depth, read off the old
// model's layers at the same fraction ((j + 0.5) / n x L - 0.5, clamped to [0, L-1]) by linear
// interpolation between the two nearest layers. Importance (a perplexity change spanning decades)
// is interpolated in the symmetric log space sign(v) x log(1 + |v| / 0.001), where +0.1% and
// +63,000% are equally far apart per decade; recovery steps linearly; the anti-layer flag is
// the nearest layer's. recovery may be nil.
func MapDepth(importance []float64, anti []bool, recovery []float64, n int) (imp []float64, antiOut []bool, rec []float64, err error) {
	L := len(importance)
	switch {
	case L == 0:
		return nil, nil, nil, fmt.Errorf("no layers to map from")
	case len(anti) != L || (recovery != nil && len(recovery) != L):
		return nil, nil, nil, fmt.Errorf("%d importance values, %d anti flags and %d recovery values: want one per layer", L, len(anti), len(recovery))
	case n < 1:
		return nil, nil, nil, fmt.Errorf("map to %d layers: want at least 1", n)
	}
	const c = 1e-3
	fwd := func(v float64) float64 { return math.Copysign(math.Log1p(math.Abs(v)/c), v) }
	inv := func(u float64) float64 { return math.Copysign(c*math.Expm1(math.Abs(u)), u) }
	imp, antiOut = make([]float64, n), make([]bool, n)
	if recovery != nil {
		rec = make([]float64, n)
	}
	for j := 0; j < n; j++ {
		u := math.Min(math.Max((float64(j)+0.5)/float64(n)*float64(L)-0.5, 0), float64(L-1))
		lo := int(math.Floor(u))
		hi := min(lo+1, L-1)
		f := u - float64(lo)
		imp[j] = inv((1-f)*fwd(importance[lo]) + f*fwd(importance[hi]))
		antiOut[j] = anti[int(math.Round(u))]
		if rec != nil {
			rec[j] = (1-f)*recovery[lo] + f*recovery[hi]
		}
	}
	return imp, antiOut, rec, nil
}
