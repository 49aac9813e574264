package analysis

// Weight predictability across depth (the paper's first diagnostic): how well each layer's
// weights are predicted from its neighbours' or from a polynomial in depth, the correlation of
// consecutive layer deltas next to its null models, and what happens to perplexity when layers
// are replaced by their predictions.
//
// Every statistic over layers is computed from one L×L cross-layer Gram matrix per weight type
// (stats.Gram: G[i][k] = Σ_j W_i[j]·W_k[j] plus per-layer sums), accumulated once in a single
// pass over the weights. Shared-coefficient neighbour fits, the depth fits (a linear smoother whose hat matrix
// is the same for every element) with their exact leave-one-layer-out residuals, the delta
// correlations and every shuffled-layer-order null are then O(L³) algebra on that matrix, so
// SmolLM2-135M's 30 layers × 885k elements per type cost one pass over the weights and 200
// permutations are free: ~2.2 s for all nine types on 2 CPU cores, weights loading included
// (TestPredictabilityTiming, GROWTHTRAIN_BENCH=1).

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/growthtrain/growthtrain/analysis/stats"
	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/internal/jsonx"
	"github.com/growthtrain/growthtrain/model"
	"gonum.org/v1/gonum/mat"
)

// PredictTypes are the per-layer weight types the predictability diagnostic studies, by their
// short names; PredictTypeParam maps them to names within a layer. Biases (when a model has
// them) are not studied and are left alone by substitution.
var PredictTypes = []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
	"input_layernorm", "post_attention_layernorm"}

// PredictTypeParam returns the parameter name within a layer of a weight type ("gate_proj" ->
// "mlp.gate_proj.weight").
func PredictTypeParam(typ string) (string, error) {
	switch typ {
	case "q_proj", "k_proj", "v_proj", "o_proj":
		return "self_attn." + typ + ".weight", nil
	case "gate_proj", "up_proj", "down_proj":
		return "mlp." + typ + ".weight", nil
	case "input_layernorm", "post_attention_layernorm":
		return typ + ".weight", nil
	}
	return "", fmt.Errorf("unknown weight type %q (want one of %s)", typ, strings.Join(PredictTypes, ", "))
}

// Prediction methods (PredictabilityOptions.SubstituteMethod, PredictLayer).
const (
	// MethodNeighbors predicts W[l] ≈ a·W[l-1] + b·W[l+1] + c with ONE (a, b, c) per weight type
	// and target layer, fitted by ridge regression over the layer's elements (the default: the
	// natural reading of "ridge regression across depth" reported as one R² per type). Endpoint
	// layers use their single neighbour: W[0] ≈ a·W[1] + c.
	MethodNeighbors = "neighbors"
	// MethodNeighborsElementwise fits a separate (a_j, b_j, c_j) for every element j across the
	// interior layers (stats.ElementwiseRidge); endpoints fall back to MethodNeighbors.
	MethodNeighborsElementwise = "neighbors-elementwise"
	// MethodDepth fits every element as a polynomial in normalised depth across all layers
	// (stats.DepthFeatures + stats.RidgeMulti); "depth:N" selects degree N (default 2).
	MethodDepth = "depth"
)

// Substitution orders (PredictabilityOptions.SubstituteOrder).
const (
	OrderPredictable = "predictable" // increasing held-out relative error of the method (most predictable first)
	OrderMiddleOut   = "middle-out"  // L/2, L/2-1, L/2+1, L/2-2, ...
	OrderSequential  = "sequential"  // 0, 1, 2, ...
)

