package trainer

import "github.com/growthtrain/growthtrain/model"

// flopModel estimates training FLOPs per token for a phase (docs/budget.md explains it):
//   - forward, per layer: 2 x its parameters (matmuls) + 2 x seq_len x (heads x head_dim)
//     (causal attention scores and values, averaged over positions); the head: 2 x vocab x hidden.
//   - backward: gradients with respect to activations cost one forward again for every layer
//     at or above the lowest trainable part (below it nothing needs a gradient), and gradients
//     with respect to weights cost 2 x parameters for each trainable matrix.
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

// step returns the estimated FLOPs per token of one training step of phase p.
func (f flopModel) step(p Phase) float64 {
	fwd := float64(f.layers)*f.layerFwd + f.headFwd
	low := f.layers // lowest layer that needs activation gradients
	if len(p.layers) > 0 {
		low = p.layers[0]
	}
	if p.TrainEmbeddings {
		low = 0
	}
	bwd := f.headFwd // gradient into the last hidden state
	if p.TrainHead {
		bwd += f.headFwd
	}
	bwd += float64(f.layers-low) * f.layerFwd
	bwd += float64(len(p.layers)) * f.layerParam
	return fwd + bwd
}
