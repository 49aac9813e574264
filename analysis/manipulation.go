package analysis

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/growthtrain/growthtrain/analysis/stats"
	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/internal/numfmt"
	"github.com/growthtrain/growthtrain/model"
	"gonum.org/v1/gonum/mat"
)

// Weight manipulation: a set of (typically redundant) layers is changed all at once by one of
// several strategies and the perplexity change is measured. The paper reports that of five
// strategies only scaling by alpha = 0.9 preserves quality; it does not name the other four,
// so this offers the likely set.

// Manipulation strategies.
const (
	// ManipScale multiplies the seven weight matrices (q, k, v, o, gate, up, down) of every
	// layer in the set by alpha (norm gains unchanged). Because each branch starts with an
	// RMSNorm, the branch outputs do not scale linearly: attention logits scale by alpha², the
	// value path by alpha², the SwiGLU MLP by about alpha³.
	ManipScale = "scale"
	// ManipNeighbourAverage replaces every parameter of each layer by the mean of its two
	// neighbours' original parameters (one neighbour at the ends), as the ablation does.
	ManipNeighbourAverage = "neighbour-average"
	// ManipCopy replaces every parameter of each layer by the original parameters of layer l-1
	// (l+1 for layer 0).
	ManipCopy = "copy-adjacent"
	// ManipPredicted replaces each layer's parameters by those the caller's predictor returns
	// (ManipulationOptions.Predict, e.g. ridge regression across depth).
	ManipPredicted = "predicted"
	// ManipLowRank truncates each weight matrix to its best rank-r approximation (SVD).
	ManipLowRank = "low-rank"
	// ManipRandom re-initialises each weight matrix with normal noise, mean 0 and standard
	// deviation equal to that matrix's own (norm gains unchanged).
	ManipRandom = "random-init"
)

// ManipulationStrategies lists every strategy, in report order.
var ManipulationStrategies = []string{ManipScale, ManipNeighbourAverage, ManipCopy, ManipPredicted, ManipLowRank, ManipRandom}

// DefaultAlphas are the scale factors swept by default; 0.9 is the paper's.
var DefaultAlphas = []float64{0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1}

// PaperAlpha is the scale factor the paper reports as the one that preserves quality.
const PaperAlpha = 0.9

// DefaultRankFraction is the default rank of ManipLowRank, as a fraction of each matrix's full
// rank min(rows, cols): a 4x compression of the spectrum, strong enough to matter and far from
// both the trivial (full rank) and the destructive (rank 1) ends.
const DefaultRankFraction = 0.25

// Predictor returns new values for layer l's parameters, keyed by their names within the layer
// ("mlp.up_proj.weight"); parameters it leaves out keep their values. It is called on the
// unmodified model, inside a scope that is closed afterwards (the values are copied first).
type Predictor func(m *model.Model, l int) (map[string]*torch.Tensor, error)

// ManipulationOptions configures Manipulation. The zero value runs every strategy with the
// defaults (the predicted one only when Predict is set).
type ManipulationOptions struct {
	Strategies []string  // subset of ManipulationStrategies; nil = all
	Alphas     []float64 // scale factors; nil = DefaultAlphas
	Predict    Predictor // for ManipPredicted; nil skips that strategy (with a note)
	// Rank, when positive, is the absolute rank kept by ManipLowRank (capped at each
	// matrix's full rank); otherwise RankFraction of min(rows, cols), rounded, at least 1.
	Rank         int
	RankFraction float64 // default DefaultRankFraction
	Seed         uint64  // seeds the random re-initialisation and the bootstrap
	Bootstrap    int     // bootstrap resamples (default 1000)
	Level        float64 // confidence level (default 0.95)
	Progress     func(done, total int)
}

// ManipulationResult is the result of Manipulation.
type ManipulationResult struct {
	Layers      []int                 `json:"layers"`
	BaselinePPL JSONFloat             `json:"baseline_ppl"`
	Windows     int                   `json:"windows"`
	Tokens      int                   `json:"tokens"`
	Bootstrap   int                   `json:"bootstrap_iters"`
	Level       float64               `json:"ci_level"`
	Seed        uint64                `json:"seed"`
	Results     []ManipulationOutcome `json:"results"`
	Notes       []string              `json:"notes"`
	BaseNLL     []float64             `json:"-"`
}

