package optim

import (
	"fmt"
	"math"
)

// Schedule gives the learning rate at each step: linear warm-up from 0 to the peak, then one of
// cosine, linear or constant decay to MinLR at the last step.
type Schedule struct {
	Kind   string // "cosine", "linear" or "constant"
	PeakLR float64
	MinLR  float64
	Warmup int // steps of linear warm-up
	Total  int // total steps
}

// Validate reports a schedule that cannot be followed.
func (s Schedule) Validate() error {
	switch s.Kind {
	case "cosine", "linear", "constant":
	default:
		return fmt.Errorf("schedule %q: want cosine, linear or constant", s.Kind)
	}
	if s.PeakLR <= 0 || s.MinLR < 0 || s.MinLR > s.PeakLR {
		return fmt.Errorf("schedule: need 0 <= min lr (%g) <= lr (%g) and lr > 0", s.MinLR, s.PeakLR)
	}
	if s.Total <= 0 || s.Warmup < 0 || s.Warmup > s.Total {
		return fmt.Errorf("schedule: need 0 <= warmup (%d) <= total steps (%d) and total > 0", s.Warmup, s.Total)
	}
	return nil
}

// LR returns the learning rate for step (0-based).
func (s Schedule) LR(step int) float64 {
	if step < s.Warmup {
		return s.PeakLR * float64(step+1) / float64(s.Warmup)
	}
	if s.Kind == "constant" || s.Total <= s.Warmup+1 {
		return s.PeakLR
	}
	frac := float64(step-s.Warmup) / float64(s.Total-s.Warmup-1) // 0 .. 1 over the decay
	frac = min(max(frac, 0), 1)
	switch s.Kind {
	case "linear":
		return s.PeakLR + (s.MinLR-s.PeakLR)*frac
	default: // cosine
		return s.MinLR + 0.5*(s.PeakLR-s.MinLR)*(1+math.Cos(math.Pi*frac))
	}
}
