package analysis

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/model"
	"github.com/growthtrain/growthtrain/optim"
)

// repetitiveWindows cuts windows of length n from a period-8 token cycle (all offsets).
func repetitiveWindows(count, n int) [][]int64 {
	cycle := []int64{3, 17, 42, 5, 9, 60, 21, 33}
	var out [][]int64
	for i := 0; i < count; i++ {
		w := make([]int64, n)
		for j := range w {
			w[j] = cycle[(i+j)%len(cycle)]
		}
		out = append(out, w)
	}
	return out
}

// trainedTinyModel is a 2-layer model trained to low loss on the repetitive sequence.
func trainedTinyModel(t *testing.T) *model.Model {
	t.Helper()
	m := predModel(t, 2, 11)
	opt := optim.NewAdamW(torch.AdamWConfig{LR: 1e-2, Beta1: 0.9, Beta2: 0.99, Eps: 1e-8})
	defer opt.Close()
	step := optim.Step{Optimizer: opt}
	params := optim.Params(m.Names(), m.Param)
	wins := repetitiveWindows(16, 17)
	var loss float64
	for i := 0; i < 100; i++ {
		res, err := step.Run(params, 1e-2, 1, func(int) (*torch.Tensor, error) {
			b, err := model.Pack(wins, model.Whole, torch.CPU)
			if err != nil {
				return nil, err
			}
			return m.Loss(b, model.LossOptions{})
		})
		if err != nil {
			t.Fatal(err)
		}
		if loss, _, err = res.Read(); err != nil {
			t.Fatal(err)
		}
		res.Close()
	}
	if loss > 0.05 {
		t.Fatalf("tiny model did not learn the cycle: loss %v", loss)
	}
	return m
}

func snapshot(t *testing.T, m *model.Model) (map[string][]byte, map[string]bool) {
	t.Helper()
	b, f := map[string][]byte{}, map[string]bool{}
	for _, n := range m.Names() {
		b[n] = m.Param(n).Bytes()
		f[n] = m.Param(n).RequiresGrad()
	}
	return b, f
}

func checkRestored(t *testing.T, m *model.Model, b map[string][]byte, f map[string]bool) {
	t.Helper()
	for _, n := range m.Names() {
		p := m.Param(n)
		if !bytes.Equal(p.Bytes(), b[n]) {
			t.Fatalf("%s is not bitwise restored", n)
		}
		if p.RequiresGrad() != f[n] {
			t.Fatalf("%s: requires_grad %v, was %v", n, p.RequiresGrad(), f[n])
		}
		if g := p.Grad(); g != nil {
			t.Fatalf("%s keeps a gradient", n)
		}
	}
}