// ManipulationOutcome is one strategy (one alpha, for scaling) applied to the whole layer set.
type ManipulationOutcome struct {
	Strategy string    `json:"strategy"`
	Alpha    *float64  `json:"alpha,omitempty"` // ManipScale only
	Detail   string    `json:"detail"`          // the setting, in words
	PPL      JSONFloat `json:"ppl"`
	Change   JSONFloat `json:"change"` // PPL / baseline PPL - 1
	CILo     JSONFloat `json:"ci_lo"`
	CIHi     JSONFloat `json:"ci_hi"`
	Paper    bool      `json:"paper_setting"` // scaling by PaperAlpha
	NLL      []float64 `json:"-"`
}

// DefaultManipulationLayers returns the least important third of the layers (ceil(L/3), at
// least 1) by the ablation variant's perplexity change, ascending by layer index: the
// "redundant" layers the paper manipulates. Layers with a non-finite change are never chosen.
// nil if the variant is missing.
func DefaultManipulationLayers(abl *AblationResult, variant string) []int {
	v := abl.Variant(variant)
	if v == nil {
		return nil
	}
	var layers []int
	var change []float64
	for _, la := range v.Layers {
		if isFinite(float64(la.Change)) {
			layers = append(layers, la.Layer)
			change = append(change, float64(la.Change))
		}
	}
	L := len(v.Layers)
	k := min(max(1, (L+2)/3), len(layers))
	rank := RankByImportance(change)
	var out []int
	for _, i := range rank[len(rank)-k:] {
		out = append(out, layers[i])
	}
	slices.Sort(out)
	return out
}

type manipCase struct {
	res ManipulationOutcome
	mod Mod
}

