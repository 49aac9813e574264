package main

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/internal/testref"
	"github.com/growthtrain/growthtrain/trainer"
)

// childCommand makes --nproc start this test binary as the growthtrain command (see TestMain).
func childCommand(t *testing.T) {
	t.Helper()
	prev := selfCommand
	selfCommand = func(args []string) (*exec.Cmd, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), cliChildEnv+"="+strings.Join(args, "\x1f"))
		return cmd, nil
	}
	t.Cleanup(func() { selfCommand = prev })
}

func readSummary(t *testing.T, out string) trainer.Summary {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s trainer.Summary
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// --nproc 2 trains the budget's global batch over 2 workers to the losses of one process.
func TestTrainNproc(t *testing.T) {
	childCommand(t)
	budget := tinyTrainBudget(t, tinyCorpus(t), "train:300", "")
	one, two := filepath.Join(t.TempDir(), "one"), filepath.Join(t.TempDir(), "two")
	if err := run("-c", budget, "-o", one); err != nil {
		t.Fatal(err)
	}
	if err := run("-c", budget, "-o", two, "--nproc", "2", "--dist-timeout", "30s"); err != nil {
		t.Fatal(err)
	}
	compareSummaries(t, one, two)
	s2 := readSummary(t, two)
	if !(s2.Phases[0].AllReduceBytes > 0 && s2.Phases[0].AllReduceBytes < s2.Phases[1].AllReduceBytes) {
		t.Errorf("one trained layer reduces %d bytes per step, all of them %d", s2.Phases[0].AllReduceBytes, s2.Phases[1].AllReduceBytes)
	}
}

// compareSummaries checks a data-parallel run's per-phase losses against one process's.
func compareSummaries(t *testing.T, one, two string) {
	t.Helper()
	s1, s2 := readSummary(t, one), readSummary(t, two)
	if s2.WorldSize != 2 || s1.WorldSize != 0 {
		t.Fatalf("world sizes %d and %d", s1.WorldSize, s2.WorldSize)
	}
	for i := range s1.Phases {
		a, b := s1.Phases[i], s2.Phases[i]
		if math.Abs(a.TrainLoss-b.TrainLoss) > 1e-5*a.TrainLoss || math.Abs(a.ValLoss-b.ValLoss) > 1e-5*a.ValLoss {
			t.Errorf("phase %d: 2 workers train loss %v val %v, one process %v %v", i+1, b.TrainLoss, b.ValLoss, a.TrainLoss, a.ValLoss)
		}
	}
}

// torchrun (PyTorch's own launcher, its c10d agent store and variables) runs growthtrain's
// ranks: the same binary as under --nproc, here this test binary as the CLI.
func TestTrainUnderTorchrun(t *testing.T) {
	budget := tinyTrainBudget(t, tinyCorpus(t), "train:300", "")
	one, two := filepath.Join(t.TempDir(), "one"), filepath.Join(t.TempDir(), "two")
	if err := run("-c", budget, "-o", one); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testref.Python(t), "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
		"--no-python", os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1",
		cliChildEnv+"="+strings.Join([]string{"-c", budget, "-o", two, "--dist-timeout", "60s"}, "\x1f"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("torchrun: %v\n%s", err, out)
	}
	compareSummaries(t, one, two)
}

// Launcher variables that do not make sense are refused before any work.
func TestRankEnvErrors(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"RANK": "0"}, "WORLD_SIZE is not"},
		{map[string]string{"WORLD_SIZE": "2", "RANK": "2"}, "want 0 <= RANK < WORLD_SIZE"},
		{map[string]string{"WORLD_SIZE": "x", "RANK": "0"}, `WORLD_SIZE="x"`},
		{map[string]string{"WORLD_SIZE": "2"}, `RANK=""`},
	} {
		for _, k := range []string{"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT"} {
			t.Setenv(k, tc.env[k])
		}
		_, _, err := readRankEnv()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.env, err, tc.want)
		}
	}
	for _, k := range []string{"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT"} {
		t.Setenv(k, "")
	}
	budget := tinyTrainBudget(t, tinyCorpus(t), "train:300", "")
	// A worker that fails makes the launcher fail, naming it: batch_size 4 does not split
	// over 3 ranks.
	childCommand(t)
	if err := run("-c", budget, "--nproc", "3", "--dist-timeout", "30s"); err == nil || !strings.Contains(err.Error(), "of 3 exited with status 1") {
		t.Errorf("--nproc 3 of a batch of 4: %v", err)
	}
	t.Setenv("WORLD_SIZE", "2")
	if err := run("-c", budget, "--nproc", "2"); err == nil || !strings.Contains(err.Error(), "leave it out") {
		t.Errorf("--nproc under a launcher: %v", err)
	}
}

// withoutTimes drops what differs between two identical analyses: when they ran and how long
// each part took.
func withoutTimes(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if k == "created" || k == "seconds" {
				continue
			}
			out[k] = withoutTimes(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = withoutTimes(e)
		}
		return out
	}
	return v
}

func readAnalysis(t *testing.T, dir string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "analysis.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.MarshalIndent(withoutTimes(v), "", " ")
	return string(out)
}

// analyze --nproc 2 shards the ablation variants, recovery runs and manipulation strategies
// over 2 workers and writes the analysis.json one process writes (times aside); structure runs
// on rank 0 alone. (Predictability, also rank 0's alone, needs 4 layers; this model has 3.)
func TestAnalyzeNproc(t *testing.T) {
	childCommand(t)
	budget := tinyTrainBudget(t, tinyCorpus(t), "train:300", "")
	out := filepath.Join(t.TempDir(), "train")
	if err := run("-c", budget, "-o", out); err != nil {
		t.Fatal(err)
	}
	modelDir := filepath.Join(out, "checkpoints", "step-0000006", "model")
	text := filepath.Join(testref.RepoRoot(t), "model", "testdata", "moby_dick_ch1-3.txt")
	args := []string{"analyze", "-m", modelDir, "--bootstrap", "20", "--recovery-steps", "3", "--recovery-layers", "all",
		"--metrics", "ablation,recovery,manipulation,structure", "--train-data", text, "--data", text, "--eval-tokens", "600", "--seq-len", "32", "--dist-timeout", "60s"}
	one, two := filepath.Join(t.TempDir(), "one"), filepath.Join(t.TempDir(), "two")
	if err := run(append(args, "-o", one)...); err != nil {
		t.Fatal(err)
	}
	if err := run(append(args, "-o", two, "--nproc", "2")...); err != nil {
		t.Fatal(err)
	}
	a, b := readAnalysis(t, one), readAnalysis(t, two)
	if a != b {
		t.Fatalf("2-worker analysis.json differs from one process's:\n%s\nvs\n%s", b, a)
	}
	for _, part := range []string{`"ablation"`, `"recovery"`, `"manipulation"`, `"structure"`} {
		if !strings.Contains(a, part) {
			t.Errorf("analysis.json lacks %s", part)
		}
	}
}