func TestRecoveryTrainedModel(t *testing.T) {
	m := trainedTinyModel(t)
	defer m.Close()
	e := &Evaluator{M: m, Windows: repetitiveWindows(8, 17), Batch: 8}
	train := repetitiveWindows(32, 17)
	before, flags := snapshot(t, m)
	// one frozen parameter: its flag must come back as it was
	if err := m.SetTrainable(false, "model.norm.weight"); err != nil {
		t.Fatal(err)
	}
	flags["model.norm.weight"] = false
	for _, scope := range []string{RecoveryScopeLayer, RecoveryScopeModel} {
		res, err := Recovery(m, e, train, []int{0, 1}, RecoveryOptions{NoiseFrac: 4, Seed: 5, Scope: scope, LR: 3e-3,
			MaxSteps: 100, EvalEvery: 5, Importance: []float64{10, 1}, ImportanceName: "ablation change"})
		if err != nil {
			t.Fatal(err)
		}
		checkRestored(t, m, before, flags)
		for _, rl := range res.Layers {
			t.Logf("%s scope, layer %d: base PPL %.4f, perturbed %.4f (%+.1f%%), recovered %v in %d steps, curve %v",
				scope, rl.Layer, res.BasePPL, rl.PerturbedPPL, 100*rl.PerturbedChange, rl.Recovered, rl.Steps, rl.Curve)
			if rl.PerturbedChange < 0.05 {
				t.Fatalf("layer %d: strong noise changed PPL by only %v", rl.Layer, rl.PerturbedChange)
			}
			if !rl.Recovered || rl.Steps <= 0 || rl.Steps > 100 || rl.Steps%5 != 0 {
				t.Fatalf("layer %d: recovered %v after %d steps", rl.Layer, rl.Recovered, rl.Steps)
			}
			last := rl.Curve[len(rl.Curve)-1]
			if last.Step != rl.Steps || float64(last.PPL) > float64(res.TargetPPL) {
				t.Fatalf("layer %d: curve ends at %+v, target %v", rl.Layer, last, res.TargetPPL)
			}
			if len(rl.NoiseStd) != 7 {
				t.Fatalf("layer %d: %d matrices perturbed, want 7", rl.Layer, len(rl.NoiseStd))
			}
		}
		if c := res.Correlation; c == nil || c.N != 2 || len(c.Importance) != 2 {
			t.Fatalf("correlation %+v", res.Correlation)
		}
		if _, err := json.Marshal(res); err != nil {
			t.Fatal(err)
		}
	}
	// The same seed gives the same perturbation and the same run.
	a, err := Recovery(m, e, train, []int{1}, RecoveryOptions{NoiseFrac: 2, Seed: 5, LR: 3e-3, MaxSteps: 20, EvalEvery: 5})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Recovery(m, e, train, []int{1}, RecoveryOptions{NoiseFrac: 2, Seed: 5, LR: 3e-3, MaxSteps: 20, EvalEvery: 5})
	if err != nil {
		t.Fatal(err)
	}
	if a.Layers[0].PerturbedPPL != b.Layers[0].PerturbedPPL || a.Layers[0].FinalPPL != b.Layers[0].FinalPPL {
		t.Fatalf("not reproducible: %+v vs %+v", a.Layers[0], b.Layers[0])
	}
	checkRestored(t, m, before, flags)
}

func TestRecoveryZeroNoiseAndCap(t *testing.T) {
	m := tinyModel(t, 4)
	defer m.Close()
	e := &Evaluator{M: m, Windows: windowsFor(4, 12, 3), Batch: 4}
	train := windowsFor(8, 12, 9)
	before, flags := snapshot(t, m)
	res, err := Recovery(m, e, train, []int{0, 2}, RecoveryOptions{NoiseFrac: ZeroNoise})
	if err != nil {
		t.Fatal(err)
	}
	for _, rl := range res.Layers {
		if !rl.Recovered || rl.Steps != 0 || len(rl.Curve) != 1 || math.Abs(float64(rl.PerturbedChange)) > 1e-12 {
			t.Fatalf("zero noise: %+v", rl)
		}
	}
	checkRestored(t, m, before, flags)
	// An untrained model on random tokens with a tiny lr cannot recover within 4 steps: flagged.
	res, err = Recovery(m, e, train, []int{1}, RecoveryOptions{NoiseFrac: 3, LR: 1e-7, MaxSteps: 4, EvalEvery: 2, Threshold: 1e-6})
	if err != nil {
		t.Fatal(err)
	}
	rl := res.Layers[0]
	if rl.Recovered || rl.Steps != 4 || len(rl.Curve) != 3 {
		t.Fatalf("capped run: %+v", rl)
	}
	if err := res.CorrelateImportance("x", []float64{1, 2, 3, 4}); err != nil || res.Correlation.NotRecovered != 1 || res.Correlation.CensorValue != 5 {
		t.Fatalf("censoring: %+v %v", res.Correlation, err)
	}
	checkRestored(t, m, before, flags)
	if _, err := Recovery(m, e, train, []int{9}, RecoveryOptions{}); err == nil {
		t.Fatal("layer out of range accepted")
	}
}
