package analysis

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/growthtrain/growthtrain/analysis/stats"
	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/model"
	"gonum.org/v1/gonum/mat"
)

// Structure: what the weights and the hidden states of each layer look like, without
// changing anything — norms, ranks and spectra of the weight matrices, their similarity across
// layers, how much each layer turns the residual stream (angular distance, ShortGPT's Block
// Influence) and how spread out each attention head is (entropy).

// MatrixTypes are the short names of a layer's weight matrices, in HF order.
var MatrixTypes = []string{"q", "k", "v", "o", "gate", "up", "down"}

// matrixSuffix maps a short matrix type to its parameter name within a layer.
var matrixSuffix = map[string]string{
	"q": "self_attn.q_proj.weight", "k": "self_attn.k_proj.weight", "v": "self_attn.v_proj.weight",
	"o": "self_attn.o_proj.weight", "gate": "mlp.gate_proj.weight", "up": "mlp.up_proj.weight",
	"down": "mlp.down_proj.weight",
}

// CosineAll is the key of the cross-layer similarity of all seven matrices concatenated.
const CosineAll = "all"

// StructureOptions configures Structure. The zero value computes everything.
type StructureOptions struct {
	// SpectrumTopK keeps the k largest normalised singular values of each matrix (0 = all).
	SpectrumTopK int
	// MaxWindows limits the windows used for the hidden-state and attention measures (the
	// first MaxWindows; 0 = all). The weight measures do not use windows.
	MaxWindows int
	// SkipHidden skips the hidden-state and attention measures; SkipEntropy only the latter.
	SkipHidden, SkipEntropy bool
	// Progress (optional) is called after each batch of windows.
	Progress func(done, total int)
}

// StructureResult is the result of Structure.
type StructureResult struct {
	NumLayers   int                      `json:"num_layers"`
	MatrixTypes []string                 `json:"matrix_types"`
	Matrices    []StructureLayer         `json:"matrices"`         // one per layer
	Cosine      map[string][][]JSONFloat `json:"cosine"`           // type (or "all") -> [layer][layer]
	Hidden      []StructureHidden        `json:"hidden,omitempty"` // one per layer
	Entropy     *StructureEntropy        `json:"attention_entropy,omitempty"`
	Windows     int                      `json:"windows"` // windows used for Hidden and Entropy
	Tokens      int                      `json:"tokens"`  // token positions averaged over
	Notes       []string                 `json:"notes"`
}

// StructureLayer holds the measures of one layer's weight matrices, in MatrixTypes order.
type StructureLayer struct {
	Layer    int               `json:"layer"`
	Matrices []StructureMatrix `json:"matrices"`
}

// StructureMatrix are the norms, ranks and spectrum of one weight matrix (float64, one SVD).
type StructureMatrix struct {
	Type          string    `json:"type"`
	Rows          int       `json:"rows"`
	Cols          int       `json:"cols"`
	Frobenius     JSONFloat `json:"frobenius"`
	Spectral      JSONFloat `json:"spectral"`       // largest singular value
	StableRank    JSONFloat `json:"stable_rank"`    // ‖W‖_F² / ‖W‖₂²
	EffectiveRank JSONFloat `json:"effective_rank"` // Roy & Vetterli: exp(entropy of σ/Σσ)
	// Spectrum is σ_i / σ_max, descending (the top SpectrumTopK, or all).
	Spectrum []JSONFloat `json:"spectrum"`
}

// StructureHidden measures how layer l changes the residual stream, from the baseline hidden
// states: x = the layer's input, y = its output, per token position; means are over all
// (non-padding) token positions of the windows used, pooled.
type StructureHidden struct {
	Layer int `json:"layer"`
	// AngularDistance is mean arccos(cos(x, y)) / π (0 = same direction, 0.5 = orthogonal).
	AngularDistance JSONFloat `json:"angular_distance"`
	// BlockInfluence is ShortGPT's BI = 1 - mean cos(x, y).
	BlockInfluence JSONFloat `json:"block_influence"`
	// RelativeUpdate is mean ‖y - x‖ / ‖x‖.
	RelativeUpdate JSONFloat `json:"relative_update"`
}

