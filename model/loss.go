package model

import (
	"github.com/growthtrain/growthtrain/bindings/torch"
)

// The next-token loss. Every caller in growthtrain (training, validation, evaluation, the
// diagnostics' sweeps and recovery fine-tuning) computes it through HeadLoss, so a fused head
// and loss kernel, or mixed-precision handling of the logits, is added in one place.

// Reduction selects how HeadLoss combines the per-position cross-entropies.
type Reduction int

const (
	// LossMean is the mean over the positions whose target is not IgnoreIndex, a scalar in the
	// logits' dtype (float32): what training differentiates.
	LossMean Reduction = iota
	// LossSum is the sum over those positions, a float64 scalar.
	LossSum
	// LossPerRow is the sum per row (window), a [B] float64 tensor.
	LossPerRow
)

// LossOptions configures HeadLoss.
type LossOptions struct {
	Reduction Reduction
	// Chunk > 0 runs the head and the loss over chunks of that many positions, so the full
	// [B, T, vocab] logits never exist at once (100 MB for one 512-token window of a 49k
	// vocabulary). Each position's loss is the same. It saves memory, not time: on a 2-core
	// CPU, chunks of 128 were 18% slower than all at once (smaller matrix products). With
	// gradients recorded (training) and LossMean or LossSum, chunking goes through the fused
	// head and loss (torch.HeadCrossEntropy), whose backward keeps no logits at all; on CUDA
	// training always does, in chunks of cudaHeadRows rows when Chunk is 0.
	Chunk int
}

// cudaHeadRows is the fused head's chunk on CUDA when LossOptions.Chunk is 0: 4096 rows of a
// 49k vocabulary are 0.8 GB of float32 logits at a time, instead of 6.4 GB for 16 x 2048 tokens.
const cudaHeadRows = 4096

// HeadLoss applies the final norm and the LM head to hidden states h [B, T, hidden] and returns
// the next-token cross-entropy of those logits against targets [B, T] (positions whose target
// is IgnoreIndex are left out). With chunks, LossSum and LossPerRow add the chunks' float64
// sums; LossMean divides the chunks' summed losses by the number of counted targets.
func (m *Model) HeadLoss(h, targets *torch.Tensor, opts LossOptions) *torch.Tensor {
	if rows, ok := m.fusedHeadRows(h, opts); ok {
		return m.fusedHeadLoss(h, targets, opts.Reduction, rows)
	}
	t := h.Size(1)
	chunk := int64(opts.Chunk)
	if chunk <= 0 || chunk >= t {
		return m.headLoss(h, targets, opts.Reduction)
	}
	red := opts.Reduction
	if red == LossMean {
		red = lossSumRaw
	}
	var acc *torch.Tensor
	for start := int64(0); start < t; start += chunk {
		end := min(start+chunk, t)
		part := m.headLoss(h.Slice(1, start, end, 1), targets.Slice(1, start, end, 1), red)
		if acc == nil {
			acc = part
		} else {
			acc = acc.Add(part)
		}
	}
	if opts.Reduction == LossMean {
		counted := targets.EqScalar(IgnoreIndex).LogicalNot().Sum(false).To(acc.DType())
		return acc.Div(counted)
	}
	return acc
}

// fusedHeadRows says whether HeadLoss goes through the fused head and loss, and in chunks of
// how many rows (flattened positions).
func (m *Model) fusedHeadRows(h *torch.Tensor, opts LossOptions) (int64, bool) {
	if !torch.GradEnabled() || opts.Reduction == LossPerRow {
		return 0, false
	}
	if opts.Chunk > 0 {
		return int64(opts.Chunk) * h.Size(0), true
	}
	if m.Device.IsCUDA() {
		return cudaHeadRows, true
	}
	return 0, false
}

// fusedHeadLoss is HeadLoss through torch.HeadCrossEntropy: the final norm, then the head and
// the loss in chunks of rows, the products in the model's compute precision.
func (m *Model) fusedHeadLoss(h, targets *torch.Tensor, red Reduction, rows int64) *torch.Tensor {
	x := m.norm(h, m.params["model.norm.weight"])
	d := x.Size(-1)
	opts := torch.HeadCrossEntropyOptions{IgnoreIndex: IgnoreIndex, HasIgnoreIndex: true, Chunk: rows}
	if red == LossSum {
		opts.Reduction = torch.ReduceSum
	}
	if m.Mixed() {
		opts.Compute, opts.HasCompute = m.Compute, true
	}
	loss := torch.HeadCrossEntropy(x.Reshape(-1, d), m.Param("lm_head.weight"), targets.Reshape(-1), opts)
	if red == LossSum {
		return loss.To(torch.Float64)
	}
	return loss
}

// lossSumRaw is the sum in the logits' dtype (the parts of a chunked mean).
const lossSumRaw Reduction = -1

// headLoss is HeadLoss without chunks.
func (m *Model) headLoss(h, targets *torch.Tensor, red Reduction) *torch.Tensor {
	logits := m.Head(h)
	b, t, v := logits.Size(0), logits.Size(1), logits.Size(2)
	ce := func(r torch.Reduction) *torch.Tensor {
		return torch.CrossEntropy(logits.Reshape(b*t, v), targets.Reshape(b*t),
			torch.CrossEntropyOptions{Reduction: r, IgnoreIndex: IgnoreIndex, HasIgnoreIndex: true})
	}
	switch red {
	case LossSum:
		return ce(torch.ReduceSum).To(torch.Float64)
	case LossPerRow:
		return ce(torch.ReduceNone).Reshape(b, t).Sum(false, 1).To(torch.Float64)
	case lossSumRaw:
		return ce(torch.ReduceSum)
	}
	return ce(torch.ReduceMean)
}

// Hidden runs the embeddings and every decoder layer on ids [B, T] and returns the last layer's
// output (before the final norm), [B, T, hidden].
func (m *Model) Hidden(ids *torch.Tensor) (h *torch.Tensor, err error) {
	defer torch.Recover(&err)
	if err := m.checkIDs(ids); err != nil {
		return nil, err
	}
	h = m.Embed(ids)
	for i := range m.Layers {
		h = m.Block(i, h)
	}
	return h, nil
}

// Loss runs the model on a packed batch and returns its next-token loss (see HeadLoss).
func (m *Model) Loss(b Batch, opts LossOptions) (loss *torch.Tensor, err error) {
	h, err := m.Hidden(b.Inputs)
	if err != nil {
		return nil, err
	}
	defer torch.Recover(&err)
	return m.HeadLoss(h, b.Targets, opts), nil
}
