package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cliChild starts this test binary as the growthtrain command with args (see TestMain).
func cliChild(t *testing.T, args ...string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), cliChildEnv+"="+strings.Join(args, "\x1f"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, &stderr
}

// Ctrl-C (SIGINT) and SIGTERM (what SLURM and other schedulers send before killing) both
// checkpoint at the next step boundary and exit, with 130 and 143 (128 + the signal number);
// --resume then finishes the run.
func TestSignalsCheckpointAndExit(t *testing.T) {
	corpus := tinyCorpus(t)
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
		code int
	}{
		{"SIGINT", syscall.SIGINT, 130},
		{"SIGTERM", syscall.SIGTERM, 143},
	} {
		t.Run(tc.name, func(t *testing.T) {
			budget := tinyTrainBudget(t, corpus, "train:300", "")
			src, _ := os.ReadFile(budget)
			// Long enough that the signal arrives in the middle.
			os.WriteFile(budget, []byte(strings.Replace(strings.Replace(string(src), "steps = 3", "steps = 2000", -1), "[eval]\n", "[eval]\nevery = 1000000\n", 1)), 0o644)
			out := filepath.Join(t.TempDir(), "out")
			cmd, stderr := cliChild(t, "-c", budget, "-o", out)
			metrics := filepath.Join(out, "metrics.jsonl")
			deadline := time.Now().Add(60 * time.Second)
			for {
				raw, _ := os.ReadFile(metrics)
				if strings.Count(string(raw), "\n") >= 3 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("training never started: %s", stderr)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != tc.code {
				t.Fatalf("after %s: %v (exit %v), want exit status %d\n%s", tc.name, err, cmd.ProcessState, tc.code, stderr)
			}
			latest, err := os.ReadFile(filepath.Join(out, "checkpoints", "latest"))
			if err != nil {
				t.Fatalf("no checkpoint after %s: %v\n%s", tc.name, err, stderr)
			}
			if !strings.Contains(stderr.String(), "checkpoint") {
				t.Errorf("stderr does not mention the checkpoint: %s", stderr)
			}
			name := strings.TrimSpace(string(latest))
			var step int
			if _, err := fmt.Sscanf(name, "step-%d", &step); err != nil || step < 3 || step >= 4000 {
				t.Fatalf("latest checkpoint %q after %s", name, tc.name)
			}
			// The run continues from it.
			if err := run("-c", budget, "-o", out, "--resume", "--stop-at", fmt.Sprint(step+2)); err != nil {
				t.Fatalf("resuming after %s: %v", tc.name, err)
			}
			if raw, _ := os.ReadFile(filepath.Join(out, "checkpoints", "latest")); strings.TrimSpace(string(raw)) != fmt.Sprintf("step-%07d", step+2) {
				t.Fatalf("after resuming, latest is %s", raw)
			}
		})
	}
}

// readComparison reads comparison.json's losses (everything in it but timings).
func readComparison(t *testing.T, path string) [3]float64 {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Comparisons []struct {
			Growth struct {
				FinalValLoss float64 `json:"final_val_loss"`
			}
			Uniform struct {
				FinalValLoss float64 `json:"final_val_loss"`
			}
			Ratio float64 `json:"val_loss_ratio"`
		}
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Comparisons) != 1 {
		t.Fatalf("%s: %d comparisons, want 1", path, len(rep.Comparisons))
	}
	c := rep.Comparisons[0]
	return [3]float64{c.Growth.FinalValLoss, c.Uniform.FinalValLoss, c.Ratio}
}

// --compare --resume resumes whichever half is unfinished (a finished half re-finishes from its
// final checkpoint), then writes comparison.json with the uninterrupted comparison's losses.
func TestCompareResume(t *testing.T) {
	corpus := tinyCorpus(t)
	budget := tinyTrainBudget(t, corpus, "train:300", "")
	ref := filepath.Join(t.TempDir(), "ref")
	if err := run("-c", budget, "--compare", "-o", ref); err != nil {
		t.Fatal(err)
	}
	want := readComparison(t, filepath.Join(ref, "comparison.json"))
	for _, tc := range []struct {
		name  string
		steps [][]string // runs before the final --compare --resume; OUT is the output directory
	}{
		{"growth half interrupted", [][]string{{"--compare", "--stop-at", "2", "-o", "OUT"}}},
		{"uniform half interrupted", [][]string{{"-o", "OUT/growth"}, {"--compare", "--resume", "--stop-at", "3", "-o", "OUT"}}},
		{"both finished", [][]string{{"--compare", "-o", "OUT"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			for _, args := range tc.steps {
				args = append([]string{"-c", budget}, args...)
				for i := range args {
					args[i] = strings.Replace(args[i], "OUT", out, 1)
				}
				if err := run(args...); err != nil {
					t.Fatalf("%v: %v", args, err)
				}
			}
			if err := run("-c", budget, "--compare", "--resume", "-o", out); err != nil {
				t.Fatalf("--compare --resume: %v", err)
			}
			if got := readComparison(t, filepath.Join(out, "comparison.json")); got != want {
				t.Fatalf("comparison after resuming: %v, uninterrupted %v", got, want)
			}
		})
	}
}
