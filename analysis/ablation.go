package analysis

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/growthtrain/growthtrain/analysis/stats"
	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/internal/numfmt"
	"github.com/growthtrain/growthtrain/model"
)

// Layer ablation: each decoder layer is removed in turn, in several ways, and the change of
// perplexity over the evaluation windows is measured with a bootstrap confidence interval.

// Ablation variants.
const (
	// AblateSkip makes the whole block the identity (its input passes through unchanged).
	AblateSkip = "skip"
	// AblateSkipAttn removes the attention branch (its residual update is zero).
	AblateSkipAttn = "skip-attn"
	// AblateSkipMLP removes the MLP branch.
	AblateSkipMLP = "skip-mlp"
	// AblateNeighbourAverage replaces every parameter of the layer (matrices and norm gains) by
	// the mean of layers l-1 and l+1; the first and last layer have one neighbour and take its
	// parameters. This is the method the paper reports.
	AblateNeighbourAverage = "neighbour-average"
	// AblateZero zeroes every weight matrix (and bias) of the block, keeping the norm gains.
	// Numerically this is the identity, like AblateSkip: both branches then add exactly zero
	// (o_proj and down_proj are zero). It is kept because the paper lists it.
	AblateZero = "zero"
)

// AblationVariants lists every variant, in report order.
var AblationVariants = []string{AblateSkip, AblateSkipAttn, AblateSkipMLP, AblateNeighbourAverage, AblateZero}

// AblationOptions configures Ablation. The zero value runs every variant with the defaults.
type AblationOptions struct {
	Variants []string // subset of AblationVariants; nil = all
	Layers   []int    // layers to ablate; nil = all
	// Bootstrap is the number of bootstrap resamples of the windows (default 1000).
	Bootstrap int
	// Level is the confidence level of the intervals (default 0.95).
	Level float64
	// Seed seeds the bootstrap (the same resamples are used for every layer and variant, so
	// intervals are comparable).
	Seed uint64
	// CriticalChange is the perplexity change (a fraction: 1.0 = PPL doubles) that the lower
	// bound of the interval must exceed for a layer to be flagged critical. 0 means the default
	// 1.0; pass a negative value for a threshold of 0 (any supported increase).
	CriticalChange float64
	// Progress (optional) is called after each batch of windows.
	Progress func(done, total int)
}

func (o AblationOptions) withDefaults(L int) (AblationOptions, error) {
	if o.Variants == nil {
		o.Variants = slices.Clone(AblationVariants)
	}
	for _, v := range o.Variants {
		if !slices.Contains(AblationVariants, v) {
			return o, fmt.Errorf("unknown ablation variant %q (have %s)", v, strings.Join(AblationVariants, ", "))
		}
	}
	if o.Layers == nil {
		for l := 0; l < L; l++ {
			o.Layers = append(o.Layers, l)
		}
	}
	for _, l := range o.Layers {
		if l < 0 || l >= L {
			return o, fmt.Errorf("ablation layer %d outside [0, %d)", l, L)
		}
	}
	if o.Bootstrap <= 0 {
		o.Bootstrap = 1000
	}
	if o.Level <= 0 || o.Level >= 1 {
		o.Level = 0.95
	}
	switch {
	case o.CriticalChange == 0:
		o.CriticalChange = 1.0
	case o.CriticalChange < 0:
		o.CriticalChange = 0
	}
	return o, nil
}

// AblationResult is the result of Ablation.
type AblationResult struct {
	BaselinePPL    JSONFloat         `json:"baseline_ppl"`
	Windows        int               `json:"windows"`
	Tokens         int               `json:"tokens"` // predicted tokens over all windows
	Bootstrap      int               `json:"bootstrap_iters"`
	Level          float64           `json:"ci_level"`
	Seed           uint64            `json:"seed"`
	CriticalChange float64           `json:"critical_change"` // threshold on the CI's lower bound
	Variants       []AblationVariant `json:"variants"`
	Notes          []string          `json:"notes"`
	BaseNLL        []float64         `json:"-"` // per-window NLL sums of the baseline
	WindowTokens   []float64         `json:"-"` // per-window predicted tokens
}

// AblationVariant holds one variant's per-layer results.
type AblationVariant struct {
	Name   string          `json:"name"`
	Layers []AblationLayer `json:"layers"`
	// Ranking lists the ablated layers from most to least important (largest PPL change
	// first; non-finite changes count as most important).
	Ranking  []int `json:"ranking"`
	Critical []int `json:"critical"` // layers flagged critical, ascending
	Anti     []int `json:"anti"`     // layers flagged anti-layers, ascending
	// SpanDecades is log10(max |change| / min non-zero |change|) over the layers: the paper's
	// "importance spans a 10^7 range" is a span of 7 decades.
	SpanDecades JSONFloat `json:"span_decades"`
}

