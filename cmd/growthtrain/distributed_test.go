package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/growthtrain/growthtrain/internal/testref"
	"github.com/growthtrain/growthtrain/trainer"
)

// testSelfCommand starts this test binary as the growthtrain command with args (see TestMain).
func testSelfCommand(args []string) (*exec.Cmd, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), cliChildEnv+"="+strings.Join(args, "\x1f"))
	return cmd, nil
}

// childCommand makes --nproc start this test binary as the growthtrain command.
func childCommand(t *testing.T) {
	t.Helper()
	prev := selfCommand
	selfCommand = testSelfCommand
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

// Ctrl-C in a terminal signals the whole foreground process group: here the launcher's, as a
// shell would make it. The launcher passes the signal to every worker (which sit in groups of
// their own, so that the forwarded one is the only one); they stop before the same step, rank
// 0 checkpoints, the launcher exits with 130, and --nproc 2 --resume continues. (Without the
// workers' own groups this passes too when both copies arrive before the first is handled.)
func TestNprocSignal(t *testing.T) {
	childCommand(t)
	budget := tinyTrainBudget(t, tinyCorpus(t), "train:300", "")
	src, _ := os.ReadFile(budget)
	os.WriteFile(budget, []byte(strings.Replace(strings.Replace(string(src), "steps = 3", "steps = 2000", -1), "[eval]\n", "[eval]\nevery = 1000000\n", 1)), 0o644)
	out := filepath.Join(t.TempDir(), "out")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), cliChildEnv+"="+strings.Join([]string{"-c", budget, "-o", out, "--nproc", "2", "--dist-timeout", "60s"}, "\x1f"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			cmd.Wait()
		}
	})
	metrics := filepath.Join(out, "metrics.jsonl")
	deadline := time.Now().Add(90 * time.Second)
	for {
		raw, _ := os.ReadFile(metrics)
		if strings.Count(string(raw), "\n") >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("training never started: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil { // the whole group, as a terminal does
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Fatalf("after SIGINT: %v, want exit status 130\n%s", err, stderr.String())
	}
	latest, err := os.ReadFile(filepath.Join(out, "checkpoints", "latest"))
	if err != nil || !strings.Contains(stderr.String(), "checkpoint") {
		t.Fatalf("no checkpoint after SIGINT (%v):\n%s", err, stderr.String())
	}
	var step int
	if _, err := fmt.Sscanf(strings.TrimSpace(string(latest)), "step-%d", &step); err != nil || step < 3 {
		t.Fatalf("latest checkpoint %q", latest)
	}
	if err := run("-c", budget, "-o", out, "--resume", "--stop-at", fmt.Sprint(step+2), "--nproc", "2"); err != nil {
		t.Fatalf("resuming: %v", err)
	}
	if raw, _ := os.ReadFile(filepath.Join(out, "checkpoints", "latest")); strings.TrimSpace(string(raw)) != fmt.Sprintf("step-%07d", step+2) {
		t.Fatalf("after resuming, latest is %s", raw)
	}
}
