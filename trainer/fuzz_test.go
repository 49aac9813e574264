package trainer

import (
	"math"
	"slices"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/optim"
)

// FuzzParseBudget: ParseBudget never panics or hangs, and every budget it accepts is one the
// trainer can run: at least one phase, positive steps whose sum does not overflow, layers inside
// the model, finite floats in their ranges, inits that parse, and a stable fingerprint.
// Seed corpus: testdata/fuzz/FuzzParseBudget (the shipped configs and hostile variants).
func FuzzParseBudget(f *testing.F) {
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > 1<<16 {
			return
		}
		b, err := ParseBudget(src, "fuzz.toml")
		if err != nil {
			return
		}
		if len(b.Phases) == 0 {
			t.Fatal("accepted a budget without phases")
		}
		total := 0
		for i, p := range b.Phases {
			if p.Steps <= 0 || p.Steps > MaxSteps {
				t.Fatalf("phase %d: steps %d accepted", i, p.Steps)
			}
			total += p.Steps
			if !(p.LRScale > 0 && finite(p.LRScale)) {
				t.Fatalf("phase %d: lr_scale %v accepted", i, p.LRScale)
			}
			if n := b.Model.NumHiddenLayers; n > 0 {
				ls := p.TrainedLayers()
				if !slices.IsSorted(ls) || len(slices.Compact(slices.Clone(ls))) != len(ls) {
					t.Fatalf("phase %d: layers %v not sorted and unique", i, ls)
				}
				for _, l := range ls {
					if l < 0 || l >= n {
						t.Fatalf("phase %d: layer %d outside 0-%d", i, l, n-1)
					}
				}
				if len(ls) == 0 && !p.TrainEmbeddings && !p.TrainFinalNorm && !p.TrainHead {
					t.Fatalf("phase %d trains nothing", i)
				}
			}
			seq, err := ParseInits(p.Init)
			if err != nil {
				t.Fatalf("phase %d: init %q accepted but does not parse: %v", i, p.Init, err)
			}
			for _, is := range seq {
				if is.Kind == "scale" && !(is.Alpha > 0 && finite(is.Alpha)) {
					t.Fatalf("phase %d: scale %v accepted", i, is.Alpha)
				}
				if is.Kind == "copy" && b.Model.NumHiddenLayers > 0 && is.Layer >= b.Model.NumHiddenLayers {
					t.Fatalf("phase %d: copy:%d accepted", i, is.Layer)
				}
			}
		}
		if total != b.TotalSteps() || total <= 0 || total > MaxSteps {
			t.Fatalf("total steps %d (TotalSteps %d)", total, b.TotalSteps())
		}
		if b.Model.NumHiddenLayers < 0 || b.Model.NumHiddenLayers > MaxLayers {
			t.Fatalf("num_hidden_layers %d accepted", b.Model.NumHiddenLayers)
		}
		o := b.Optim
		for _, v := range []float64{o.LR, o.MinLR, o.Beta1, o.Beta2, o.Eps, o.WeightDecay, o.GradClip, b.Data.ValFraction, b.Model.RopeTheta, b.Model.RMSNormEps} {
			if !finite(v) {
				t.Fatalf("non-finite float accepted: %+v %+v", o, b.Data)
			}
		}
		if !(o.LR > 0) || o.MinLR < 0 || o.MinLR > o.LR || o.Beta1 < 0 || o.Beta1 >= 1 || o.Beta2 < 0 || o.Beta2 >= 1 || !(o.Eps > 0) ||
			o.WeightDecay < 0 || o.GradClip < 0 || o.Warmup < 0 || o.Warmup > total {
			t.Fatalf("optimizer settings out of range accepted: %+v", o)
		}
		if b.Data.SeqLen < 2 || b.Data.BatchSize < 1 || b.Data.GradAccum < 1 || !(b.Data.ValFraction > 0 && b.Data.ValFraction < 1) {
			t.Fatalf("data settings out of range accepted: %+v", b.Data)
		}
		dt, err := torch.ParseDType(b.Run.DType)
		if err != nil || !dt.IsFloating() {
			t.Fatalf("dtype %q accepted", b.Run.DType)
		}
		if o.LossScale != 0 || o.LossScaleGrowthInterval != 0 {
			if frac, _ := math.Frexp(o.LossScale); dt != torch.Float16 || o.LossScaleGrowthInterval < 0 ||
				o.LossScale != 0 && (frac != 0.5 || o.LossScale < optim.MinLossScale || o.LossScale > 1<<24) {
				t.Fatalf("loss scaling %v / %d accepted with dtype %s", o.LossScale, o.LossScaleGrowthInterval, dt)
			}
		}
		// Deterministic: the same source gives the same budget, and validating again changes nothing.
		again, err := ParseBudget(src, "fuzz.toml")
		if err != nil {
			t.Fatalf("parsed once, then refused: %v", err)
		}
		if again.Fingerprint() != b.Fingerprint() {
			t.Fatalf("re-parsing: fingerprint %s vs %s", again.Fingerprint(), b.Fingerprint())
		}
		if err := b.Validate(); err != nil {
			t.Fatalf("an accepted budget fails validation again: %v", err)
		}
	})
}

// FuzzDecodeState: decodeState (what --resume trusts of a state.json) never panics, and a state
// it accepts is one resume can use: a step within the budget and equal to its directory's, the
// per-layer accounting the budget implies for that step, one entry per phase in each array,
// finite non-negative phase times, and a sampler state. Seed corpus:
// testdata/fuzz/FuzzDecodeState (a real state.json and tampered ones).
func FuzzDecodeState(f *testing.F) {
	b, err := ParseBudget([]byte("[model]\nnum_hidden_layers = 3\n"+twoPhases), "fuzz.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte, dirStep int) {
		w := stateWant{fingerprint: "fp", mode: "growth", total: b.TotalSteps(), phases: len(b.Phases), dirStep: dirStep,
			layerSteps: func(step int) []int { return budgetLayerSteps(b, 3, step) }}
		st, err := decodeState(raw, w)
		if err != nil {
			return
		}
		if st.Fingerprint != "fp" || st.Mode != "growth" {
			t.Fatalf("accepted fingerprint %q, mode %q", st.Fingerprint, st.Mode)
		}
		if st.Step < 0 || st.Step > b.TotalSteps() || st.Step != dirStep {
			t.Fatalf("accepted step %d (directory %d, budget %d)", st.Step, dirStep, b.TotalSteps())
		}
		if want := budgetLayerSteps(b, 3, st.Step); !slices.Equal(st.LayerSteps, want) {
			t.Fatalf("accepted layer_steps %v, want %v", st.LayerSteps, want)
		}
		if len(st.PhaseTime) != 2 || len(st.PhaseLoss) != 2 || len(st.PhaseVal) != 2 {
			t.Fatalf("accepted arrays of %d, %d, %d entries", len(st.PhaseTime), len(st.PhaseLoss), len(st.PhaseVal))
		}
		for _, v := range st.PhaseTime {
			if !(v >= 0) || !finite(v) {
				t.Fatalf("accepted phase time %v", v)
			}
		}
		if len(st.Sampler) == 0 {
			t.Fatal("accepted a state without sampler")
		}
		if frac, _ := math.Frexp(st.LossScale); st.LossScale != 0 && (frac != 0.5 || st.LossScale < optim.MinLossScale) ||
			st.ScalerGood < 0 || st.SkippedSteps < 0 || st.SkippedSteps > st.Step {
			t.Fatalf("accepted loss scaler state %v, %d good, %d skipped", st.LossScale, st.ScalerGood, st.SkippedSteps)
		}
	})
}