// PredictabilityOptions configures Predictability. Zero values select the defaults.
type PredictabilityOptions struct {
	// Types to study (short names, see PredictTypes); default all nine.
	Types []string `json:"types"`
	// Lambda is the ridge penalty of every fit, on the centred Gram matrix (intercepts are not
	// penalised). Default 0 (ordinary least squares): the shared fits have 2 coefficients over
	// ~10⁵-10⁶ elements and the depth fits 2 over 29 layers, so nothing needs shrinking.
	Lambda float64 `json:"lambda"`
	// Degree of the depth polynomial (default 2). Use DepthIntercept for a mean-only model.
	Degree int `json:"degree"`
	// Permutations of the layer order for the shuffled nulls (default 200), drawn from Seed.
	Permutations int    `json:"permutations"`
	Seed         uint64 `json:"seed"`
	// Elementwise also evaluates the per-element neighbour fit (stats.NeighborR2, 28 refits
	// over all elements per type: ~47 s for SmolLM2-135M's shapes on 2 CPU cores, against ~2 s
	// for everything else). Default off.
	Elementwise bool `json:"elementwise"`
	// MaxSubstitute is the largest number of layers substituted together (default 10; set
	// SkipSubstitution to skip the perplexity part, which needs an Evaluator).
	MaxSubstitute    int    `json:"max_substitute"`
	SkipSubstitution bool   `json:"skip_substitution"`
	SubstituteMethod string `json:"substitute_method"` // default MethodNeighbors; MethodDepth uses Degree
	SubstituteOrder  string `json:"substitute_order"`  // default OrderPredictable
	// SubstituteLayers, when set, is the substitution order itself (overrides SubstituteOrder).
	SubstituteLayers []int `json:"substitute_layers,omitempty"`
	// BootstrapIters for the perplexity-change confidence intervals (default 1000, 95%).
	BootstrapIters int `json:"bootstrap_iters"`
}

// DepthIntercept as PredictabilityOptions.Degree selects the intercept-only depth model (every element
// predicted by its mean over layers).
const DepthIntercept = -1

func (o PredictabilityOptions) withDefaults() PredictabilityOptions {
	if len(o.Types) == 0 {
		o.Types = slices.Clone(PredictTypes)
	}
	if o.Degree == 0 {
		o.Degree = 2
	}
	if o.Permutations == 0 {
		o.Permutations = 200
	}
	if o.MaxSubstitute == 0 {
		o.MaxSubstitute = 10
	}
	if o.SubstituteMethod == "" {
		o.SubstituteMethod = MethodNeighbors
	}
	if o.SubstituteOrder == "" {
		o.SubstituteOrder = OrderPredictable
	}
	if o.BootstrapIters == 0 {
		o.BootstrapIters = 1000
	}
	return o
}

// DepthDegree is the degree of the depth polynomial in effect: Degree, or 0 for DepthIntercept.
func (o PredictabilityOptions) DepthDegree() int {
	if o.Degree < 0 {
		return 0
	}
	return o.Degree
}

// PredictabilityR2 holds R² per layer (index = layer; null where undefined, e.g. neighbour fits at the
// endpoint layers) and pooled over layers. R² of layer l is 1 - Σ_j(W_lj - Ŵ_lj)²/Σ_j(W_lj - W̄_l)²
// (relative to the layer's own mean); Pooled is 1 - Σ_l SS_res,l / Σ_l Σ_j (W_lj - W̄)² with W̄
// the grand mean over the layers scored (stats.LOOResult's definitions). MeanLayer is the mean
// of the finite per-layer values.
type PredictabilityR2 struct {
	InSample       []JSONFloat `json:"in_sample"`
	HeldOut        []JSONFloat `json:"held_out"`
	InSamplePooled JSONFloat   `json:"in_sample_pooled"`
	HeldOutPooled  JSONFloat   `json:"held_out_pooled"`
	InSampleMean   JSONFloat   `json:"in_sample_mean_layer"`
	HeldOutMean    JSONFloat   `json:"held_out_mean_layer"`
}

// PredictabilityNull summarises a statistic's shuffled-layer-order null distribution.
type PredictabilityNull struct {
	Mean JSONFloat `json:"mean"`
	SD   JSONFloat `json:"sd"`
	Q025 JSONFloat `json:"q025"`
	Q975 JSONFloat `json:"q975"`
	// PGreater / PLess: one-sided Monte-Carlo p-values (1 + #{null ≥ obs}) / (1 + N) and the
	// mirror; PTwoSided = min(1, 2·min(PGreater, PLess)).
	PGreater  JSONFloat `json:"p_greater"`
	PLess     JSONFloat `json:"p_less"`
	PTwoSided JSONFloat `json:"p_two_sided"`
}

