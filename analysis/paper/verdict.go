package paper

// The rules by which a result counts as reproducing a claim of the paper. Each is a pure function
// of analysis results (or, for growth training, of the measured numbers) with its thresholds
// named beside it; each is tested on both sides of every threshold.

import (
	"math"
	"slices"

	"github.com/growthtrain/growthtrain/analysis"
)

// A Verdict says how far a result reproduces one claim of the paper.
type Verdict int

const (
	NotReproduced Verdict = iota
	Partly
	Reproduced
	// Undecided: the result cannot say (e.g. a correlation over layers none of which
	// recovered).
	Undecided
)

func (v Verdict) String() string {
	switch v {
	case Reproduced:
		return "reproduced"
	case Partly:
		return "partly"
	case Undecided:
		return "not established"
	}
	return "not reproduced"
}

func verdict(reproduced, partly bool) Verdict {
	switch {
	case reproduced:
		return Reproduced
	case partly:
		return Partly
	}
	return NotReproduced
}

// CoreVerdict: Reproduced when the critical layers of an ablation variant are exactly
// CriticalCore, Partly when they include any of it.
func CoreVerdict(v *analysis.AblationVariant) Verdict {
	in := 0
	for _, l := range CriticalCore {
		if slices.Contains(v.Critical, l) {
			in++
		}
	}
	return verdict(in == len(CriticalCore) && len(v.Critical) == len(CriticalCore), in > 0)
}

// AntiVerdict: Reproduced when every one of AntiLayers is flagged an anti-layer, Partly when
// some are.
func AntiVerdict(v *analysis.AblationVariant) Verdict {
	in := 0
	for _, l := range AntiLayers {
		if slices.Contains(v.Anti, l) {
			in++
		}
	}
	return verdict(in == len(AntiLayers), in > 0)
}

// Thresholds of RangeVerdict, in decades of importance (the paper: 7).
const (
	RangeReproducedDecades = 6
	RangePartlyDecades     = 4
)

// RangeVerdict: Reproduced when the importance of an ablation variant spans at least
// RangeReproducedDecades, Partly from RangePartlyDecades.
func RangeVerdict(v *analysis.AblationVariant) Verdict {
	d := float64(v.SpanDecades)
	return verdict(d >= RangeReproducedDecades, d >= RangePartlyDecades)
}

// Thresholds of R2Verdict (the paper: 0.91).
const (
	R2Reproduced = 0.8 // held-out (leave-one-layer-out) pooled R²
	R2Partly     = 0.5 // in-sample pooled R²
)

// R2Verdict judges a weight type's shared-coefficient neighbour fit: Reproduced when its held-out
// R² reaches R2Reproduced, Partly when its in-sample R² reaches R2Partly.
func R2Verdict(t *analysis.PredictabilityType) Verdict {
	return verdict(float64(t.Neighbor.HeldOutPooled) >= R2Reproduced, float64(t.Neighbor.InSamplePooled) >= R2Partly)
}

// SubstitutionPartlyFactor is how many times the one-layer perplexity the last substitution step
// must exceed for SubstitutionVerdict's Partly.
const SubstitutionPartlyFactor = 10

// SubstitutionVerdict judges the error accumulation of substituting predicted layers:
// Reproduced when the perplexity after the last step exceeds SubstitutedManyPPL, Partly when it
// exceeds SubstitutionPartlyFactor times the perplexity after the first. Undecided without steps.
func SubstitutionVerdict(s *analysis.PredictabilitySubstitution) Verdict {
	if len(s.Steps) == 0 {
		return Undecided
	}
	first, last := float64(s.Steps[0].PPL), float64(s.Steps[len(s.Steps)-1].PPL)
	return verdict(last > SubstitutedManyPPL.Value, last > SubstitutionPartlyFactor*first)
}

// RecoveryAlpha is the significance level of RecoveryVerdict.
const RecoveryAlpha = 0.05

// RecoveryVerdict judges the correlation of recovery steps with importance: Reproduced when
// Spearman's rho is positive with p below RecoveryAlpha, Partly when it is positive, Undecided
// when rho is undefined (e.g. no layer recovered within the cap).
func RecoveryVerdict(c *analysis.RecoveryCorrelation) Verdict {
	rho, p := float64(c.Rho), float64(c.P)
	if math.IsNaN(rho) {
		return Undecided
	}
	return verdict(rho > 0 && p < RecoveryAlpha, rho > 0)
}

// Thresholds of LossRatioVerdict: uniform / growth validation loss (the paper: 4.7).
const (
	LossRatioReproduced = 4
	LossRatioPartly     = 1.05
)

// LossRatioVerdict judges growth training's validation loss against uniform training's at equal
// steps, by ratio = uniform loss / growth loss: Reproduced above LossRatioReproduced, Partly
// above LossRatioPartly.
func LossRatioVerdict(ratio float64) Verdict {
	return verdict(ratio > LossRatioReproduced, ratio > LossRatioPartly)
}

// SpeedupReproduced is the largest growth / uniform wall-time ratio that SpeedupVerdict counts
// as reproducing the paper's 13% speed-up.
const SpeedupReproduced = 0.9

// SpeedupVerdict judges growth training's wall time against uniform training's: Reproduced below
// SpeedupReproduced times it, Partly when merely faster.
func SpeedupVerdict(growthSeconds, uniformSeconds float64) Verdict {
	return verdict(growthSeconds < SpeedupReproduced*uniformSeconds, growthSeconds < uniformSeconds)
}
