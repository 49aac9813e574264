package model

import (
	"fmt"
	"math"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// The forward pass, split into Embed, Block and Head so that a diagnostic can start from a
// captured hidden state instead of recomputing the layers below it.
//
// Shapes: ids [B, T] int64; hidden states [B, T, hidden]; logits [B, T, vocab].
// Every function returns new tensors; call them inside a torch.Scope.

// Embed returns the token embeddings of ids (Gemma: times sqrt(hidden_size), rounded to the
// parameters' dtype first, as transformers does).
func (m *Model) Embed(ids *torch.Tensor) *torch.Tensor {
	e := torch.Embedding(m.params["model.embed_tokens.weight"], ids)
	if m.Config.Arch().EmbedScale {
		e = e.Mul(torch.Scalar(float64(float32(math.Sqrt(float64(m.Config.HiddenSize))))).To(e.DType()))
	}
	return e
}

// Block applies decoder layer i (its controls included) to hidden state h at positions
// [0, T): h + attn(norm(h)), then + mlp(norm(.)).
//
// The layer's intermediates live in a scope of its own: only its output survives the call, and
// what backward needs stays alive through the autograd graph alone, so a training step's memory
// holds one layer's temporaries at a time instead of every layer's.
func (m *Model) Block(i int, h *torch.Tensor) (out *torch.Tensor) {
	if m.Layers[i].Skip {
		return h // the identity: gradients flow straight through to the layers below
	}
	torch.WithScope(func(s *torch.Scope) {
		m.compute(func() { out = m.block(i, h) })
		s.Keep(out)
	})
	return out
}

func (m *Model) block(i int, h *torch.Tensor) *torch.Tensor {
	ctl := m.Layers[i]
	p := LayerPrefix(i)
	if !ctl.SkipAttn {
		a := m.attention(i, m.norm(h, m.params[p+"input_layernorm.weight"]))
		if ctl.AttnOut != 1 {
			a = a.MulScalar(ctl.AttnOut)
		}
		h = h.Add(a)
	}
	if !ctl.SkipMLP {
		x := m.norm(h, m.params[p+"post_attention_layernorm.weight"])
		gate := m.linear(x, p+"mlp.gate_proj")
		up := m.linear(x, p+"mlp.up_proj")
		f := m.linear(m.gated(gate, up), p+"mlp.down_proj")
		if ctl.MLPOut != 1 {
			f = f.MulScalar(ctl.MLPOut)
		}
		h = h.Add(f)
	}
	return h
}

// Head applies the final norm and the LM head, returning float32 logits.
func (m *Model) Head(h *torch.Tensor) (logits *torch.Tensor) {
	m.compute(func() {
		x := m.norm(h, m.params["model.norm.weight"])
		logits = torch.Linear(x, m.Param("lm_head.weight"), nil)
	})
	if logits.DType() != torch.Float32 {
		logits = logits.To(torch.Float32)
	}
	return logits
}

// Output is the result of Forward.
type Output struct {
	Logits *torch.Tensor   // [B, T, vocab], float32
	Hidden []*torch.Tensor // with CaptureHidden: the input of layer 0, then each layer's output
}

// ForwardOptions selects what Forward records.
type ForwardOptions struct {
	CaptureHidden bool
}

// Forward runs the whole model on ids [B, T].
func (m *Model) Forward(ids *torch.Tensor, opts ForwardOptions) (out Output, err error) {
	defer torch.Recover(&err)
	if err := m.checkIDs(ids); err != nil {
		return Output{}, err
	}
	h := m.Embed(ids)
	if opts.CaptureHidden {
		out.Hidden = append(out.Hidden, h)
	}
	for i := range m.Layers {
		h = m.Block(i, h)
		if opts.CaptureHidden {
			out.Hidden = append(out.Hidden, h)
		}
	}
	out.Logits = m.Head(h)
	return out, nil
}

func (m *Model) checkIDs(ids *torch.Tensor) error {
	if ids.Dim() != 2 {
		return fmt.Errorf("%w: want [batch, seq] token ids, got shape %v", ErrInput, ids.Shape())
	}
	if ids.DType() != torch.Int64 {
		return fmt.Errorf("%w: want int64 token ids, got %v", ErrInput, ids.DType())
	}
	if t := ids.Size(1); t > int64(m.Config.MaxPositionEmbeddings) {
		return fmt.Errorf("%w: sequence of %d tokens exceeds max_position_embeddings %d", ErrInput, t, m.Config.MaxPositionEmbeddings)
	}
	return nil
}

// norm is HF's RMSNorm: normalise in float32, cast back, then scale by the weight (LLaMA);
// or, for architectures that scale by (1 + weight), scale in float32 and then cast (Gemma).
func (m *Model) norm(h, w *torch.Tensor) *torch.Tensor {
	if m.Config.Arch().NormOffset {
		w = w.To(torch.Float32).AddScalar(1)
		if h.DType() == torch.Float32 {
			return torch.RMSNorm(h, w, m.Config.RMSNormEps)
		}
		return torch.RMSNorm(h.To(torch.Float32), w, m.Config.RMSNormEps).To(h.DType())
	}
	return m.plainNorm(h, w)
}

// plainNorm is LLaMA's RMSNorm whatever the architecture (Qwen3's q/k norms are this one).
func (m *Model) plainNorm(h, w *torch.Tensor) *torch.Tensor {
	if h.DType() == torch.Float32 {
		return torch.RMSNorm(h, w, m.Config.RMSNormEps)
	}
	x := torch.RMSNorm(h.To(torch.Float32), nil, m.Config.RMSNormEps).To(h.DType())
	return x.Mul(w)
}

// gated is the MLP's inner product act(gate) * up: SwiGLU for silu; for gelu_pytorch_tanh the
// tanh approximation of GeLU, evaluated in float32 and rounded once to the input dtype, as
// libtorch's kernel does for reduced precision.
func (m *Model) gated(gate, up *torch.Tensor) *torch.Tensor {
	if m.Config.HiddenAct != "gelu_pytorch_tanh" {
		return torch.SwiGLU(gate, up)
	}
	x := gate
	if x.DType() != torch.Float32 {
		x = x.To(torch.Float32)
	}
	// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
	inner := x.Add(x.Mul(x).Mul(x).MulScalar(0.044715)).MulScalar(math.Sqrt(2 / math.Pi))
	g := x.Mul(inner.Tanh().AddScalar(1)).MulScalar(0.5)
	if g.DType() != gate.DType() {
		g = g.To(gate.DType())
	}
	return g.Mul(up)
}

func (m *Model) linear(x *torch.Tensor, prefix string) *torch.Tensor {
	return torch.Linear(x, m.params[prefix+".weight"], m.params[prefix+".bias"])
}

// heads projects the normalised input x [B, T, hidden] of layer i to the heads of name
// (self_attn.q_proj, k_proj or v_proj): [B, n, T, head_dim]; queries and keys get their q/k
// norm (Qwen3) and the rotary embedding.
func (m *Model) heads(i int, x *torch.Tensor, name string) *torch.Tensor {
	c := m.Config
	p := LayerPrefix(i)
	b, t := x.Size(0), x.Size(1)
	n := c.NumKeyValueHeads
	if name == "self_attn.q_proj" {
		n = c.NumAttentionHeads
	}
	y := m.linear(x, p+name).View(b, t, int64(n), int64(c.HeadDim))
	if name == "self_attn.v_proj" {
		return y.Transpose(1, 2)
	}
	if c.Arch().QKNorm {
		norm := "self_attn.q_norm.weight"
		if name == "self_attn.k_proj" {
			norm = "self_attn.k_norm.weight"
		}
		y = m.plainNorm(y, m.params[p+norm])
	}
	cos, sin := m.ropeTables(t)
	return torch.Rotary(y.Transpose(1, 2), cos, sin) // [B, n, T, d]
}

// windowMask is the boolean mask (true = attend) of layer i's sliding window over t positions,
// or nil when the window covers them all: key j is visible from query q when q-w < j <= q.
func (m *Model) windowMask(i int, t int64, dev torch.Device) *torch.Tensor {
	w := int64(m.Config.Window(i))
	if w <= 0 || w >= t {
		return nil
	}
	pos := torch.Arange(0, float64(t), 1, torch.WithDType(torch.Int64), torch.WithDevice(dev))
	diff := pos.Unsqueeze(1).Sub(pos.Unsqueeze(0)) // [T, T]: q - j
	return diff.GtScalar(-1).LogicalAnd(diff.LtScalar(float64(w)))
}

// attention is grouped-query self-attention of layer i with rotary position embeddings,
// causal, and limited to the layer's sliding window where it has one.
func (m *Model) attention(i int, x *torch.Tensor) *torch.Tensor {
	c := m.Config
	p := LayerPrefix(i)
	b, t := x.Size(0), x.Size(1)
	q, k, v := m.heads(i, x, "self_attn.q_proj"), m.heads(i, x, "self_attn.k_proj"), m.heads(i, x, "self_attn.v_proj")
	opts := torch.AttentionOptions{Causal: true, Scale: m.attnScale(), GroupedKV: c.NumKeyValueHeads != c.NumAttentionHeads}
	if mask := m.windowMask(i, t, x.Device()); mask != nil {
		opts.Mask, opts.Causal = mask, false
	}
	o := torch.ScaledDotProductAttention(q, k, v, opts)
	o = o.Transpose(1, 2).Reshape(b, t, int64(c.NumAttentionHeads*c.HeadDim))
	return m.linear(o, p+"self_attn.o_proj")
}
