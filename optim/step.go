package optim

import (
	"errors"
	"fmt"
	"math"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// Step is one optimisation step, the same for every training loop in growthtrain: the loss and
// backward pass of each micro-batch (gradients accumulate), the gradient-reduction hook, global
// gradient-norm clipping, the optimizer update, and zeroing the gradients.
type Step struct {
	Optimizer *AdamW
	// GradClip is the largest global 2-norm of the gradients; <= 0 disables clipping (the norm
	// is still measured and reported).
	GradClip float64
	// Reduce, when set, runs after the backward passes of all micro-batches and before clipping,
	// with the parameters the update will use: data-parallel training all-reduces their
	// gradients there. Nil (one process) does nothing.
	Reduce func(params []Param) error
	// CheckFinite, when set, reads the loss and the gradient norm (a host synchronisation)
	// after clipping and before the update, and when either is NaN or infinite returns a
	// *NonFiniteError (errors.Is ErrNonFinite) without updating anything: the parameters and
	// the optimizer state stay as they were, the gradients are dropped. Clipping only scales
	// gradients, so it never hides a non-finite norm. Off, the step is applied whatever it
	// computed (and there is no synchronisation).
	CheckFinite bool
	// Scaler, when set, is dynamic loss scaling (float16 mixed precision; see LossScaler): the
	// loss is scaled before each backward pass, the gradients unscaled after Reduce, and a
	// step whose gradients overflowed is skipped (Result.Skipped) with the scale halved. It
	// reads the loss and the gradient norm every step, as CheckFinite does; a non-finite loss,
	// or gradients that overflow even at MinLossScale, is a *NonFiniteError.
	Scaler *LossScaler
}

// ErrNonFinite is what a step refused by Step.CheckFinite wraps.
var ErrNonFinite = errors.New("optim: non-finite loss or gradient norm")

// NonFiniteError reports a step refused by Step.CheckFinite, with what it measured.
type NonFiniteError struct {
	Loss, GradNorm float64
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("non-finite loss or gradient norm (loss %v, gradient norm %v): the step was not applied", e.Loss, e.GradNorm)
}

// Is makes errors.Is(err, ErrNonFinite) true.
func (e *NonFiniteError) Is(target error) bool { return target == ErrNonFinite }

// Result is what a step measured, as 0-dimensional tensors on the device, so that reading them
// (a host synchronisation) is the caller's choice. Close them when done.
type Result struct {
	Loss     *torch.Tensor // mean of the micro-batch losses, float64
	GradNorm *torch.Tensor // global 2-norm of the gradients before clipping (after Reduce)
	// With Step.Scaler: Skipped says the scaled gradients overflowed, so nothing was updated
	// (the scale was halved), and LossScale is the scale this step's backward pass used.
	Skipped   bool
	LossScale float64
}

// Read returns the loss and the gradient norm as numbers, waiting for the device.
func (r Result) Read() (loss, gradNorm float64, err error) {
	err = torch.Try(func() { loss, gradNorm = r.Loss.Item(), r.GradNorm.Item() })
	return loss, gradNorm, err
}

// Close frees the result's tensors.
func (r Result) Close() { torch.Close(r.Loss, r.GradNorm) }

// ErrNoMicroBatches is returned by Run when asked for fewer than one micro-batch.
var ErrNoMicroBatches = errors.New("optim: a step needs at least one micro-batch")

// Run performs the step on params at learning rate lr with micro micro-batches: loss(i) returns
// the mean loss of micro-batch i as a scalar with gradients. Each call runs in a scope of its
// own, so its intermediates are freed after its backward pass; each loss is divided by micro
// before it, so the accumulated gradient is that of the mean loss. On error the gradients are
// dropped, so a later step does not accumulate onto a failed one.
func (s *Step) Run(params []Param, lr float64, micro int, loss func(i int) (*torch.Tensor, error)) (res Result, err error) {
	return s.RunLosses(params, lr, micro, func(i int) (Loss, error) {
		l, err := loss(i)
		return Loss{Value: l}, err
	})
}

// Loss is a micro-batch's loss for RunLosses: the scalar Value, and Finish, when the forward
// pass left part of the backward pass to be done by hand (activation checkpointing:
// model.Recomputed.Backward), which runs in the micro-batch's scope right after Value's own
// backward pass.
type Loss struct {
	Value  *torch.Tensor
	Finish func() error
}

// RunLosses is Run for losses whose backward pass needs a second part (see Loss).
func (s *Step) RunLosses(params []Param, lr float64, micro int, loss func(i int) (Loss, error)) (res Result, err error) {
	if micro < 1 {
		return Result{}, ErrNoMicroBatches
	}
	if s.Optimizer == nil {
		return Result{}, errors.New("optim: Step has no optimizer")
	}
	defer func() {
		if err != nil {
			res.Close()
			res = Result{}
			_ = ZeroGrad(params)
		}
	}()
	defer torch.Recover(&err)
	var dev torch.Device
	for i := 0; i < micro; i++ {
		var lerr error
		torch.WithScope(func(sc *torch.Scope) {
			ls, err := loss(i)
			if err != nil {
				lerr = fmt.Errorf("micro-batch %d: %w", i, err)
				return
			}
			l := ls.Value
			if l == nil {
				lerr = fmt.Errorf("micro-batch %d: no loss", i)
				return
			}
			if l.Numel() != 1 {
				lerr = fmt.Errorf("micro-batch %d: the loss has shape %v, want a scalar", i, l.Shape())
				return
			}
			// The logged loss is summed in float64, exactly as adding l.Item()/micro on the host.
			part := l.Detach().To(torch.Float64)
			if micro > 1 {
				part = part.DivScalar(float64(micro))
				l = l.DivScalar(float64(micro))
			}
			if s.Scaler != nil {
				l = l.MulScalar(s.Scaler.Scale)
			}
			if res.Loss == nil {
				dev = l.Device()
				res.Loss = torch.Zeros(nil, torch.WithDType(torch.Float64), torch.WithDevice(dev))
				torch.Persist(res.Loss)
			}
			res.Loss.AddInPlace(part, 1)
			l.Backward()
			if ls.Finish != nil {
				if err := ls.Finish(); err != nil {
					lerr = fmt.Errorf("micro-batch %d: backward pass: %w", i, err)
				}
			}
		})
		if lerr != nil {
			return res, lerr
		}
	}
	if s.Reduce != nil {
		if err := s.Reduce(params); err != nil {
			return res, fmt.Errorf("gradient reduction: %w", err)
		}
	}
	if s.Scaler != nil {
		res.LossScale = s.Scaler.Scale
		s.Scaler.unscale(params)
	}
	res.GradNorm = ClipGradNorm(params, s.GradClip)
	if s.CheckFinite || s.Scaler != nil {
		loss, norm, err := res.Read()
		if err != nil {
			return res, err
		}
		if s.Scaler != nil && finite(loss) {
			if err := s.Scaler.update(!finite(norm)); err != nil {
				return res, &NonFiniteError{Loss: loss, GradNorm: norm}
			}
			if !finite(norm) { // overflow: skip the step, keep the state, drop the gradients
				res.Skipped = true
				return res, ZeroGrad(params)
			}
		}
		if !finite(loss) || !finite(norm) {
			return res, &NonFiniteError{Loss: loss, GradNorm: norm}
		}
	}
	if err := s.Optimizer.Update(params, lr); err != nil {
		return res, err
	}
	if err := ZeroGrad(params); err != nil {
		return res, err
	}
	return res, nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