func newPredictabilityNull(vals []float64, obs float64) PredictabilityNull {
	d := stats.Summarise(vals)
	return PredictabilityNull{Mean: JSONFloat(d.Mean), SD: JSONFloat(d.SD), Q025: JSONFloat(d.Q025), Q975: JSONFloat(d.Q975),
		PGreater: JSONFloat(d.PValueGreater(obs)), PLess: JSONFloat(d.PValueLess(obs)), PTwoSided: JSONFloat(d.PValueTwoSided(obs))}
}

// predictabilityR2 converts the stats package's per-layer scores.
func predictabilityR2(r stats.LayerR2) PredictabilityR2 {
	return PredictabilityR2{InSample: jsonx.Floats(r.InSample.PerFold), HeldOut: jsonx.Floats(r.HeldOut.PerFold),
		InSamplePooled: JSONFloat(r.InSample.Pooled), HeldOutPooled: JSONFloat(r.HeldOut.Pooled),
		InSampleMean: JSONFloat(r.InSample.MeanFold), HeldOutMean: JSONFloat(r.HeldOut.MeanFold)}
}

// PredictabilityDelta is the delta-correlation statistic of one weight type: corr(D_l, D_{l+1}) with
// D_l = vec(W[l+1] - W[l]) (stats.DeltaCorrelations), per l = 0..L-3 and its mean, next to the
// null models: independent layers (analytic -0.5, stats.IndependentDeltaNull) and shuffled layer
// order (permutations of the same layers).
type PredictabilityDelta struct {
	PerLayer    []JSONFloat        `json:"per_layer"` // index l: corr(W[l+1]-W[l], W[l+2]-W[l+1])
	Mean        JSONFloat          `json:"mean"`
	Independent float64            `json:"independent_null"`
	Shuffled    PredictabilityNull `json:"shuffled_null"`
}

// PredictabilityType is the predictability of one weight type.
type PredictabilityType struct {
	Type     string `json:"type"`
	Elements int    `json:"elements"`
	// Neighbor: shared (a, b, c) per target layer (interior layers 1..L-2). In-sample: fitted on
	// the layer itself (3 numbers over all its elements). Held-out (leave-one-layer-out): one
	// (a, b, c) fitted on the pooled elements of all other interior layers' triples and applied
	// to layer l (whose own weights still serve as neighbours of l±1 in the training triples,
	// as for any interpolation model).
	Neighbor PredictabilityR2 `json:"neighbor"`
	// NeighborCoef[l] = [a, b, c] of the in-sample fit of layer l (null at endpoints).
	NeighborCoef [][3]JSONFloat `json:"neighbor_coef"`
	// NeighborAvg: the unfitted neighbour average (W[l-1] + W[l+1])/2, as in ablation.
	NeighborAvg PredictabilityR2 `json:"neighbor_avg"` // held-out equals in-sample (nothing is fitted)
	// NeighborElementwise (PredictabilityOptions.Elementwise): per-element coefficients across layers.
	NeighborElementwise *PredictabilityR2 `json:"neighbor_elementwise,omitempty"`
	// Depth: polynomial in normalised depth, per element, all layers. Held-out is exact
	// leave-one-layer-out (hat-matrix identity), so endpoints are extrapolations.
	Depth PredictabilityR2 `json:"depth"`
	// Shuffled-layer-order nulls of the pooled held-out R² of Neighbor and Depth.
	NeighborNull PredictabilityNull  `json:"neighbor_held_out_null"`
	DepthNull    PredictabilityNull  `json:"depth_held_out_null"`
	Delta        PredictabilityDelta `json:"delta"`
}

// PredictabilitySubstStep is one point of the error-accumulation curve: the first K layers of the order
// replaced together by their predictions (computed from the original weights).
type PredictabilitySubstStep struct {
	K      int       `json:"k"`
	Layers []int     `json:"layers"`
	PPL    JSONFloat `json:"ppl"`
	Change JSONFloat `json:"change"` // PPL / base PPL - 1
	CILo   JSONFloat `json:"ci_lo"`  // 95% bootstrap CI of Change over eval windows
	CIHi   JSONFloat `json:"ci_hi"`
}

