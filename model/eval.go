package model

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/growthtrain/growthtrain/bindings/torch"
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

// Windows splits a token stream into consecutive non-overlapping windows of seqLen tokens
// (the last one shorter; a final window of one token predicts nothing and is dropped). Within
// each window every token but the first is predicted from those before it.
func Windows(ids []int64, seqLen int) [][]int64 {
	var out [][]int64
	for start := 0; start < len(ids); start += seqLen {
		w := ids[start:min(start+seqLen, len(ids))]
		if len(w) >= 2 {
			out = append(out, w)
		}
	}
	return out
}

// Evaluate returns the perplexity of the model on a token stream, with gradients off.
func (m *Model) Evaluate(ids []int64, opts EvalOptions) (res EvalResult, err error) {
	defer torch.Recover(&err)
	if opts.SeqLen <= 0 {
		opts.SeqLen = min(1024, m.Config.MaxPositionEmbeddings)
	}
	if opts.SeqLen < 2 || opts.SeqLen > m.Config.MaxPositionEmbeddings {
		return res, fmt.Errorf("evaluation window of %d tokens: want 2..%d", opts.SeqLen, m.Config.MaxPositionEmbeddings)
	}
	if opts.Batch <= 0 {
		opts.Batch = 1
	}
	for i, id := range ids {
		if id < 0 || id >= int64(m.Config.VocabSize) {
			return res, fmt.Errorf("token %d at position %d is outside the vocabulary (%d)", id, i, m.Config.VocabSize)
		}
	}
	wins := Windows(ids, opts.SeqLen)
	if len(wins) == 0 {
		return res, fmt.Errorf("need at least 2 tokens to evaluate, got %d", len(ids))
	}
	start := time.Now()
	for b := 0; b < len(wins); {
		// Full windows go in batches; a shorter last window goes alone.
		n := 1
		for n < opts.Batch && b+n < len(wins) && len(wins[b+n]) == len(wins[b]) {
			n++
		}
		flat := make([]int64, 0, n*len(wins[b]))
		for _, w := range wins[b : b+n] {
			flat = append(flat, w...)
		}
		torch.WithScope(func(s *torch.Scope) {
			torch.NoGrad(func() {
				x := torch.FromSlice(flat, int64(n), int64(len(wins[b]))).ToDevice(m.Device)
				res.NLL += m.sumNLL(x, opts.HeadChunk)
			})
		})
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

// sumNLL is the summed next-token NLL of ids [B, T]. With chunk > 0 the LM head and the loss
// run over chunks of positions, so the [B, T, vocab] logits (100 MB for one 512-token window of
// a 49k vocabulary) never exist at once; each position's loss is the same. It saves memory, not
// time: on a 2-core CPU, chunks of 128 were 18% slower than all at once (smaller matmuls).
func (m *Model) sumNLL(ids *torch.Tensor, chunk int) float64 {
	if err := m.checkIDs(ids); err != nil {
		panic(&torch.Error{Code: torch.CodeArgument, Op: "Evaluate", Message: err.Error()})
	}
	t := ids.Size(1)
	if chunk <= 0 || int64(chunk) >= t {
		chunk = int(t)
	}
	h := m.Embed(ids)
	for i := range m.Layers {
		h = m.Block(i, h)
	}
	h = h.Slice(1, 0, t-1, 1) // the last position predicts nothing
	targets := ids.Slice(1, 1, t, 1)
	var sum float64
	for start := int64(0); start < t-1; start += int64(chunk) {
		end := min(start+int64(chunk), t-1)
		torch.WithScope(func(s *torch.Scope) {
			logits := m.Head(h.Slice(1, start, end, 1))
			v := logits.Size(-1)
			sum += torch.CrossEntropy(logits.Reshape(-1, v), targets.Slice(1, start, end, 1).Reshape(-1),
				torch.CrossEntropyOptions{Reduction: torch.ReduceSum, IgnoreIndex: -100, HasIgnoreIndex: true}).Item()
		})
	}
	return sum
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
		return nil, fmt.Errorf("generate: empty prompt")
	}
	gen := torch.NewGenerator(opts.Seed, torch.CPU)
	defer gen.Close()
	ctx := append([]int64(nil), prompt...)
	for len(out) < opts.MaxNewTokens && len(ctx) < m.Config.MaxPositionEmbeddings {
		var next int64
		torch.WithScope(func(s *torch.Scope) {
			torch.NoGrad(func() {
				x := torch.FromSlice(ctx, 1, int64(len(ctx))).ToDevice(m.Device)
				o, err := m.Forward(x, ForwardOptions{})
				if err != nil {
					panic(&torch.Error{Code: torch.CodeArgument, Op: "Generate", Message: err.Error()})
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
