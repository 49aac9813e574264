package model

import (
	"errors"
	"fmt"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// IgnoreIndex is the target of a position that predicts nothing (HF's -100): padding, and the
// last token of a window in the Whole layout. The loss leaves such positions out.
const IgnoreIndex = -100

// ErrInput marks a model input the model cannot take (shape, dtype, token ids, length). Every
// such error wraps it: errors.Is(err, model.ErrInput).
var ErrInput = errors.New("invalid model input")

// Layout says how Pack turns a window of n tokens into inputs and next-token targets.
type Layout int

const (
	// Shifted: inputs are the window's first n-1 tokens, each predicting the token after it
	// (training: every computed position has a target).
	Shifted Layout = iota
	// Whole: inputs are all n tokens; the last predicts nothing (target IgnoreIndex). Every
	// token's hidden state is computed, which the diagnostics cache and compare, and the
	// evaluation engines keep for numerics that do not depend on the layout of the batch.
	Whole
)

// Batch is token windows packed for the model: Inputs and Targets are [B, T] int64 on the
// model's device, Targets[b][t] being the token Inputs[b][t] predicts, or IgnoreIndex.
type Batch struct {
	Inputs, Targets *torch.Tensor
	Tokens          int64 // targets that are not IgnoreIndex
}

// Close frees the batch's tensors.
func (b Batch) Close() { torch.Close(b.Inputs, b.Targets) }

// Pack packs windows (each at least 2 tokens) into a batch on dev. Windows of different lengths
// are right-padded (input token 0, target IgnoreIndex); under causal attention the padding
// changes nothing at the real positions before it. This is the one place growthtrain turns token
// windows into model inputs.
func Pack(windows [][]int64, layout Layout, dev torch.Device) (b Batch, err error) {
	if len(windows) == 0 {
		return Batch{}, fmt.Errorf("%w: no windows to pack", ErrInput)
	}
	drop := 0
	if layout == Shifted {
		drop = 1
	}
	T := 0
	for i, w := range windows {
		if len(w) < 2 {
			return Batch{}, fmt.Errorf("%w: window %d has %d tokens; a window needs at least 2", ErrInput, i, len(w))
		}
		T = max(T, len(w)-drop)
	}
	ids := make([]int64, 0, len(windows)*T)
	tgt := make([]int64, 0, len(windows)*T)
	for _, w := range windows {
		for t := 0; t < T; t++ {
			if t < len(w)-drop {
				ids = append(ids, w[t])
			} else {
				ids = append(ids, 0)
			}
			if t+1 < len(w) {
				tgt = append(tgt, w[t+1])
				b.Tokens++
			} else {
				tgt = append(tgt, IgnoreIndex)
			}
		}
	}
	defer torch.Recover(&err)
	n := int64(len(windows))
	b.Inputs = torch.FromSlice(ids, n, int64(T)).ToDevice(dev)
	b.Targets = torch.FromSlice(tgt, n, int64(T)).ToDevice(dev)
	return b, nil
}

// NextTokens is the Whole-layout batch of ids [B, T] already on a device: every token is an
// input and predicts the one after it; the last of each row predicts nothing. The batch's
// Inputs is ids itself: close only its Targets if ids lives on.
func NextTokens(ids *torch.Tensor) (b Batch, err error) {
	defer torch.Recover(&err)
	if ids.Dim() != 2 || ids.Size(1) < 2 {
		return Batch{}, fmt.Errorf("%w: want [batch, seq] token ids with seq >= 2, got shape %v", ErrInput, ids.Shape())
	}
	n, t := ids.Size(0), ids.Size(1)
	pad := torch.Full([]int64{n, 1}, IgnoreIndex, torch.WithDType(ids.DType()), torch.WithDevice(ids.Device()))
	return Batch{Inputs: ids, Targets: torch.Cat([]*torch.Tensor{ids.Slice(1, 1, t, 1), pad}, 1), Tokens: n * (t - 1)}, nil
}