// PredictabilitySubstitution is the substitution experiment.
type PredictabilitySubstitution struct {
	Method  string                    `json:"method"`
	Order   string                    `json:"order"`
	Layers  []int                     `json:"layers"` // the substitution order (first MaxSubstitute)
	BasePPL JSONFloat                 `json:"base_ppl"`
	Steps   []PredictabilitySubstStep `json:"steps"`
}

// PredictabilityResult is the outcome of Predictability.
type PredictabilityResult struct {
	Options   PredictabilityOptions `json:"options"`
	NumLayers int                   `json:"num_layers"`
	Types     []PredictabilityType  `json:"types"`
	// LayerError[l]: held-out relative error of SubstituteMethod at layer l over the studied
	// types, Σ_types SS_res / Σ_types SS_tot (= 1 - R² pooled over types, dominated by the big
	// MLP matrices); null where the method has no held-out prediction (neighbour endpoints).
	// OrderPredictable sorts by it.
	LayerError   []JSONFloat                 `json:"layer_error"`
	Substitution *PredictabilitySubstitution `json:"substitution,omitempty"`
	Seconds      map[string]float64          `json:"seconds"`
}

// Predictability runs the weight-predictability diagnostic on m. e (for the substitution
// perplexities) must evaluate m; it may be nil when opts.SkipSubstitution is set.
func Predictability(m *model.Model, e *Evaluator, opts PredictabilityOptions) (res *PredictabilityResult, err error) {
	defer torch.Recover(&err)
	opts = opts.withDefaults()
	L := m.Config.NumHiddenLayers
	if L < 4 {
		return nil, fmt.Errorf("predictability needs at least 4 layers, model has %d", L)
	}
	if _, _, err := parseMethod(opts.SubstituteMethod); err != nil {
		return nil, err
	}
	if !opts.SkipSubstitution && (e == nil || e.M != m) {
		return nil, errors.New("predictability: substitution needs an Evaluator of the same model (or SkipSubstitution)")
	}
	res = &PredictabilityResult{Options: opts, NumLayers: L, Seconds: map[string]float64{}}
	method, _, _ := parseMethod(opts.SubstituteMethod)
	ssRes := make([]float64, L) // held-out SS of the substitution method, summed over types
	ssTot := make([]float64, L)
	for _, typ := range opts.Types {
		suffix, err := PredictTypeParam(typ)
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		W, err := loadTypeWeights(m, suffix)
		if err != nil {
			return nil, err
		}
		res.Seconds["load"] += time.Since(t0).Seconds()
		t0 = time.Now()
		g := stats.NewGram(W)
		res.Seconds["gram"] += time.Since(t0).Seconds()
		t0 = time.Now()
		pt := PredictabilityType{Type: typ, Elements: len(W[0])}
		nb := g.Neighbors(opts.Lambda)
		pt.Neighbor, pt.NeighborAvg = predictabilityR2(nb.Shared), predictabilityR2(nb.Average)
		pt.NeighborCoef = make([][3]JSONFloat, L)
		for l, c := range nb.Coef {
			pt.NeighborCoef[l] = [3]JSONFloat{JSONFloat(c[0]), JSONFloat(c[1]), JSONFloat(c[2])}
		}
		dp := g.Depth(opts.DepthDegree(), opts.Lambda)
		pt.Depth = predictabilityR2(dp.R2)
		corr, meanCorr := stats.DeltaCorrelations(W)
		pt.Delta = PredictabilityDelta{PerLayer: jsonx.Floats(corr), Mean: JSONFloat(meanCorr), Independent: stats.IndependentDeltaNull}
		nulls := g.ShuffledNulls(opts.Permutations, opts.Seed, opts.Lambda, dp.Hat)
		pt.Delta.Shuffled = newPredictabilityNull(nulls.Delta, meanCorr)
		pt.NeighborNull = newPredictabilityNull(nulls.Neighbor, float64(pt.Neighbor.HeldOutPooled))
		pt.DepthNull = newPredictabilityNull(nulls.Depth, float64(pt.Depth.HeldOutPooled))
		res.Seconds["stats"] += time.Since(t0).Seconds()
		var ewSS []float64
		if opts.Elementwise || method == MethodNeighborsElementwise {
			t0 = time.Now()
			in, loo, err := stats.NeighborR2(W, opts.Lambda)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", typ, err)
			}
			r := PredictabilityR2{InSample: make([]JSONFloat, L), HeldOut: make([]JSONFloat, L),
				InSamplePooled: JSONFloat(in.Pooled), HeldOutPooled: JSONFloat(loo.Pooled),
				InSampleMean: JSONFloat(in.MeanFold), HeldOutMean: JSONFloat(loo.MeanFold)}
			ewSS = make([]float64, L)
			for l := 0; l < L; l++ {
				r.InSample[l], r.HeldOut[l] = JSONFloat(math.NaN()), JSONFloat(math.NaN())
				ewSS[l] = math.NaN()
				if l >= 1 && l <= L-2 {
					r.InSample[l], r.HeldOut[l] = JSONFloat(in.PerFold[l-1]), JSONFloat(loo.PerFold[l-1])
					ewSS[l] = (1 - loo.PerFold[l-1]) * g.CC(l, l)
				}
			}
			pt.NeighborElementwise = &r
			res.Seconds["elementwise"] += time.Since(t0).Seconds()
		}
		for l := 0; l < L; l++ {
			var ss float64
			switch method {
			case MethodNeighbors:
				ss = nb.SSHeldOut[l]
			case MethodNeighborsElementwise:
				ss = ewSS[l]
			default:
				ss = dp.SSHeldOut[l]
			}
			ssRes[l] += ss
			ssTot[l] += g.CC(l, l)
		}
		res.Types = append(res.Types, pt)
	}
	res.LayerError = make([]JSONFloat, L)
	for l := range res.LayerError {
		res.LayerError[l] = JSONFloat(ssRes[l] / ssTot[l])
	}
	if opts.SkipSubstitution {
		return res, nil
	}
	t0 := time.Now()
	sub, err := res.substitute(m, e)
	if err != nil {
		return nil, err
	}
	res.Substitution = sub
	res.Seconds["substitution"] = time.Since(t0).Seconds()
	return res, nil
}

