package analysis

import (
	"fmt"
	"math"

	"github.com/growthtrain/growthtrain/analysis/stats"
	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/model"
)

// The logit lens (nostalgebraist 2020; TransformerLens' accumulated_resid with apply_ln): every
// layer's output, put through the model's own final norm and LM head, read as a next-token
// distribution. How fast the loss falls, and how far each layer's distribution still is from the
// final one (KL), say where in depth the prediction is formed.

// LensOptions configures Lens. The zero value uses the defaults.
type LensOptions struct {
	Bootstrap int     // resamples of the windows for every interval (default 1000)
	Level     float64 // confidence level (default 0.95)
	Seed      uint64
	Progress  func(done, total int) // called after each batch (optional)
}

// LensResult is the result of Lens: one entry per residual-stream depth.
type LensResult struct {
	NumLayers int         `json:"num_layers"`
	Windows   int         `json:"windows"`
	Tokens    int         `json:"tokens"` // predicted positions the means are over
	Bootstrap int         `json:"bootstrap_iters"`
	Level     float64     `json:"ci_level"`
	Seed      uint64      `json:"seed"`
	Depths    []LensDepth `json:"depths"` // NumLayers + 1 entries, depth 0 first
	Notes     []string    `json:"notes"`
}

// LensDepth is the lens at one depth of the residual stream.
type LensDepth struct {
	// Depth is TransformerLens' index into accumulated_resid: 0 is the embeddings (the input of
	// layer 0), d the output of layer d-1; depth NumLayers is the model's own final output.
	Depth int `json:"depth"`
	Layer int `json:"layer"` // the layer whose output this is (Depth - 1; -1 for the embeddings)
	// Loss is the mean next-token cross-entropy (nats per predicted token) of
	// head(final_norm(h)), with its bootstrap interval over windows; PPL = exp(Loss).
	Loss     JSONFloat `json:"loss"`
	LossCILo JSONFloat `json:"loss_ci_lo"`
	LossCIHi JSONFloat `json:"loss_ci_hi"`
	PPL      JSONFloat `json:"ppl"`
	// KL is the mean KL(final ‖ this depth) in nats: Σ_v p_final(v) (log p_final(v) - log
	// p_depth(v)), 0 at the last depth.
	KL     JSONFloat `json:"kl"`
	KLCILo JSONFloat `json:"kl_ci_lo"`
	KLCIHi JSONFloat `json:"kl_ci_hi"`
	// Top1 is the fraction of positions whose most likely token equals the final output's.
	Top1 JSONFloat `json:"top1_agreement"`
}

// lensChunkPositions bounds the positions whose [positions, vocab] logits exist at once (a
// 49k vocabulary: 200 MB of float32 per 1024 positions, times the few tensors alive).
const lensChunkPositions = 1024