// AblationLayer is one ablated layer.
type AblationLayer struct {
	Layer    int       `json:"layer"`
	PPL      JSONFloat `json:"ppl"`
	Change   JSONFloat `json:"change"` // PPL / baseline PPL - 1
	CILo     JSONFloat `json:"ci_lo"`  // bootstrap interval of Change
	CIHi     JSONFloat `json:"ci_hi"`
	Rank     int       `json:"rank"` // 1 = most important
	Critical bool      `json:"critical"`
	Anti     bool      `json:"anti"`
	NLL      []float64 `json:"-"` // per-window NLL sums
}

// FlagLayer applies the ablation flag rule to a change's confidence interval [lo, hi]:
//
//   - anti-layer: hi < 0, i.e. removing the layer lowers perplexity and the whole interval
//     says so (a point estimate below zero is not enough);
//   - critical: lo > criticalChange, i.e. the interval excludes changes up to criticalChange
//     (default 1.0: perplexity at least doubles).
//
// NaN bounds flag nothing.
func FlagLayer(lo, hi, criticalChange float64) (critical, anti bool) {
	return lo > criticalChange, hi < 0
}

// RankByImportance returns the indices of change ordered from most to least important
// (descending change; NaN first, as a removal that breaks the model; ties by index).
func RankByImportance(change []float64) []int {
	idx := make([]int, len(change))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		na, nb := math.IsNaN(change[a]), math.IsNaN(change[b])
		switch {
		case na && nb:
			return 0
		case na:
			return -1
		case nb:
			return 1
		}
		return cmp.Compare(change[b], change[a])
	})
	return idx
}

// Ablation removes each layer in each variant and measures the perplexity change over the
// evaluator's windows. All (variant, layer) modifications run in one Sweep, so the baseline
// hidden states are shared.
func Ablation(e *Evaluator, opts AblationOptions) (*AblationResult, error) {
	L := e.M.Config.NumHiddenLayers
	opts, err := opts.withDefaults(L)
	if err != nil {
		return nil, err
	}
	var mods []Mod
	for _, v := range opts.Variants {
		for _, l := range opts.Layers {
			mods = append(mods, AblationMod(v, l, L))
		}
	}
	base, out, err := e.Sweep(mods, opts.Progress)
	if err != nil {
		return nil, err
	}
	tokens := e.Tokens()
	a := &AblationResult{
		BaselinePPL: JSONFloat(Perplexity(base, tokens)), Windows: len(e.Windows),
		Bootstrap: opts.Bootstrap, Level: opts.Level, Seed: opts.Seed, CriticalChange: opts.CriticalChange,
		BaseNLL: base, WindowTokens: tokens,
	}
	for _, n := range tokens {
		a.Tokens += int(n)
	}
	k := 0
	for _, v := range opts.Variants {
		av := AblationVariant{Name: v}
		for _, l := range opts.Layers {
			nll := out[k]
			k++
			lo, hi, point := stats.BootstrapPerplexityChangeCI(base, nll, tokens, opts.Bootstrap, opts.Level, opts.Seed)
			crit, anti := FlagLayer(lo, hi, opts.CriticalChange)
			av.Layers = append(av.Layers, AblationLayer{Layer: l, PPL: JSONFloat(Perplexity(nll, tokens)),
				Change: JSONFloat(point), CILo: JSONFloat(lo), CIHi: JSONFloat(hi), Critical: crit, Anti: anti, NLL: nll})
		}
		av.finish()
		a.Variants = append(a.Variants, av)
	}
	a.Notes = ablationNotes(opts, L)
	return a, nil
}

func (av *AblationVariant) finish() {
	ch := make([]float64, len(av.Layers))
	for i, la := range av.Layers {
		ch[i] = float64(la.Change)
	}
	av.Ranking = nil
	for r, i := range RankByImportance(ch) {
		av.Layers[i].Rank = r + 1
		av.Ranking = append(av.Ranking, av.Layers[i].Layer)
	}
	av.Critical, av.Anti = nil, nil
	lo, hi := math.Inf(1), 0.0
	for _, la := range av.Layers {
		if la.Critical {
			av.Critical = append(av.Critical, la.Layer)
		}
		if la.Anti {
			av.Anti = append(av.Anti, la.Layer)
		}
		if c := math.Abs(float64(la.Change)); isFinite(c) && c > 0 {
			lo, hi = math.Min(lo, c), math.Max(hi, c)
		}
	}
	slices.Sort(av.Critical)
	slices.Sort(av.Anti)
	av.SpanDecades = JSONFloat(math.NaN())
	if hi > 0 {
		av.SpanDecades = JSONFloat(math.Log10(hi / lo))
	}
}

func ablationNotes(o AblationOptions, L int) []string {
	notes := []string{
		fmt.Sprintf("Change = PPL(ablated) / PPL(baseline) - 1; %g%% percentile bootstrap intervals over %d resamples of the evaluation windows (baseline and ablation resampled jointly, seed %d).",
			o.Level*100, o.Bootstrap, o.Seed),
		fmt.Sprintf("Flags: anti-layer when the interval's upper bound is below 0 (removing the layer lowers PPL, supported by the interval); critical when its lower bound exceeds %s (%s).",
			numfmt.Pct(o.CriticalChange), criticalWords(o.CriticalChange)),
	}
	if slices.Contains(o.Variants, AblateNeighbourAverage) {
		notes = append(notes, fmt.Sprintf("neighbour-average (the paper's method): every parameter of layer l (matrices and norm gains) is replaced by the mean of layers l-1 and l+1; layer 0 takes layer 1's parameters and layer %d takes layer %d's (one neighbour each).", L-1, L-2))
	}
	if slices.Contains(o.Variants, AblateZero) {
		notes = append(notes, "zero: every weight matrix of the block is zeroed (norm gains kept); both branches then add exactly 0, so it equals skip numerically; it is listed because the paper lists it.")
	}
	return notes
}

