package optim

import "github.com/growthtrain/growthtrain/bindings/torch"

// ClipGradNorm scales the gradients of params so that their global 2-norm is at most maxNorm
// (no clipping when maxNorm <= 0) and returns the norm before clipping, as a 0-dimensional
// float tensor on the gradients' device, which the caller closes. Parameters without a gradient
// are left out; with none at all the norm is 0.
func ClipGradNorm(params []Param, maxNorm float64) *torch.Tensor {
	t := torch.ClipGradNormTensor(Tensors(params), maxNorm) // no host synchronisation
	torch.Persist(t)
	return t
}

// ZeroGrad drops the gradients of params (sets them to none, which frees their memory).
func ZeroGrad(params []Param) error {
	return torch.Try(func() {
		for _, p := range params {
			p.Tensor.SetGradNone()
		}
	})
}
