package model

import (
	"fmt"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// The forward pass, split into Embed, Block and Head so that a diagnostic can start from a
// captured hidden state instead of recomputing the layers below it.
//
// Shapes: ids [B, T] int64; hidden states [B, T, hidden]; logits [B, T, vocab].
// Every function returns new tensors; call them inside a torch.Scope.

// Embed returns the token embeddings of ids.
func (m *Model) Embed(ids *torch.Tensor) *torch.Tensor {
	return torch.Embedding(m.params["model.embed_tokens.weight"], ids)
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
		a := m.attention(p, m.norm(h, m.params[p+"input_layernorm.weight"]))
		if ctl.AttnOut != 1 {
			a = a.MulScalar(ctl.AttnOut)
		}
		h = h.Add(a)
	}
	if !ctl.SkipMLP {
		x := m.norm(h, m.params[p+"post_attention_layernorm.weight"])
		gate := m.linear(x, p+"mlp.gate_proj")
		up := m.linear(x, p+"mlp.up_proj")
		f := m.linear(torch.SwiGLU(gate, up), p+"mlp.down_proj")
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

// norm is HF's LlamaRMSNorm: normalise in float32, cast back, then scale by the weight.
func (m *Model) norm(h, w *torch.Tensor) *torch.Tensor {
	if h.DType() == torch.Float32 {
		return torch.RMSNorm(h, w, m.Config.RMSNormEps)
	}
	x := torch.RMSNorm(h.To(torch.Float32), nil, m.Config.RMSNormEps).To(h.DType())
	return x.Mul(w)
}

func (m *Model) linear(x *torch.Tensor, prefix string) *torch.Tensor {
	return torch.Linear(x, m.params[prefix+".weight"], m.params[prefix+".bias"])
}

// attention is grouped-query self-attention with rotary position embeddings, causal.
func (m *Model) attention(p string, x *torch.Tensor) *torch.Tensor {
	c := m.Config
	b, t := x.Size(0), x.Size(1)
	heads := func(name string, n int) *torch.Tensor {
		return m.linear(x, p+name).View(b, t, int64(n), int64(c.HeadDim)).Transpose(1, 2) // [B, n, T, d]
	}
	q, k, v := heads("self_attn.q_proj", c.NumAttentionHeads), heads("self_attn.k_proj", c.NumKeyValueHeads), heads("self_attn.v_proj", c.NumKeyValueHeads)
	cos, sin := m.ropeTables(t)
	q, k = torch.Rotary(q, cos, sin), torch.Rotary(k, cos, sin)
	o := torch.ScaledDotProductAttention(q, k, v, torch.AttentionOptions{
		Causal: true, Scale: m.attnScale(), GroupedKV: c.NumKeyValueHeads != c.NumAttentionHeads,
	})
	o = o.Transpose(1, 2).Reshape(b, t, int64(c.NumAttentionHeads*c.HeadDim))
	return m.linear(o, p+"self_attn.o_proj")
}