// Manipulation applies each strategy to all of layers at once and measures the perplexity
// change over the evaluator's windows, with a bootstrap interval (windows resampled jointly).
// All strategies run in one Sweep from the lowest layer of the set.
func Manipulation(e *Evaluator, layers []int, opts ManipulationOptions) (res *ManipulationResult, err error) {
	defer torch.Recover(&err)
	L := e.M.Config.NumHiddenLayers
	layers = slices.Clone(layers)
	slices.Sort(layers)
	layers = slices.Compact(layers)
	if len(layers) == 0 {
		return nil, fmt.Errorf("manipulation needs at least one layer")
	}
	if layers[0] < 0 || layers[len(layers)-1] >= L {
		return nil, fmt.Errorf("manipulation layers %v outside [0, %d)", layers, L)
	}
	if opts.Strategies == nil {
		opts.Strategies = slices.Clone(ManipulationStrategies)
	}
	for _, s := range opts.Strategies {
		if !slices.Contains(ManipulationStrategies, s) {
			return nil, fmt.Errorf("unknown manipulation strategy %q (have %s)", s, strings.Join(ManipulationStrategies, ", "))
		}
	}
	if opts.Alphas == nil {
		opts.Alphas = DefaultAlphas
	}
	if opts.RankFraction <= 0 {
		opts.RankFraction = DefaultRankFraction
	}
	if opts.Bootstrap <= 0 {
		opts.Bootstrap = 1000
	}
	if opts.Level <= 0 || opts.Level >= 1 {
		opts.Level = 0.95
	}
	from := layers[0]
	r := &ManipulationResult{Layers: layers, Windows: len(e.Windows), Bootstrap: opts.Bootstrap, Level: opts.Level, Seed: opts.Seed}
	r.Notes = append(r.Notes, fmt.Sprintf("Each strategy changes layers %s at once; change = PPL / baseline PPL - 1 with %g%% bootstrap intervals (%d resamples of the windows, seed %d).",
		numfmt.Ints(layers), opts.Level*100, opts.Bootstrap, opts.Seed))
	var cases []manipCase
	var caches []map[int]map[string]*torch.Tensor
	defer func() {
		for _, c := range caches {
			closeValues(c)
		}
	}()
	for _, s := range opts.Strategies {
		switch s {
		case ManipScale:
			for _, a := range opts.Alphas {
				alpha := a
				cases = append(cases, manipCase{
					res: ManipulationOutcome{Strategy: s, Alpha: &alpha, Detail: "alpha = " + strconv.FormatFloat(alpha, 'g', -1, 64),
						Paper: math.Abs(alpha-PaperAlpha) < 1e-12},
					mod: scaleMod(layers, alpha),
				})
			}
			r.Notes = append(r.Notes, "scale: q, k, v, o, gate, up and down of each layer multiplied by alpha (norm gains unchanged); alpha = 0.9 is the paper's setting.")
		case ManipNeighbourAverage:
			cases = append(cases, manipCase{
				res: ManipulationOutcome{Strategy: s, Detail: "mean of layers l-1 and l+1 (original weights; one neighbour at the ends)"},
				mod: valuesMod(s, layers, func(m *model.Model) (map[int]map[string]*torch.Tensor, error) {
					out := map[int]map[string]*torch.Tensor{}
					for _, l := range layers {
						v, err := neighbourAverage(m, l, L)
						if err != nil {
							return nil, err
						}
						out[l] = v
					}
					return out, nil
				}),
			})
		case ManipCopy:
			cases = append(cases, manipCase{
				res: ManipulationOutcome{Strategy: s, Detail: "copy of layer l-1 (l+1 for layer 0), original weights"},
				mod: valuesMod(s, layers, func(m *model.Model) (map[int]map[string]*torch.Tensor, error) {
					out := map[int]map[string]*torch.Tensor{}
					for _, l := range layers {
						src := l - 1
						if l == 0 {
							src = 1
						}
						if src >= L {
							return nil, fmt.Errorf("layer %d has no adjacent layer", l)
						}
						out[l] = map[string]*torch.Tensor{}
						for _, n := range layerSuffixes(m, l) {
							// A copy, not a view: src may itself be in the set and written first.
							out[l][n] = m.Param(model.LayerPrefix(src) + n).Detach().Clone()
						}
					}
					return out, nil
				}),
			})
		case ManipPredicted:
			if opts.Predict == nil {
				r.Notes = append(r.Notes, "predicted: skipped, no predictor was supplied.")
				continue
			}
			vals, err := predictedValues(e.M, layers, opts.Predict)
			if err != nil {
				return nil, fmt.Errorf("predicted weights: %w", err)
			}
			caches = append(caches, vals)
			cases = append(cases, manipCase{
				res: ManipulationOutcome{Strategy: s, Detail: "weights from the supplied predictor"},
				mod: valuesMod(s, layers, func(*model.Model) (map[int]map[string]*torch.Tensor, error) { return vals, nil }),
			})
		case ManipLowRank:
			vals, detail, err := lowRankValues(e.M, layers, opts.Rank, opts.RankFraction)
			if err != nil {
				return nil, fmt.Errorf("low-rank weights: %w", err)
			}
			caches = append(caches, vals)
			cases = append(cases, manipCase{
				res: ManipulationOutcome{Strategy: s, Detail: detail},
				mod: valuesMod(s, layers, func(*model.Model) (map[int]map[string]*torch.Tensor, error) { return vals, nil }),
			})
		case ManipRandom:
			seed := opts.Seed
			cases = append(cases, manipCase{
				res: ManipulationOutcome{Strategy: s, Detail: fmt.Sprintf("normal(0, std of each matrix), seed %d; norm gains kept", seed)},
				mod: valuesMod(s, layers, func(m *model.Model) (map[int]map[string]*torch.Tensor, error) {
					return randomValues(m, layers, seed)
				}),
			})
		}
	}
	mods := make([]Mod, len(cases))
	for i, c := range cases {
		mods[i] = c.mod
		mods[i].From = from
	}
	base, out, err := e.Sweep(mods, opts.Progress)
	if err != nil {
		return nil, err
	}
	tokens := e.Tokens()
	for _, n := range tokens {
		r.Tokens += int(n)
	}
	r.BaseNLL = base
	r.BaselinePPL = JSONFloat(Perplexity(base, tokens))
	for i, c := range cases {
		lo, hi, point := stats.BootstrapPerplexityChangeCI(base, out[i], tokens, opts.Bootstrap, opts.Level, opts.Seed)
		c.res.PPL, c.res.Change, c.res.CILo, c.res.CIHi = JSONFloat(Perplexity(out[i], tokens)), JSONFloat(point), JSONFloat(lo), JSONFloat(hi)
		c.res.NLL = out[i]
		r.Results = append(r.Results, c.res)
	}
	return r, nil
}

