package optim

import (
	"fmt"
	"math"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// LossScaler is dynamic loss scaling, what float16 mixed precision needs and bfloat16 does
// not: float16 keeps 5 exponent bits, so gradients below 6e-8 (2^-24) vanish in its backward
// pass. The loss is multiplied by Scale (a power of two) before the backward pass, so the
// gradients are computed Scale times larger, and they are divided by it again before clipping
// and the update. A power of two multiplies and divides exactly, so wherever nothing
// overflowed or underflowed the gradients are those of the unscaled loss, bit for bit. When the
// scaled gradients overflow (an infinite or NaN gradient norm with a finite loss), the step is
// skipped, its gradients dropped and Scale halved; after GrowthInterval steps in a row without
// overflow it doubles, as torch.amp.GradScaler does.
type LossScaler struct {
	Scale          float64 // the current factor, a power of two (NewLossScaler: 2^16)
	GrowthInterval int     // steps without overflow after which Scale doubles (NewLossScaler: 2000)
	good           int     // steps without overflow since Scale last changed
}

// MinLossScale is the smallest Scale: a gradient that overflows float16 even at 2^-14 is not
// a scale problem but a divergence, which Step reports as a *NonFiniteError.
const MinLossScale = 1.0 / (1 << 14)

// NewLossScaler returns the scaler with torch.amp.GradScaler's defaults: Scale 2^16, doubling
// after 2000 steps without overflow.
func NewLossScaler() *LossScaler { return &LossScaler{Scale: 1 << 16, GrowthInterval: 2000} }

// State is what a checkpoint must keep for a resumed run to scale as an uninterrupted one:
// the scale and the steps without overflow since it last changed.
func (s *LossScaler) State() (scale float64, good int) { return s.Scale, s.good }

// IsLossScale reports whether x is a scale a LossScaler can hold: a power of two from
// MinLossScale to float32's largest.
func IsLossScale(x float64) bool {
	frac, _ := math.Frexp(x)
	return frac == 0.5 && x >= MinLossScale && x <= math.MaxFloat32
}

// SetState restores State, refusing values the scaler could not have reached.
func (s *LossScaler) SetState(scale float64, good int) error {
	if !IsLossScale(scale) {
		return fmt.Errorf("loss scale %v: want a power of two from 2^-14 to float32's largest", scale)
	}
	if good < 0 || good >= max(s.GrowthInterval, 1) {
		return fmt.Errorf("loss scaler: %d steps without overflow, want 0 to %d", good, max(s.GrowthInterval, 1)-1)
	}
	s.Scale, s.good = scale, good
	return nil
}

// unscale divides the gradients of params by the scale, in place (one foreach kernel).
func (s *LossScaler) unscale(params []Param) { torch.ScaleGrads(Tensors(params), 1/s.Scale) }

// update records a step: overflowed or not. It returns an error when the scale would fall below
// MinLossScale.
func (s *LossScaler) update(overflow bool) error {
	if overflow {
		s.good = 0
		if s.Scale/2 < MinLossScale {
			return fmt.Errorf("the gradients overflow even at loss scale %v", s.Scale)
		}
		s.Scale /= 2
		return nil
	}
	s.good++
	if s.GrowthInterval > 0 && s.good >= s.GrowthInterval {
		s.good = 0
		if s.Scale*2 <= math.MaxFloat32 {
			s.Scale *= 2
		}
	}
	return nil
}
