package model

import (
	"fmt"
	"math"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// AttentionProbs returns the attention probabilities of decoder layer i for the layer's input
// hidden state h [B, T, hidden] (the residual stream before the layer, e.g. Output.Hidden[i]):
//
//	softmax(q·kᵀ·scale + causal mask)   shape [B, heads, T, T], float32
//
// computed exactly as the model's attention does it: input_layernorm, q/k projections (and
// Qwen3's q/k norms), the same RoPE tables, the layer's sliding window where it has one, key heads repeated for grouped-query attention (query head j uses key head
// j / (heads / kv_heads), as HF's repeat_kv does) and scale 1/sqrt(head_dim). Row [b, j, t]
// is the distribution of query position t of head j over key positions 0..t (later positions
// are exactly 0). The scores and the softmax are computed in float32 whatever the model's
// dtype, as HF's eager attention does for its softmax.
//
// The layer's controls (Skip, SkipAttn) are ignored: the probe describes the weights. It
// panics with *torch.Error on failure (call it inside a scope, with torch.Recover at the
// function boundary) and with a plain error message for a layer out of range.
func (m *Model) AttentionProbs(layer int, h *torch.Tensor) *torch.Tensor {
	if layer < 0 || layer >= m.Config.NumHiddenLayers {
		panic(fmt.Sprintf("model: AttentionProbs of layer %d, outside [0, %d)", layer, m.Config.NumHiddenLayers))
	}
	c := m.Config
	p := LayerPrefix(layer)
	x := m.norm(h, m.params[p+"input_layernorm.weight"])
	t := x.Size(1)
	q, k := m.heads(layer, x, "self_attn.q_proj"), m.heads(layer, x, "self_attn.k_proj")
	k = repeatKV(k, c.NumAttentionHeads/c.NumKeyValueHeads)
	q, k = q.To(torch.Float32), k.To(torch.Float32)
	scores := q.Matmul(k.Transpose(2, 3)).MulScalar(m.attnScale()) // [B, H, T, T]
	hidden := torch.Ones([]int64{t, t}, torch.WithDevice(scores.Device())).Triu(1).GtScalar(0.5)
	if win := m.windowMask(layer, t, scores.Device()); win != nil {
		hidden = win.LogicalNot() // outside the sliding window (which is causal too)
	}
	return scores.MaskedFill(hidden, math.Inf(-1)).Softmax(-1)
}

// repeatKV repeats each key/value head n times along dim 1, [B, kv, T, d] -> [B, kv*n, T, d],
// so that head j of the result is head j/n of the input (HF's repeat_kv).
func repeatKV(x *torch.Tensor, n int) *torch.Tensor {
	if n == 1 {
		return x
	}
	b, kv, t, d := x.Size(0), x.Size(1), x.Size(2), x.Size(3)
	return x.Unsqueeze(2).Expand(b, kv, int64(n), t, d).Reshape(b, kv*int64(n), t, d)
}
