package model

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/data"
)

// EvalOptions configures Evaluate.
type EvalOptions struct {
	SeqLen    int                   // tokens per window (default: min(1024, max_position_embeddings))
	Batch     int                   // windows per forward pass (default 1)
	HeadChunk int                   // positions per LM-head/loss chunk, to save memory (0: all at once)
	Progress  func(done, total int) // called after each batch with windows done so far
}

// EvalResult is the outcome of Evaluate.
type EvalResult struct {
	Tokens     int64   // predicted tokens
	Windows    int     // windows evaluated
	NLL        float64 // summed negative log-likelihood (nats)
	Loss       float64 // mean NLL per predicted token
	Perplexity float64 // exp(Loss)
	Seconds    float64
}

// Evaluate returns the perplexity of the model on a token stream, with gradients off.
func (m *Model) Evaluate(ids []int64, opts EvalOptions) (res EvalResult, err error) {
	defer torch.Recover(&err)
	if opts.SeqLen <= 0 {
		opts.SeqLen = min(1024, m.Config.MaxPositionEmbeddings)
	}
	if opts.SeqLen < 2 || opts.SeqLen > m.Config.MaxPositionEmbeddings {
		return res, fmt.Errorf("%w: evaluation window of %d tokens: want 2..%d", ErrInput, opts.SeqLen, m.Config.MaxPositionEmbeddings)
	}
	if opts.Batch <= 0 {
		opts.Batch = 1
	}
	for i, id := range ids {
		if id < 0 || id >= int64(m.Config.VocabSize) {
			return res, fmt.Errorf("%w: token %d at position %d is outside the vocabulary (%d)", ErrInput, id, i, m.Config.VocabSize)
		}
	}
	wins := data.Windows(ids, opts.SeqLen)
	if len(wins) == 0 {
		return res, fmt.Errorf("%w: need at least 2 tokens to evaluate, got %d", ErrInput, len(ids))
	}
	start := time.Now()
	for b := 0; b < len(wins); {
		// Full windows go in batches; a shorter last window goes alone.
		n := 1
		for n < opts.Batch && b+n < len(wins) && len(wins[b+n]) == len(wins[b]) {
			n++
		}
		var berr error
		torch.WithScope(func(s *torch.Scope) {
			torch.NoGrad(func() {
				var nll float64
				if nll, berr = m.sumNLL(wins[b:b+n], opts.HeadChunk); berr == nil {
					res.NLL += nll
				}
			})
		})
		if berr != nil {
			return res, berr
		}
		res.Tokens += int64(n * (len(wins[b]) - 1))
		b += n
		if opts.Progress != nil {
			opts.Progress(b, len(wins))
		}
	}
	res.Windows = len(wins)
	res.Loss = res.NLL / float64(res.Tokens)
	res.Perplexity = math.Exp(res.Loss)
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// sumNLL is the summed next-token NLL of equal-length windows. Every token runs through the
// layers (the Whole layout), and the head and loss run on the positions that predict a token.
func (m *Model) sumNLL(wins [][]int64, chunk int) (float64, error) {
	b, err := Pack(wins, Whole, m.Device)
	if err != nil {
		return 0, err
	}
	h, err := m.Hidden(b.Inputs)
	if err != nil {
		return 0, err
	}
	t := h.Size(1) - 1 // the last position predicts nothing
	loss := m.HeadLoss(h.Slice(1, 0, t, 1), b.Targets.Slice(1, 0, t, 1), LossOptions{Reduction: LossSum, Chunk: chunk})
	return loss.Item(), nil
}

// GenerateOptions configures Generate.
type GenerateOptions struct {
	MaxNewTokens int
	Temperature  float64 // 0: greedy
	TopK         int     // 0: no top-k filter
	Seed         uint64
	StopTokens   []int64             // generation ends after emitting one of these
	OnToken      func(id int64) bool // streaming callback; return false to stop
}

// Generate continues prompt token by token (no KV cache: each step reruns the context, which
// is fine for short demonstrations) and returns the new tokens.
func (m *Model) Generate(prompt []int64, opts GenerateOptions) (out []int64, err error) {
	defer torch.Recover(&err)
	if len(prompt) == 0 {
		return nil, fmt.Errorf("%w: generate: empty prompt", ErrInput)
	}
	gen := torch.NewGenerator(opts.Seed, torch.CPU)
	defer gen.Close()
	ctx := append([]int64(nil), prompt...)
	for len(out) < opts.MaxNewTokens && len(ctx) < m.Config.MaxPositionEmbeddings {
		var next int64
		var ferr error
		torch.WithScope(func(s *torch.Scope) {
			torch.NoGrad(func() {
				x := torch.FromSlice(ctx, 1, int64(len(ctx))).ToDevice(m.Device)
				o, err := m.Forward(x, ForwardOptions{})
				if err != nil {
					ferr = err
					return
				}
				logits := o.Logits.Slice(1, -1, torch.End, 1).Reshape(-1).ToDevice(torch.CPU) // [vocab]
				if opts.Temperature <= 0 {
					next = int64(logits.Argmax(0, false).Item())
					return
				}
				logits = logits.DivScalar(opts.Temperature)
				if opts.TopK > 0 && opts.TopK < m.Config.VocabSize {
					kth, _ := logits.TopK(int64(opts.TopK), 0, true)
					min := kth.Narrow(0, int64(opts.TopK)-1, 1)
					logits = logits.MaskedFill(logits.Lt(min), math.Inf(-1))
				}
				next = int64(logits.Softmax(0).Multinomial(1, false, gen).Item())
			})
		})
		if ferr != nil {
			return out, fmt.Errorf("generate: %w", ferr)
		}
		out = append(out, next)
		ctx = append(ctx, next)
		if opts.OnToken != nil && !opts.OnToken(next) {
			break
		}
		if slices.Contains(opts.StopTokens, next) {
			break
		}
	}
	return out, nil
}