// StructureEntropy is the entropy (nats) of each head's attention distribution, averaged over
// query positions (non-padding, pooled over windows).
type StructureEntropy struct {
	Heads int           `json:"heads"`
	Mean  [][]JSONFloat `json:"mean"` // [layer][head], nats
	// Normalised divides each query's entropy by log(number of keys it sees) (1 = uniform over
	// the past) and averages over query positions ≥ 1 (position 0 sees one key).
	Normalised [][]JSONFloat `json:"normalised"`
}

// Structure computes the weight, hidden-state and attention measures of e's model.
func Structure(e *Evaluator, opts StructureOptions) (res *StructureResult, err error) {
	defer torch.Recover(&err)
	m := e.M
	L := m.Config.NumHiddenLayers
	res = &StructureResult{NumLayers: L, MatrixTypes: slices.Clone(MatrixTypes), Cosine: map[string][][]JSONFloat{}}
	if err := res.weights(m, opts); err != nil {
		return nil, err
	}
	res.Notes = append(res.Notes,
		"Matrix measures from one float64 SVD per matrix: Frobenius and spectral norm, stable rank ‖W‖_F²/‖W‖₂², effective rank exp(H(σ/Σσ)) (Roy & Vetterli); spectra are σ/σ_max.",
		"Cross-layer similarity: cosine of the flattened weights of each matrix type; \"all\" concatenates the seven matrices of a layer.")
	if opts.SkipHidden {
		return res, nil
	}
	if err := res.hidden(e, opts); err != nil {
		return nil, err
	}
	res.Notes = append(res.Notes, fmt.Sprintf("Hidden-state measures over %d windows (%d token positions, padding excluded), input vs output of each layer, float64 cosines: angular distance = mean arccos(cos)/π; block influence (ShortGPT) = 1 - mean cos; relative update = mean ‖y-x‖/‖x‖.",
		res.Windows, res.Tokens))
	if res.Entropy != nil {
		res.Notes = append(res.Notes, "Attention entropy per head in nats, mean over query positions; normalised = entropy / log(keys visible), mean over positions ≥ 1 (1 = uniform attention over the past).")
	}
	return res, nil
}

// weights computes the matrix measures and the cross-layer cosines, one matrix type at a time
// (float64 copies of one type for all layers are held at once).
func (res *StructureResult) weights(m *model.Model, opts StructureOptions) error {
	L := m.Config.NumHiddenLayers
	res.Matrices = make([]StructureLayer, L)
	for l := range res.Matrices {
		res.Matrices[l] = StructureLayer{Layer: l, Matrices: make([]StructureMatrix, len(MatrixTypes))}
	}
	frob := map[string][]float64{}
	cosF := map[string][][]float64{}
	for ti, typ := range MatrixTypes {
		W := make([][]float64, L)
		shape := make([][]int64, L)
		for l := 0; l < L; l++ {
			p := m.Param(model.LayerPrefix(l) + matrixSuffix[typ])
			shape[l] = p.Shape()
			W[l] = p.Float64s()
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, runtime.GOMAXPROCS(0))
		for l := 0; l < L; l++ {
			wg.Add(1)
			go func(l int) {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				rows, cols := int(shape[l][0]), int(shape[l][1])
				mm := stats.Metrics(mat.NewDense(rows, cols, W[l]))
				spec := mm.Singular
				if k := opts.SpectrumTopK; k > 0 && k < len(spec) {
					spec = spec[:k]
				}
				norm := make([]float64, len(spec))
				for i, s := range spec {
					norm[i] = s / mm.Spectral
				}
				res.Matrices[l].Matrices[ti] = StructureMatrix{Type: typ, Rows: rows, Cols: cols,
					Frobenius: JSONFloat(mm.Frobenius), Spectral: JSONFloat(mm.Spectral),
					StableRank: JSONFloat(mm.StableRank), EffectiveRank: JSONFloat(mm.EffectiveRank),
					Spectrum: jsonFloats(norm)}
			}(l)
		}
		wg.Wait()
		c := stats.CosineMatrix(W)
		cosF[typ] = c
		res.Cosine[typ] = jsonMatrix(c)
		frob[typ] = make([]float64, L)
		for l := range W {
			frob[typ][l] = float64(res.Matrices[l].Matrices[ti].Frobenius)
		}
	}
	// All seven matrices concatenated: dot products recovered from cosines and norms.
	all := make([][]float64, L)
	for i := range all {
		all[i] = make([]float64, L)
		for j := range all[i] {
			var dot, ni, nj float64
			for _, typ := range MatrixTypes {
				fi, fj := frob[typ][i], frob[typ][j]
				ni += fi * fi
				nj += fj * fj
				if c := cosF[typ][i][j]; !math.IsNaN(c) {
					dot += c * fi * fj
				}
			}
			all[i][j] = math.NaN()
			if ni > 0 && nj > 0 {
				all[i][j] = math.Max(-1, math.Min(1, dot/math.Sqrt(ni*nj)))
			}
		}
	}
	res.Cosine[CosineAll] = jsonMatrix(all)
	return nil
}