// scaleMod multiplies the weight matrices of every layer in layers by alpha.
func scaleMod(layers []int, alpha float64) Mod {
	return Mod{Name: "scale " + strconv.FormatFloat(alpha, 'g', -1, 64), From: layers[0], Apply: func(m *model.Model) (func(), error) {
		undo, err := saveLayers(m, layers)
		if err != nil {
			return nil, err
		}
		for _, l := range layers {
			if err := m.ScaleLayer(l, alpha, model.AllMatrices); err != nil {
				undo()
				return nil, err
			}
		}
		return undo, nil
	}}
}

// valuesMod computes new parameter values for several layers from the unmodified model (all
// of them before any is written, so strategies that read other layers of the set see the
// originals), writes them, and restores the originals on undo.
func valuesMod(name string, layers []int, values func(m *model.Model) (map[int]map[string]*torch.Tensor, error)) Mod {
	return Mod{Name: name, From: layers[0], Apply: func(m *model.Model) (func(), error) {
		vals, err := values(m)
		if err != nil {
			return nil, err
		}
		undo, err := saveLayers(m, layers)
		if err != nil {
			return nil, err
		}
		for _, l := range layers {
			for suffix, v := range vals[l] {
				if err := m.SetParam(model.LayerPrefix(l)+suffix, v); err != nil {
					undo()
					return nil, err
				}
			}
		}
		return undo, nil
	}}
}

// saveLayers saves the parameters of layers and returns the function that restores and frees
// them.
func saveLayers(m *model.Model, layers []int) (func(), error) {
	saved := map[int]LayerWeights{}
	undo := func() {
		for l, w := range saved {
			_ = RestoreLayer(m, l, w)
			w.Close()
		}
	}
	for _, l := range layers {
		w, err := SaveLayer(m, l)
		if err != nil {
			undo()
			return nil, err
		}
		saved[l] = w
	}
	return undo, nil
}

func closeValues(v map[int]map[string]*torch.Tensor) {
	for _, byName := range v {
		for _, t := range byName {
			t.Close()
		}
	}
}

// predictedValues calls the predictor for each layer on the unmodified model and keeps copies
// of its values (persisted; the caller closes them).
func predictedValues(m *model.Model, layers []int, predict Predictor) (out map[int]map[string]*torch.Tensor, err error) {
	defer torch.Recover(&err)
	out = map[int]map[string]*torch.Tensor{}
	defer func() {
		if err != nil {
			closeValues(out)
			out = nil
		}
	}()
	for _, l := range layers {
		known := map[string]bool{}
		for _, n := range layerSuffixes(m, l) {
			known[n] = true
		}
		var perr error
		torch.WithScope(func(s *torch.Scope) {
			torch.NoGrad(func() {
				vals, err := predict(m, l)
				if err != nil {
					perr = fmt.Errorf("layer %d: %w", l, err)
					return
				}
				out[l] = map[string]*torch.Tensor{}
				for n, v := range vals {
					if !known[n] {
						perr = fmt.Errorf("layer %d: predictor returned %q, not a parameter of the layer", l, n)
						return
					}
					c := v.Detach().ToDeviceDType(m.Device, m.DType).Clone()
					torch.Persist(c)
					out[l][n] = c
				}
			})
		})
		if perr != nil {
			return out, perr
		}
	}
	return out, nil
}

// isMatrixParam reports whether a parameter (by its name within the layer) is a weight matrix.
func isMatrixParam(suffix string) bool {
	return strings.HasSuffix(suffix, "proj.weight")
}

// randomValues draws, for each weight matrix of the layers (in layer and HF order), normal
// noise with the matrix's own standard deviation, from a CPU generator seeded with seed, so
// the draw is the same on every call and device.
func randomValues(m *model.Model, layers []int, seed uint64) (out map[int]map[string]*torch.Tensor, err error) {
	defer torch.Recover(&err)
	gen := torch.NewGenerator(seed, torch.CPU)
	defer gen.Close()
	out = map[int]map[string]*torch.Tensor{}
	for _, l := range layers {
		out[l] = map[string]*torch.Tensor{}
		for _, n := range layerSuffixes(m, l) {
			if !isMatrixParam(n) {
				continue
			}
			p := m.Param(model.LayerPrefix(l) + n).Detach()
			std := p.To(torch.Float32).Std(false).Item()
			out[l][n] = torch.Randn(p.Shape(), torch.WithGenerator(gen)).MulScalar(std).ToDeviceDType(m.Device, m.DType)
		}
	}
	return out, nil
}