func criticalWords(c float64) string {
	if c == 1 {
		return "perplexity at least doubles"
	}
	return "perplexity at least ×" + strconv.FormatFloat(1+c, 'g', 4, 64)
}

// AblationMod returns the Mod that ablates layer l of an L-layer model in the given variant
// (see the Ablate* constants). Unknown variants fail when applied.
func AblationMod(variant string, l, L int) Mod {
	name := variant + " " + strconv.Itoa(l)
	switch variant {
	case AblateSkip:
		return ControlMod(name, l, func(c *model.LayerControl) { c.Skip = true })
	case AblateSkipAttn:
		return ControlMod(name, l, func(c *model.LayerControl) { c.SkipAttn = true })
	case AblateSkipMLP:
		return ControlMod(name, l, func(c *model.LayerControl) { c.SkipMLP = true })
	case AblateNeighbourAverage:
		return WeightMod(name, l, func(m *model.Model) (map[string]*torch.Tensor, error) {
			return neighbourAverage(m, l, L)
		})
	case AblateZero:
		return WeightMod(name, l, func(m *model.Model) (map[string]*torch.Tensor, error) {
			out := map[string]*torch.Tensor{}
			for _, n := range layerSuffixes(m, l) {
				if !isNormParam(n) {
					out[n] = m.Param(model.LayerPrefix(l) + n).ZerosLike()
				}
			}
			return out, nil
		})
	}
	return Mod{Name: name, From: l, Apply: func(*model.Model) (func(), error) {
		return nil, fmt.Errorf("unknown ablation variant %q", variant)
	}}
}

// neighbours returns the layers whose parameters stand in for layer l: l-1 and l+1, or the
// single neighbour of an end layer (none for a one-layer model).
func neighbours(l, L int) []int {
	var n []int
	if l > 0 {
		n = append(n, l-1)
	}
	if l+1 < L {
		n = append(n, l+1)
	}
	return n
}

// neighbourAverage returns, for every parameter of layer l, the mean of that parameter over
// l's neighbours, computed from the model's current weights. The tensors belong to the
// current scope.
func neighbourAverage(m *model.Model, l, L int) (out map[string]*torch.Tensor, err error) {
	defer torch.Recover(&err)
	nb := neighbours(l, L)
	if len(nb) == 0 {
		return nil, fmt.Errorf("layer %d has no neighbour", l)
	}
	out = map[string]*torch.Tensor{}
	for _, n := range layerSuffixes(m, l) {
		var sum *torch.Tensor
		for _, j := range nb {
			p := m.Param(model.LayerPrefix(j) + n).Detach()
			if sum == nil {
				sum = p.Clone()
			} else {
				sum = sum.Add(p)
			}
		}
		if len(nb) > 1 {
			sum = sum.DivScalar(float64(len(nb)))
		}
		out[n] = sum
	}
	return out, nil
}

// layerSuffixes returns the names of layer l's parameters within the layer
// ("self_attn.q_proj.weight", ...), in HF order.
func layerSuffixes(m *model.Model, l int) []string {
	p := model.LayerPrefix(l)
	names := m.LayerParamNames(l)
	for i, n := range names {
		names[i] = n[len(p):]
	}
	return names
}

func isNormParam(suffix string) bool { return strings.HasSuffix(suffix, "norm.weight") }

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Variant returns the named variant's results, or nil.
func (a *AblationResult) Variant(name string) *AblationVariant {
	for i := range a.Variants {
		if a.Variants[i].Name == name {
			return &a.Variants[i]
		}
	}
	return nil
}

// Importance returns the perplexity change (a fraction) of ablating each layer in the given
// variant, indexed by layer; layers that were not ablated (and unknown variants) are NaN. This
// is the importance the other diagnostics correlate with.
func (a *AblationResult) Importance(variant string) []float64 {
	L := 0
	for _, v := range a.Variants {
		for _, la := range v.Layers {
			L = max(L, la.Layer+1)
		}
	}
	out := make([]float64, L)
	for i := range out {
		out[i] = math.NaN()
	}
	if v := a.Variant(variant); v != nil {
		for _, la := range v.Layers {
			out[la.Layer] = float64(la.Change)
		}
	}
	return out
}

func nanSlice(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = math.NaN()
	}
	return out
}

// jsonFloats converts a slice for a result struct.
func jsonFloats(x []float64) []JSONFloat {
	if x == nil {
		return nil
	}
	out := make([]JSONFloat, len(x))
	for i, v := range x {
		out[i] = JSONFloat(v)
	}
	return out
}