// hidden computes the hidden-state change and attention entropy of every layer from the
// baseline forward pass, batch by batch; right padding (model.Pack) is excluded by
// counting only positions t < len(window).
func (res *StructureResult) hidden(e *Evaluator, opts StructureOptions) error {
	m := e.M
	L, H := m.Config.NumHiddenLayers, m.Config.NumAttentionHeads
	wins := e.Windows
	if opts.MaxWindows > 0 && opts.MaxWindows < len(wins) {
		wins = wins[:opts.MaxWindows]
	}
	batch := e.batchSize()
	sumCos, sumAng, sumRel := make([]float64, L), make([]float64, L), make([]float64, L)
	var count float64
	entropy := !opts.SkipEntropy
	sumEnt, sumNorm := make([][]float64, L), make([][]float64, L)
	for l := range sumEnt {
		sumEnt[l], sumNorm[l] = make([]float64, H), make([]float64, H)
	}
	var countNorm float64
	for start := 0; start < len(wins); start += batch {
		ws := wins[start:min(start+batch, len(wins))]
		T := 0
		for _, w := range ws {
			T = max(T, len(w))
		}
		valid := func(b, t int) bool { return t < len(ws[b]) }
		for b := range ws {
			count += float64(len(ws[b]))
			countNorm += float64(max(0, len(ws[b])-1))
		}
		var perr error
		torch.WithScope(func(s *torch.Scope) {
			torch.NoGrad(func() {
				packed, err := model.Pack(ws, model.Whole, m.Device)
				if err != nil {
					perr = err
					return
				}
				h := m.Embed(packed.Inputs)
				// Per layer, the per-token statistics stay on the device; the whole batch is
				// read in one transfer per statistic after the last layer (no host sync per
				// layer), and summed on the host in the same order as before.
				cosL, relL, entL := make([]*torch.Tensor, L), make([]*torch.Tensor, L), make([]*torch.Tensor, L)
				for l := 0; l < L; l++ {
					next := m.Block(l, h)
					torch.WithScope(func(s2 *torch.Scope) {
						x, y := h.To(torch.Float64), next.To(torch.Float64)
						nx := x.Norm(2, false, -1)
						cosL[l] = s2.Keep(x.Mul(y).Sum(false, -1).Div(nx.Mul(y.Norm(2, false, -1)))) // [B*T]
						relL[l] = s2.Keep(y.Sub(x).Norm(2, false, -1).Div(nx))
						if entropy {
							p := m.AttentionProbs(l, h)
							entL[l] = s2.Keep(p.Mul(p.Clamp(1e-30, math.Inf(1)).Log()).Sum(false, -1).Neg()) // [B*H*T]
						}
					})
					h = next
				}
				cosAll, relAll := torch.Stack(cosL, 0).Float64s(), torch.Stack(relL, 0).Float64s()
				var entAll []float64
				if entropy {
					entAll = torch.Stack(entL, 0).Float64s()
				}
				nTok, nEnt := len(cosAll)/L, len(entAll)/L
				for l := 0; l < L; l++ {
					cos, rel := cosAll[l*nTok:(l+1)*nTok], relAll[l*nTok:(l+1)*nTok]
					for b := range ws {
						for t := 0; t < T; t++ {
							if !valid(b, t) {
								continue
							}
							c := math.Max(-1, math.Min(1, cos[b*T+t]))
							sumCos[l] += c
							sumAng[l] += math.Acos(c) / math.Pi
							sumRel[l] += rel[b*T+t]
						}
					}
					if !entropy {
						continue
					}
					ent := entAll[l*nEnt : (l+1)*nEnt]
					for b := range ws {
						for hd := 0; hd < H; hd++ {
							row := ent[(b*H+hd)*T : (b*H+hd+1)*T]
							for t := 0; t < len(ws[b]); t++ {
								sumEnt[l][hd] += row[t]
								if t > 0 {
									sumNorm[l][hd] += row[t] / math.Log(float64(t+1))
								}
							}
						}
					}
				}
			})
		})
		if perr != nil {
			return perr
		}
		if opts.Progress != nil {
			opts.Progress(min(start+batch, len(wins)), len(wins))
		}
	}
	res.Windows, res.Tokens = len(wins), int(count)
	res.Hidden = make([]StructureHidden, L)
	for l := range res.Hidden {
		res.Hidden[l] = StructureHidden{Layer: l, AngularDistance: JSONFloat(sumAng[l] / count),
			BlockInfluence: JSONFloat(1 - sumCos[l]/count), RelativeUpdate: JSONFloat(sumRel[l] / count)}
	}
	if entropy {
		ae := &StructureEntropy{Heads: H, Mean: make([][]JSONFloat, L), Normalised: make([][]JSONFloat, L)}
		for l := 0; l < L; l++ {
			ae.Mean[l], ae.Normalised[l] = make([]JSONFloat, H), make([]JSONFloat, H)
			for hd := 0; hd < H; hd++ {
				ae.Mean[l][hd] = JSONFloat(sumEnt[l][hd] / count)
				ae.Normalised[l][hd] = JSONFloat(sumNorm[l][hd] / countNorm)
			}
		}
		res.Entropy = ae
	}
	return nil
}