// truncationRank is the rank kept of a rows×cols matrix.
func truncationRank(rows, cols, rank int, fraction float64) int {
	full := min(rows, cols)
	if rank > 0 {
		return min(rank, full)
	}
	return max(1, min(full, int(math.Round(fraction*float64(full)))))
}

// lowRankValues computes the rank-truncated weight matrices of the layers (gonum SVD on float64
// copies, the matrices of a layer in parallel); the values are persisted, the caller closes them.
func lowRankValues(m *model.Model, layers []int, rank int, fraction float64) (out map[int]map[string]*torch.Tensor, detail string, err error) {
	defer torch.Recover(&err)
	out = map[int]map[string]*torch.Tensor{}
	defer func() {
		if err != nil {
			closeValues(out)
			out = nil
		}
	}()
	ranks := map[string]string{}
	var order []string
	for _, l := range layers {
		var names []string
		var shapes [][]int64
		var data [][]float64
		for _, n := range layerSuffixes(m, l) {
			if !isMatrixParam(n) {
				continue
			}
			p := m.Param(model.LayerPrefix(l) + n)
			names = append(names, n)
			shapes = append(shapes, p.Shape())
			data = append(data, p.Float64s())
		}
		recon := make([][]float64, len(names))
		errs := make([]error, len(names))
		var wg sync.WaitGroup
		sem := make(chan struct{}, runtime.GOMAXPROCS(0))
		for i := range names {
			rows, cols := int(shapes[i][0]), int(shapes[i][1])
			k := truncationRank(rows, cols, rank, fraction)
			if _, ok := ranks[names[i]]; !ok {
				order = append(order, names[i])
				ranks[names[i]] = fmt.Sprintf("%s %d/%d", matrixType(names[i]), k, min(rows, cols))
			}
			wg.Add(1)
			go func(i, rows, cols, k int) {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				recon[i], errs[i] = truncateSVD(data[i], rows, cols, k)
			}(i, rows, cols, k)
		}
		wg.Wait()
		out[l] = map[string]*torch.Tensor{}
		for i, n := range names {
			if errs[i] != nil {
				return out, "", fmt.Errorf("layer %d %s: %w", l, n, errs[i])
			}
			torch.WithScope(func(s *torch.Scope) {
				c := torch.FromSlice(recon[i], shapes[i]...).ToDeviceDType(m.Device, m.DType).Contiguous()
				torch.Persist(c)
				out[l][n] = c
			})
		}
	}
	parts := make([]string, len(order))
	for i, n := range order {
		parts[i] = ranks[n]
	}
	how := fmt.Sprintf("%g of full rank", fraction)
	if rank > 0 {
		how = fmt.Sprintf("rank %d (capped at full)", rank)
	}
	return out, "SVD truncation, " + how + ": " + strings.Join(parts, ", "), nil
}

// truncateSVD returns the best rank-k approximation (Eckart–Young) of the row-major
// rows×cols matrix a.
func truncateSVD(a []float64, rows, cols, k int) ([]float64, error) {
	var svd mat.SVD
	if !svd.Factorize(mat.NewDense(rows, cols, a), mat.SVDThin) {
		return nil, fmt.Errorf("SVD failed")
	}
	s := svd.Values(nil)
	var u, v mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	k = min(k, len(s))
	us := mat.DenseCopyOf(u.Slice(0, rows, 0, k))
	for j := 0; j < k; j++ {
		for i := 0; i < rows; i++ {
			us.Set(i, j, us.At(i, j)*s[j])
		}
	}
	out := mat.NewDense(rows, cols, nil)
	out.Mul(us, v.Slice(0, cols, 0, k).T())
	return out.RawMatrix().Data, nil
}

// matrixType maps a parameter name within a layer to its short type ("q", ..., "down").
func matrixType(suffix string) string {
	s := strings.TrimSuffix(suffix, ".weight")
	s = s[strings.LastIndexByte(s, '.')+1:]
	return strings.TrimSuffix(s, "_proj")
}
