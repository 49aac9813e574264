package analysis

import (
	"math"
	"testing"
)

// The estimates scale with the work each metric does: windows for the passes over the data,
// layers x steps for recovery, and a metric not asked for is not estimated.
func TestEstimateScales(t *testing.T) {
	c := Calibration{Layer: 1e-3, Head: 2e-3, TrainStep: 0.05, SVDLayer: 0.1, Dot: 0.01}
	opts := RunOptions{RecoverySteps: 50, RecoveryBatch: 4, RecoveryLayers: []int{1, 2}}
	base := c.Estimate(Metrics, 8, 10, opts)
	if len(base) != len(Metrics) {
		t.Fatalf("estimates for %d metrics, want %d", len(base), len(Metrics))
	}
	for _, m := range Metrics {
		if !(base[m] > 0) || math.IsInf(base[m], 0) {
			t.Errorf("%s: %v", m, base[m])
		}
	}
	double := c.Estimate(Metrics, 8, 20, opts)
	for _, m := range []string{"ablation", "manipulation", "lens", "blocks"} {
		if math.Abs(double[m]/base[m]-2) > 1e-9 {
			t.Errorf("%s: twice the windows, %.3gx the time", m, double[m]/base[m])
		}
	}
	more := opts
	more.RecoveryLayers = []int{1, 2, 3, 4}
	if r := c.Estimate([]string{"recovery"}, 8, 10, more)["recovery"] / base["recovery"]; math.Abs(r-2) > 1e-9 {
		t.Errorf("recovery: twice the layers, %.3gx the time", r)
	}
	// Without a measured step, a step is three forward passes of a batch.
	c.TrainStep = 0
	if got := c.Estimate([]string{"recovery"}, 8, 10, opts)["recovery"]; !(got > 0) {
		t.Errorf("recovery without a calibrated step: %v", got)
	}
	if got := c.Estimate([]string{"lens"}, 8, 10, opts); len(got) != 1 {
		t.Errorf("asked for lens, got %v", got)
	}
}

// Calibrate measures every unit it needs, and its recovery step leaves the model bitwise as it
// was (it runs before the diagnostics, which must not see it).
func TestCalibrateRestoresModel(t *testing.T) {
	m := trainedTinyModel(t) // a model that perturbation hurts: recovery takes steps
	defer m.Close()
	b, f := snapshot(t, m)
	e := &Evaluator{M: m, Windows: repetitiveWindows(4, 17), Batch: 4}
	train := repetitiveWindows(16, 17)
	c, err := Calibrate(e, train, RunOptions{Seed: 1, RecoverySteps: 10, RecoveryBatch: 2, RecoverySeqLen: 16})
	if err != nil {
		t.Fatal(err)
	}
	if !(c.Layer > 0 && c.Head > 0 && c.TrainStep > 0 && c.SVDLayer > 0) {
		t.Errorf("calibration %+v: a unit is not measured", c)
	}
	checkRestored(t, m, b, f)
	if c, err := Calibrate(e, nil, RunOptions{}); err != nil || c.TrainStep != 0 {
		t.Errorf("without training windows: %+v, %v (no recovery step is measured)", c, err)
	}
}