// SubstitutionOrder returns the order in which layers are substituted.
func (r *PredictabilityResult) SubstitutionOrder() []int {
	L := r.NumLayers
	if len(r.Options.SubstituteLayers) > 0 {
		return slices.Clone(r.Options.SubstituteLayers)
	}
	order := make([]int, 0, L)
	switch r.Options.SubstituteOrder {
	case OrderSequential:
		for l := 0; l < L; l++ {
			order = append(order, l)
		}
	case OrderMiddleOut:
		c := L / 2
		order = append(order, c)
		for d := 1; len(order) < L; d++ {
			if c-d >= 0 {
				order = append(order, c-d)
			}
			if c+d < L {
				order = append(order, c+d)
			}
		}
	default: // OrderPredictable
		for l := 0; l < L; l++ {
			order = append(order, l)
		}
		key := func(l int) float64 {
			v := float64(r.LayerError[l])
			if math.IsNaN(v) {
				return math.Inf(1)
			}
			return v
		}
		sort.SliceStable(order, func(i, j int) bool { return key(order[i]) < key(order[j]) })
	}
	return order
}

func (r *PredictabilityResult) substitute(m *model.Model, e *Evaluator) (sub *PredictabilitySubstitution, err error) {
	defer torch.Recover(&err)
	opts := r.Options
	order := r.SubstitutionOrder()
	for _, l := range order {
		if l < 0 || l >= r.NumLayers {
			return nil, fmt.Errorf("substitution layer %d out of range", l)
		}
	}
	K := min(opts.MaxSubstitute, len(order))
	order = order[:K]
	sub = &PredictabilitySubstitution{Method: opts.SubstituteMethod, Order: opts.SubstituteOrder, Layers: slices.Clone(order)}
	if len(opts.SubstituteLayers) > 0 {
		sub.Order = "given"
	}
	// Predictions of every layer from the ORIGINAL weights, computed once.
	method := opts.SubstituteMethod
	if method == MethodDepth {
		method = MethodDepth + ":" + strconv.Itoa(opts.DepthDegree())
	}
	preds, err := predictLayers(m, order, method, opts.Lambda, true)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, p := range preds {
			for _, t := range p {
				t.Close()
			}
		}
	}()
	mods := make([]Mod, K)
	for k := 1; k <= K; k++ {
		set := slices.Clone(order[:k])
		mods[k-1] = Mod{Name: "substitute " + strconv.Itoa(k), From: slices.Min(set), Apply: func(m *model.Model) (func(), error) {
			saved := make([]LayerWeights, 0, len(set))
			undo := func() {
				for i, w := range saved {
					_ = RestoreLayer(m, set[i], w)
					w.Close()
				}
			}
			for _, l := range set {
				w, err := SaveLayer(m, l)
				if err != nil {
					undo()
					return nil, err
				}
				saved = append(saved, w)
				for suffix, v := range preds[l] {
					if err := m.SetParam(model.LayerPrefix(l)+suffix, v); err != nil {
						undo()
						return nil, err
					}
				}
			}
			return undo, nil
		}}
	}
	base, out, err := e.Sweep(mods, nil)
	if err != nil {
		return nil, err
	}
	tokens := e.Tokens()
	sub.BasePPL = JSONFloat(Perplexity(base, tokens))
	for k := 1; k <= K; k++ {
		lo, hi, pt := stats.BootstrapPerplexityChangeCI(base, out[k-1], tokens, opts.BootstrapIters, 0.95, opts.Seed+uint64(k))
		sub.Steps = append(sub.Steps, PredictabilitySubstStep{K: k, Layers: slices.Clone(order[:k]),
			PPL: JSONFloat(Perplexity(out[k-1], tokens)), Change: JSONFloat(pt), CILo: JSONFloat(lo), CIHi: JSONFloat(hi)})
	}
	return sub, nil
}

