package analysis

import (
	"fmt"
	"math"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/model"
)

// Block angular distance (Gromov et al. 2024, "The Unreasonable Ineffectiveness of the Deeper
// Layers"; the PruneMe tool): for every block of n consecutive layers [l, l+n), the angular
// distance arccos(cos(x, y)) / π between the hidden state x entering layer l and y leaving layer
// l+n-1. A block whose output points where its input did is a candidate for removal; PruneMe
// measures the last token of each window, we also average over every token.

// BlocksOptions configures Blocks.
type BlocksOptions struct {
	Progress func(done, total int) // called after each batch (optional)
}

// BlocksResult is the result of Blocks. LastToken[n-1][l] and AllTokens[n-1][l] are the
// distances of the block of n layers starting at layer l, for n = 1..NumLayers and
// l = 0..NumLayers-n (row n-1 has NumLayers-n+1 entries).
type BlocksResult struct {
	NumLayers int           `json:"num_layers"`
	Windows   int           `json:"windows"`
	Tokens    int           `json:"tokens"` // token positions AllTokens averages over
	LastToken [][]JSONFloat `json:"last_token"`
	AllTokens [][]JSONFloat `json:"all_tokens"`
	Best      []BlocksBest  `json:"best"` // one per n
	Notes     []string      `json:"notes"`
}

// BlocksBest is the most redundant block of each length: the start with the smallest
// last-token distance (PruneMe's choice) and, separately, the smallest all-token distance.
type BlocksBest struct {
	N            int       `json:"n"`
	Start        int       `json:"start"` // by last-token distance; the block is layers Start..Start+N-1
	LastToken    JSONFloat `json:"last_token"`
	AllTokens    JSONFloat `json:"all_tokens"` // of the same block
	StartAll     int       `json:"start_all_tokens"`
	AllTokensMin JSONFloat `json:"all_tokens_min"`
}

// blocksChunkPositions bounds the positions whose stacked float64 hidden states exist at once.
const blocksChunkPositions = 1024