// Lens computes the logit lens over e's windows: one forward pass per batch (Evaluator.Pass),
// then for every depth the head's logits on that depth's hidden states. Per-window sums stay on
// the device until the batch is done and are read once per batch.
func Lens(e *Evaluator, opts LensOptions) (res *LensResult, err error) {
	if opts.Bootstrap <= 0 {
		opts.Bootstrap = 1000
	}
	if opts.Level <= 0 || opts.Level >= 1 {
		opts.Level = 0.95
	}
	L := e.M.Config.NumHiddenLayers
	W := len(e.Windows)
	if W == 0 {
		return nil, fmt.Errorf("lens: no evaluation windows")
	}
	// sums[k][d][w]: k = 0 NLL, 1 KL, 2 top-1 agreements, of window w at depth d.
	var sums [3][][]float64
	for k := range sums {
		sums[k] = make([][]float64, L+1)
		for d := range sums[k] {
			sums[k][d] = make([]float64, W)
		}
	}
	err = e.Pass(func(start int, wins [][]int64, b model.Batch, hidden []*torch.Tensor) error {
		B, T := b.Inputs.Size(0), b.Inputs.Size(1)
		step := max(1, lensChunkPositions/T)
		var parts []*torch.Tensor // per chunk of windows: [3, L+1, windows]
		for w0 := int64(0); w0 < B; w0 += step {
			n := min(step, B-w0)
			hs := make([]*torch.Tensor, L+1)
			for d, h := range hidden {
				hs[d] = h.Narrow(0, w0, n)
			}
			parts = append(parts, lensSums(e.M, hs, b.Targets.Narrow(0, w0, n)))
		}
		all := torch.Cat(parts, 2).Float64s() // [3, L+1, B]: the one read of the batch
		for k := range sums {
			for d := 0; d <= L; d++ {
				off := (k*(L+1) + d) * int(B)
				copy(sums[k][d][start:], all[off:off+int(B)])
			}
		}
		return nil
	}, opts.Progress)
	if err != nil {
		return nil, err
	}
	tokens := e.Tokens()
	res = &LensResult{NumLayers: L, Windows: W, Bootstrap: opts.Bootstrap, Level: opts.Level, Seed: opts.Seed}
	for _, n := range tokens {
		res.Tokens += int(n)
	}
	perToken := func(a, n []float64) float64 {
		var s, c float64
		for i := range a {
			s += a[i]
			c += n[i]
		}
		return s / c
	}
	for d := 0; d <= L; d++ {
		lo, hi, loss := stats.BootstrapPairedCI(sums[0][d], tokens, perToken, opts.Bootstrap, opts.Level, opts.Seed)
		klLo, klHi, kl := stats.BootstrapPairedCI(sums[1][d], tokens, perToken, opts.Bootstrap, opts.Level, opts.Seed)
		res.Depths = append(res.Depths, LensDepth{Depth: d, Layer: d - 1,
			Loss: JSONFloat(loss), LossCILo: JSONFloat(lo), LossCIHi: JSONFloat(hi), PPL: JSONFloat(math.Exp(loss)),
			KL: JSONFloat(kl), KLCILo: JSONFloat(klLo), KLCIHi: JSONFloat(klHi),
			Top1: JSONFloat(perToken(sums[2][d], tokens))})
	}
	res.Notes = []string{
		"Logit lens: depth d's hidden state (0 = embeddings, d = output of layer d-1, before the final norm) through the model's final RMSNorm and LM head, as TransformerLens' accumulated_resid(apply_ln=True) with the norm recomputed at every depth; depth " +
			fmt.Sprint(L) + " is the model's own output.",
		"loss: mean next-token cross-entropy in nats per predicted token; KL: mean KL(final ‖ depth) in nats; top-1: fraction of positions whose argmax equals the final output's.",
		fmt.Sprintf("%g%% percentile bootstrap intervals over %d resamples of the %d evaluation windows (seed %d).", opts.Level*100, opts.Bootstrap, W, opts.Seed),
	}
	return res, nil
}

// lensSums returns, for windows with hidden states hidden (depth 0..L) and targets [n, T], the
// per-window sums at every depth as a [3, L+1, n] float64 tensor: the next-token NLL (through
// HeadLoss, the one loss, so the last depth is exactly the evaluator's baseline), the KL of the
// final distribution to this depth's and the top-1 agreements with the final output, over the
// positions that have a target.
func lensSums(m *model.Model, hidden []*torch.Tensor, targets *torch.Tensor) *torch.Tensor {
	L := len(hidden) - 1
	mask := targets.EqScalar(model.IgnoreIndex).LogicalNot().To(torch.Float64) // [n, T]
	final := m.Head(hidden[L])
	logpFinal := final.LogSoftmax(-1)
	pFinal := logpFinal.Exp()
	topFinal := final.Argmax(-1, false)
	nll, kl, top := make([]*torch.Tensor, L+1), make([]*torch.Tensor, L+1), make([]*torch.Tensor, L+1)
	for d := 0; d <= L; d++ {
		torch.WithScope(func(s *torch.Scope) {
			nll[d] = s.Keep(m.HeadLoss(hidden[d], targets, model.LossOptions{Reduction: model.LossPerRow}))
			logits, logp := final, logpFinal
			if d < L {
				logits = m.Head(hidden[d])
				logp = logits.LogSoftmax(-1)
			}
			perPos := pFinal.Mul(logpFinal.Sub(logp)).Sum(false, -1).To(torch.Float64) // [n, T]
			kl[d] = s.Keep(perPos.Mul(mask).Sum(false, 1))
			top[d] = s.Keep(logits.Argmax(-1, false).Eq(topFinal).To(torch.Float64).Mul(mask).Sum(false, 1))
		})
	}
	return torch.Stack([]*torch.Tensor{torch.Stack(nll, 0), torch.Stack(kl, 0), torch.Stack(top, 0)}, 0)
}