// loadTypeWeights returns every layer's flattened weights of one type as float64.
func loadTypeWeights(m *model.Model, suffix string) (W [][]float64, err error) {
	defer torch.Recover(&err)
	L := m.Config.NumHiddenLayers
	W = make([][]float64, L)
	for l := 0; l < L; l++ {
		p := m.Param(model.LayerPrefix(l) + suffix)
		if p == nil {
			return nil, fmt.Errorf("model has no parameter %s%s", model.LayerPrefix(l), suffix)
		}
		W[l] = p.Float64s()
	}
	return W, nil
}

// ---- layer prediction ---------------------------------------------------------------------

func parseMethod(method string) (string, int, error) {
	switch {
	case method == MethodNeighbors || method == MethodNeighborsElementwise:
		return method, 0, nil
	case method == MethodDepth:
		return MethodDepth, 2, nil
	case strings.HasPrefix(method, MethodDepth+":"):
		d, err := strconv.Atoi(strings.TrimPrefix(method, MethodDepth+":"))
		if err != nil || d < 0 {
			return "", 0, fmt.Errorf("bad depth degree in %q", method)
		}
		return MethodDepth, d, nil
	}
	return "", 0, fmt.Errorf("unknown prediction method %q (want %s, %s, %s or %s:N)", method,
		MethodNeighbors, MethodNeighborsElementwise, MethodDepth, MethodDepth)
}

// PredictLayer returns layer l's weights as predicted by method (MethodNeighbors,
// MethodNeighborsElementwise, MethodDepth or "depth:N") from the model's current weights, with
// ridge penalty lambda (0 = least squares). Keys are names within the layer
// ("mlp.up_proj.weight", one per PredictTypes entry; biases are not predicted); values have the
// parameter's shape, dtype and device. The fits are in-sample: neighbour coefficients are fitted
// on layer l itself (3 numbers per type), the elementwise and depth fits on all layers
// including l. The tensors belong to the caller's innermost scope, or to the caller if none is
// open (Close them).
func PredictLayer(m *model.Model, l int, method string, lambda float64) (map[string]*torch.Tensor, error) {
	out, err := predictLayers(m, []int{l}, method, lambda, false)
	if err != nil {
		return nil, err
	}
	return out[l], nil
}

