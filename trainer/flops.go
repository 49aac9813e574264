package trainer

import "github.com/growthtrain/growthtrain/model"

// flopModel estimates training FLOPs per token of a step (docs/budget.md explains it):
//   - forward, per present layer: 2 x its parameters (matmuls) + 2 x seq_len x (heads x
//     head_dim) (causal attention scores and values, averaged over positions); the head:
//     2 x vocab x hidden. An absent or skipped layer (the identity) costs nothing.
//   - backward: gradients with respect to activations cost one forward again for every present
//     layer at or above the lowest trained part (below it nothing needs a gradient), and
//     gradients with respect to weights cost 2 x parameters for each trained matrix.
//
// A uniform step is then about 3 x forward, the usual 6N rule plus attention.
type flopModel struct {
	layerFwd   float64 // forward FLOPs per token of one layer
	layerParam float64 // 2 x parameters of one layer
	headFwd    float64
	layers     int
}

func newFlopModel(c model.Config, seqLen int) flopModel {
	h, q, kv, ff := float64(c.HiddenSize), float64(c.NumAttentionHeads*c.HeadDim), float64(c.NumKeyValueHeads*c.HeadDim), float64(c.IntermediateSize)
	params := h*q + 2*h*kv + q*h + 3*h*ff
	return flopModel{
		layerParam: 2 * params,
		layerFwd:   2*params + 2*float64(seqLen)*q,
		headFwd:    2 * float64(c.VocabSize) * h,
		layers:     c.NumHiddenLayers,
	}
}

// stepOf returns the estimated FLOPs per token of one training step that runs the layers not
// skipped (skipped nil: all), trains the layers in trained (sorted), and the embeddings and
// head as p says.
func (f flopModel) stepOf(p Phase, trained []int, skipped []bool) float64 {
	present := func(l int) bool { return skipped == nil || !skipped[l] }
	fwd := f.headFwd
	for l := 0; l < f.layers; l++ {
		if present(l) {
			fwd += f.layerFwd
		}
	}
	low := f.layers // lowest layer that needs activation gradients
	if len(trained) > 0 {
		low = trained[0]
	}
	if p.TrainEmbeddings {
		low = 0
	}
	bwd := f.headFwd // gradient into the last hidden state
	if p.TrainHead {
		bwd += f.headFwd
	}
	for l := low; l < f.layers; l++ {
		if present(l) {
			bwd += f.layerFwd
		}
	}
	bwd += float64(len(trained)) * f.layerParam
	return fwd + bwd
}

// step returns the estimated FLOPs per token of one step of phase p with every layer present
// and all of p's layers trained.
func (f flopModel) step(p Phase) float64 { return f.stepOf(p, p.layers, nil) }
