package model

import (
	"fmt"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// Activation checkpointing, one decoder layer at a time.
//
// A training forward pass keeps, through the autograd graph, every intermediate that the
// backward pass of each layer needs: for a SmolLM2-shaped layer about a dozen [B, T, hidden]
// and [B, T, intermediate] tensors and the attention's saved state, for every layer at once.
// A recomputed layer keeps only its input. Its forward pass runs as in training (same kernels,
// same autocast, so the same numbers), but the graph it made is dropped at once and its output
// goes on as a new leaf. After the loss's backward pass has reached those leaves, Backward
// visits the recomputed layers from the top down: it runs each layer's forward pass again from
// the saved input, back-propagates the gradient its output leaf collected, and hands the
// gradient of the input on to the layers below. Only one layer's intermediates exist at any
// time, at the price of a second forward pass of every recomputed layer (about a third more
// compute for them).
//
// The gradients are those of the plain pass: the same operations on the same values, summed in
// the same order (TestRecomputeGradientsEqualPlain).

// Recomputed is a micro-batch's loss from LossRecomputing, with the part of the backward pass
// left to do by hand.
type Recomputed struct {
	Loss   *torch.Tensor // the scalar loss; back-propagate it (or a multiple of it) first, then call Backward
	m      *Model
	stages []recomputeStage
}

// recomputeStage is one recomputed layer: its input as the forward pass had it (with its graph
// to the layers below, when it has one) and the leaf its output went on as.
type recomputeStage struct {
	layer   int
	in, out *torch.Tensor
}

// Stages reports how many layers the pass recomputes (those marked, present, and with a
// gradient to compute: a frozen layer below every trainable part records no graph anyway).
func (r *Recomputed) Stages() int { return len(r.stages) }

// LossRecomputing is Loss with the layers marked in recompute (indexed by layer; nil or all
// false is the plain Loss) recomputed in the backward pass instead of keeping their
// intermediates. With gradients off (validation) nothing is recomputed. The caller runs the
// loss's backward pass and then Backward, in the same scope.
func (m *Model) LossRecomputing(b Batch, opts LossOptions, recompute []bool) (r *Recomputed, err error) {
	defer torch.Recover(&err)
	if len(recompute) > len(m.Layers) {
		return nil, fmt.Errorf("%w: %d layers marked for recomputation, the model has %d", ErrInput, len(recompute), len(m.Layers))
	}
	if err := m.checkIDs(b.Inputs); err != nil {
		return nil, err
	}
	r = &Recomputed{m: m}
	grad := torch.GradEnabled()
	h := m.Embed(b.Inputs)
	for i := range m.Layers {
		if !grad || i >= len(recompute) || !recompute[i] || m.Layers[i].Skip || !(h.RequiresGrad() || m.layerTrainable(i)) {
			h = m.Block(i, h)
			continue
		}
		var out *torch.Tensor
		torch.WithScope(func(s *torch.Scope) {
			// The training forward pass (the kernels that record gradients pick other code than
			// the no-gradient ones), then only its values: the graph goes with this scope.
			out = s.Keep(m.Block(i, h).Detach())
		})
		out.SetRequiresGrad(true)
		r.stages = append(r.stages, recomputeStage{layer: i, in: h, out: out})
		h = out
	}
	r.Loss = m.HeadLoss(h, b.Targets, opts)
	return r, nil
}

// Backward finishes the backward pass once the loss's has run: the recomputed layers from the
// top down, each from its saved input, into the parameters' gradients and the layers below.
// Every output leaf is freed once its layer is done, so a layer's gradient does not stay
// alive beside the next one's. The model's layer controls must be as they were in the forward
// pass.
func (r *Recomputed) Backward() (err error) {
	defer torch.Recover(&err)
	for k := len(r.stages) - 1; k >= 0; k-- {
		st := r.stages[k]
		torch.WithScope(func(*torch.Scope) {
			g := st.out.Grad()
			if g == nil {
				return // nothing above depended on this layer's output
			}
			needIn := st.in.RequiresGrad()
			x := st.in.Detach()
			if needIn {
				x.SetRequiresGrad(true)
			}
			y := r.m.Block(st.layer, x)
			y.BackwardWith(g, false)
			if needIn {
				if gx := x.Grad(); gx != nil {
					st.in.BackwardWith(gx, false)
				}
			}
		})
		st.out.Close()
	}
	r.stages = nil
	return nil
}

// layerTrainable reports whether any parameter of layer i records gradients.
func (m *Model) layerTrainable(i int) bool {
	for _, n := range m.LayerParamNames(i) {
		if m.params[n].RequiresGrad() {
			return true
		}
	}
	return false
}