// PredictorFor returns PredictLayer with a fixed method and penalty, in the form of the
// manipulation diagnostic's Predictor.
func PredictorFor(method string, lambda float64) func(m *model.Model, l int) (map[string]*torch.Tensor, error) {
	return func(m *model.Model, l int) (map[string]*torch.Tensor, error) {
		return PredictLayer(m, l, method, lambda)
	}
}

// predictLayers predicts several layers from the same (current) weights, loading each type
// once. With persist the returned tensors are persisted (the caller closes them); otherwise they
// belong to the caller's innermost scope.
func predictLayers(m *model.Model, layers []int, method string, lambda float64, persist bool) (out map[int]map[string]*torch.Tensor, err error) {
	defer torch.Recover(&err)
	kind, degree, err := parseMethod(method)
	if err != nil {
		return nil, err
	}
	L := m.Config.NumHiddenLayers
	if L < 2 {
		return nil, fmt.Errorf("layer prediction needs at least 2 layers")
	}
	for _, l := range layers {
		if l < 0 || l >= L {
			return nil, fmt.Errorf("layer %d out of range [0, %d)", l, L)
		}
	}
	if kind == MethodNeighborsElementwise && L < 3 {
		kind = MethodNeighbors
	}
	out = map[int]map[string]*torch.Tensor{}
	for _, l := range layers {
		out[l] = map[string]*torch.Tensor{}
	}
	defer func() {
		if err != nil {
			for _, p := range out {
				for _, t := range p {
					t.Close()
				}
			}
			out = nil
		}
	}()
	for _, typ := range PredictTypes {
		suffix, _ := PredictTypeParam(typ)
		ref := m.Param(model.LayerPrefix(0) + suffix)
		if ref == nil {
			return nil, fmt.Errorf("model has no parameter %s%s", model.LayerPrefix(0), suffix)
		}
		shape := ref.Shape()
		W := make([][]float64, L)
		get := func(i int) []float64 {
			if W[i] == nil {
				W[i] = m.Param(model.LayerPrefix(i) + suffix).Float64s()
			}
			return W[i]
		}
		var ew *stats.ElementwiseFit
		var df *stats.MultiFit
		var x *mat.Dense
		switch kind {
		case MethodNeighborsElementwise:
			var feats [][][]float64
			var targets [][]float64
			for t := 1; t <= L-2; t++ {
				feats = append(feats, [][]float64{get(t - 1), get(t + 1)})
				targets = append(targets, get(t))
			}
			if ew, err = stats.ElementwiseRidge(feats, targets, lambda, true); err != nil {
				return nil, err
			}
		case MethodDepth:
			for i := 0; i < L; i++ {
				get(i)
			}
			x = stats.DepthFeatures(L, degree)
			if df, err = stats.RidgeMulti(x, W, lambda, true); err != nil {
				return nil, err
			}
		}
		for _, l := range layers {
			var pred []float64
			switch {
			case kind == MethodDepth:
				pred = df.Predict(mat.Row(nil, l, x))
			case kind == MethodNeighborsElementwise && l >= 1 && l <= L-2:
				if pred, err = ew.Predict([][]float64{get(l - 1), get(l + 1)}); err != nil {
					return nil, err
				}
			default:
				var feats [][]float64
				if l > 0 {
					feats = append(feats, get(l-1))
				}
				if l < L-1 {
					feats = append(feats, get(l+1))
				}
				coef, b0, err := stats.RidgeCols(feats, get(l), lambda, true)
				if err != nil {
					return nil, err
				}
				pred = make([]float64, len(get(l)))
				for j := range pred {
					v := b0
					for k, f := range feats {
						v += coef[k] * f[j]
					}
					pred[j] = v
				}
			}
			var t *torch.Tensor
			torch.WithScope(func(s *torch.Scope) {
				t = torch.FromSlice(pred, shape...).ToDeviceDType(m.Device, m.DType).Contiguous()
				s.Keep(t)
			})
			if persist {
				torch.Persist(t)
			}
			out[l][suffix] = t
		}
	}
	return out, nil
}