func jsonMatrix(x [][]float64) [][]JSONFloat {
	out := make([][]JSONFloat, len(x))
	for i, r := range x {
		out[i] = jsonFloats(r)
	}
	return out
}

// Structure metric names for Metric.
const (
	MetricFrobenius     = "frobenius"
	MetricSpectral      = "spectral"
	MetricStableRank    = "stable_rank"
	MetricEffectiveRank = "effective_rank"
)

// Metric returns one matrix measure (a Metric* name) of one matrix type per layer (NaN for
// unknown names).
func (res *StructureResult) Metric(typ, metric string) []float64 {
	ti := slices.Index(res.MatrixTypes, typ)
	out := nanSlice(len(res.Matrices))
	if ti < 0 {
		return out
	}
	for l, lm := range res.Matrices {
		s := lm.Matrices[ti]
		switch metric {
		case MetricFrobenius:
			out[l] = float64(s.Frobenius)
		case MetricSpectral:
			out[l] = float64(s.Spectral)
		case MetricStableRank:
			out[l] = float64(s.StableRank)
		case MetricEffectiveRank:
			out[l] = float64(s.EffectiveRank)
		}
	}
	return out
}

// BlockInfluence returns BI per layer (nil without hidden-state measures).
func (res *StructureResult) BlockInfluence() []float64 {
	if res.Hidden == nil {
		return nil
	}
	out := make([]float64, len(res.Hidden))
	for i, h := range res.Hidden {
		out[i] = float64(h.BlockInfluence)
	}
	return out
}

// AngularDistance returns the mean angular distance per layer (nil without hidden-state
// measures).
func (res *StructureResult) AngularDistance() []float64 {
	if res.Hidden == nil {
		return nil
	}
	out := make([]float64, len(res.Hidden))
	for i, h := range res.Hidden {
		out[i] = float64(h.AngularDistance)
	}
	return out
}
