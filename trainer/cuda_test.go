package trainer

import (
	"io"
	"math"
	"path/filepath"
	"testing"

	"github.com/growthtrain/growthtrain/internal/testref"
	"github.com/growthtrain/growthtrain/model/safetensors"
)

// The trainer's CUDA test: it runs on GPU hosts (scripts/gpu-check.sh selects the tests named
// *CUDA*) and skips elsewhere.

// A budget trains on the GPU in bfloat16 mixed precision, with every layer recomputed in the
// backward pass: float32 weights in the checkpoint, a validation loss within 3% of the same
// budget's on the CPU in float32, and a resume from a mid-run checkpoint onto the same losses;
// and in float16 with loss scaling, within 3% too.
func TestTrainingOnCUDA(t *testing.T) {
	testref.RequireCUDA(t)
	run := func(path string, opts Options) *Summary {
		b, err := LoadBudget(path)
		if err != nil {
			t.Fatal(err)
		}
		opts.Log = io.Discard
		sum, err := Run(b, opts)
		if err != nil && opts.StopAt == 0 {
			t.Fatal(err)
		}
		return sum
	}
	cpu := run(runKeysBudget(t, t.TempDir(), `dtype = "float32"`), Options{})
	gpuKeys := "device = \"cuda\"\ndtype = \"bfloat16\"\nactivation_checkpointing = true"
	dir := t.TempDir()
	gpu := run(runKeysBudget(t, dir, gpuKeys), Options{})
	if d := math.Abs(gpu.FinalValLoss - cpu.FinalValLoss); d > 0.03*cpu.FinalValLoss {
		t.Errorf("validation loss: CUDA bfloat16 %v, CPU float32 %v", gpu.FinalValLoss, cpu.FinalValLoss)
	}
	// float16 with loss scaling, on the device where float16 is fast.
	half := run(runKeysBudget(t, t.TempDir(), "device = \"cuda\"\ndtype = \"float16\""), Options{})
	if d := math.Abs(half.FinalValLoss - cpu.FinalValLoss); d > 0.03*cpu.FinalValLoss || half.LossScale == 0 {
		t.Errorf("validation loss: CUDA float16 %v (loss scale %v, %d steps skipped), CPU float32 %v", half.FinalValLoss, half.LossScale, half.SkippedSteps, cpu.FinalValLoss)
	}
	st, err := safetensors.Open(filepath.Join(dir, "out", "checkpoints", "step-0000008", "model", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Names() {
		if info, _ := st.Info(n); info.DType != safetensors.F32 {
			t.Errorf("checkpoint %s is %s, want F32", n, info.DType)
		}
	}
	st.Close()
	want, err := ReadMetrics(filepath.Join(dir, "out", "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	again := t.TempDir()
	path := runKeysBudget(t, again, gpuKeys)
	run(path, Options{StopAt: 5})
	run(path, Options{Resume: true})
	got, err := ReadMetrics(filepath.Join(again, "out", "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("resumed run logged %d steps, want %d", len(got), len(want))
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-3*math.Abs(want[i]) {
			t.Errorf("step %d after resume: loss %v, want %v", i+1, got[i], want[i])
		}
	}
}