// Blocks computes the block angular distances over e's windows from one forward pass per batch
// (Evaluator.Pass): the hidden states of every depth are normalised, their pairwise cosines at
// each position come from one batched matrix product, and the batch's sums stay on the device
// until they are read, once per batch.
func Blocks(e *Evaluator, opts BlocksOptions) (res *BlocksResult, err error) {
	L := e.M.Config.NumHiddenLayers
	if len(e.Windows) == 0 {
		return nil, fmt.Errorf("blocks: no evaluation windows")
	}
	D := L + 1
	sumAll, sumLast := make([]float64, D*D), make([]float64, D*D)
	var positions int
	err = e.Pass(func(start int, wins [][]int64, b model.Batch, hidden []*torch.Tensor) error {
		B, T := b.Inputs.Size(0), b.Inputs.Size(1)
		valid := make([]float64, 0, B*T)
		last := make([]float64, 0, B*T)
		for _, w := range wins {
			positions += len(w)
			for t := 0; t < int(T); t++ {
				valid = append(valid, b2f(t < len(w)))
				last = append(last, b2f(t == len(w)-1))
			}
		}
		dev := e.M.Device
		masks := torch.Stack([]*torch.Tensor{torch.FromSlice(valid, B, T), torch.FromSlice(last, B, T)}, 0).ToDevice(dev) // [2, B, T]
		step := max(1, blocksChunkPositions/T)
		var acc *torch.Tensor // [2, D, D]
		for w0 := int64(0); w0 < B; w0 += step {
			n := min(step, B-w0)
			torch.WithScope(func(s *torch.Scope) {
				us := make([]*torch.Tensor, D)
				for d, h := range hidden {
					x := h.Narrow(0, w0, n).To(torch.Float64)
					us[d] = x.Div(x.Norm(2, true, -1))
				}
				u := torch.Stack(us, 2)                                 // [n, T, D, hidden]
				dist := angular(u.Matmul(u.Transpose(-1, -2)))          // [n, T, D, D]
				m := masks.Narrow(1, w0, n).Unsqueeze(-1).Unsqueeze(-1) // [2, n, T, 1, 1]
				part := dist.Unsqueeze(0).Mul(m).Sum(false, 1, 2)       // [2, D, D]
				if acc == nil {
					acc = s.Keep(part)
				} else {
					acc = s.Keep(acc.Add(part))
				}
			})
		}
		all := acc.Float64s() // the one read of the batch
		for i := 0; i < D*D; i++ {
			sumAll[i] += all[i]
			sumLast[i] += all[D*D+i]
		}
		return nil
	}, opts.Progress)
	if err != nil {
		return nil, err
	}
	W := len(e.Windows)
	res = &BlocksResult{NumLayers: L, Windows: W, Tokens: positions}
	for n := 1; n <= L; n++ {
		lt, at := make([]JSONFloat, L-n+1), make([]JSONFloat, L-n+1)
		best := BlocksBest{N: n, Start: -1, StartAll: -1, LastToken: JSONFloat(math.NaN()), AllTokens: JSONFloat(math.NaN()), AllTokensMin: JSONFloat(math.NaN())}
		for l := 0; l+n <= L; l++ {
			i := l*D + l + n // input depth l, output depth l+n
			lt[l] = JSONFloat(sumLast[i] / float64(W))
			at[l] = JSONFloat(sumAll[i] / float64(positions))
			if best.Start < 0 || lt[l] < best.LastToken {
				best.Start, best.LastToken, best.AllTokens = l, lt[l], at[l]
			}
			if best.StartAll < 0 || at[l] < best.AllTokensMin {
				best.StartAll, best.AllTokensMin = l, at[l]
			}
		}
		res.LastToken = append(res.LastToken, lt)
		res.AllTokens = append(res.AllTokens, at)
		res.Best = append(res.Best, best)
	}
	res.Notes = []string{
		"Angular distance arccos(cos(x, y))/π between the hidden state x entering layer l (its residual input) and y leaving layer l+n-1 (its residual output, before the final norm), in float64; 0: same direction, 0.5: orthogonal.",
		fmt.Sprintf("last token: the last token of each window, averaged over the %d windows (PruneMe's measure); all tokens: every token position, pooled (%d positions). n = 1 is the structure diagnostic's per-layer angular distance.", W, positions),
		"HF's hidden_states[l] is the input of layer l too, but its last entry is after the final norm; PruneMe's blocks that end at the last layer use that normed state, ours the residual itself.",
		"arccos on the device: Abramowitz & Stegun 4.4.46 (absolute error below 2.5e-8 rad, 8e-9 in units of π).",
	}
	return res, nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// acosCoef are the coefficients of Abramowitz & Stegun 4.4.46: for 0 ≤ a ≤ 1,
// arccos(a) = sqrt(1 - a) · Σ_k c_k a^k + ε with |ε| ≤ 2·10⁻⁸. The bindings have no arccos.
var acosCoef = []float64{1.5707963050, -0.2145988016, 0.0889789874, -0.0501743046, 0.0308918810, -0.0170881256, 0.0066700901, -0.0012624911}

// angular returns arccos(c)/π of cosines c (clamped to [-1, 1]), elementwise on the device:
// arccos(c) = π/2 + sign(c)·(arccos(|c|) - π/2).
func angular(c *torch.Tensor) *torch.Tensor {
	c = c.Clamp(-1, 1)
	a := c.Abs()
	poly := a.MulScalar(acosCoef[len(acosCoef)-1])
	for k := len(acosCoef) - 2; k >= 0; k-- {
		poly = poly.AddScalar(acosCoef[k])
		if k > 0 {
			poly = poly.Mul(a)
		}
	}
	acosAbs := a.Neg().AddScalar(1).Sqrt().Mul(poly)
	return c.Sign().Mul(acosAbs.AddScalar(-math.Pi / 2)).AddScalar(math.Pi / 2).MulScalar(1 / math.Pi)
}
