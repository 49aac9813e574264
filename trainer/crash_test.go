package trainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/growthtrain/growthtrain/model"
	"github.com/growthtrain/growthtrain/model/safetensors"
)

// crashPhases: three phases, the later two starting with an init that changes weights (and
// is not idempotent), checkpoints every 2 steps of 8, two kept (so saving step 6 prunes step
// 2 and the final one prunes step 4). Phase boundaries at steps 3 and 6.
const crashPhases = `
[[phase]]
name = "core"
layers = "1"
steps = 3
[[phase]]
name = "grow"
layers = "0-2"
steps = 3
init = "neighbour-average,scale:0.9"
train_embeddings = true
train_head = true
train_final_norm = true
[[phase]]
name = "top"
layers = "2"
steps = 2
init = "random"
`

// crashRun is what the crash test compares of a finished run: every metrics.jsonl field but
// the timing, the final summary's losses, and the final weights.
type crashRun struct {
	metrics   []string // each line, without its timing, as JSON (exact for float64)
	loss, val float64
	weights   string
}

func readCrashRun(t *testing.T, out string, sum *Summary) crashRun {
	t.Helper()
	ms, err := readMetrics(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, m := range ms {
		m.TokensPerSec = 0
		raw, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(raw))
	}
	return crashRun{metrics: lines, loss: sum.FinalLoss, val: sum.FinalValLoss,
		weights: modelHash(t, filepath.Join(out, "checkpoints", "step-0000008"))}
}

func (a crashRun) equal(b crashRun) bool {
	return slices.Equal(a.metrics, b.metrics) && a.loss == b.loss && a.val == b.val && a.weights == b.weights
}

// The crash-consistency test. A trainer process (this test binary, re-executed) is killed with
// SIGKILL at many moments: inside every stage of a checkpoint write (after the model, the
// tokenizer, the optimizer state and state.json, before and after the rename, before and after
// latest, during pruning, and while replacing a checkpoint directory of the same step), at a
// phase change before and right after its init, after steps, and at seeded random times. After
// each kill the newest complete checkpoint must load (weights, optimizer state, state.json) and
// no half-written directory may look like a checkpoint; then the run is resumed (or restarted,
// when the kill came before the first checkpoint) and must reproduce the uninterrupted run bit
// for bit on the CPU: every metrics.jsonl field but the timing, the final losses, and the final
// model.safetensors.
func TestCrashConsistency(t *testing.T) {
	base := t.TempDir()
	corpusDir := filepath.Join(base, "shared")
	budgetAt := func(dir string) string { // every run shares the corpus and the token cache
		path := tinyBudget(t, corpusDir, crashPhases, "[checkpoint]\nevery = 2\nkeep = 2\n")
		src, _ := os.ReadFile(path)
		out := strings.Replace(string(src), fmt.Sprintf("output = %q", filepath.Join(corpusDir, "out")), fmt.Sprintf("output = %q", filepath.Join(dir, "out")), 1)
		p := filepath.Join(dir, "budget.toml")
		if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	refDir := filepath.Join(base, "ref")
	os.MkdirAll(refDir, 0o755)
	b, err := LoadBudget(budgetAt(refDir))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(b, Options{Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	want := readCrashRun(t, filepath.Join(refDir, "out"), sum)

	// A partial copy of a step-6 checkpoint (no state.json): the resumed run replaces it.
	partialSix := func(t *testing.T, path string) {
		b, _ := LoadBudget(path)
		if _, err := Run(b, Options{Log: io.Discard, StopAt: 4}); !errors.Is(err, ErrStopped) {
			t.Fatal(err)
		}
		p := filepath.Join(filepath.Dir(path), "out", "checkpoints", "step-0000006", "model")
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "config.json"), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	type crashCase struct {
		kill  string        // point:n where the child kills itself
		after time.Duration // or: the parent kills it after this long
		setup func(t *testing.T, path string)
	}
	var cases []crashCase
	for _, p := range []string{"checkpoint-model:2", "checkpoint-tokenizer:2", "checkpoint-renamed:2", "checkpoint-latest:2",
		"checkpoint-model:4", "checkpoint-tokenizer:4", "checkpoint-optimizer:4", "checkpoint-state:4",
		"checkpoint-written:4", "checkpoint-renamed:4", "checkpoint-latest:4", "checkpoint-done:4",
		"checkpoint-prune:2", "checkpoint-pruning:2", "checkpoint-prune:4", "checkpoint-pruning:4",
		"checkpoint-state:8", "checkpoint-renamed:8", "checkpoint-latest:8",
		"phase-start:2", "init-applied:2", "phase-start:3", "init-applied:3",
		"step-done:1", "step-done:3", "step-done:5", "step-done:7"} {
		cases = append(cases, crashCase{kill: p})
	}
	for _, p := range []string{"checkpoint-moved-aside:6", "checkpoint-renamed:6", "checkpoint-latest:6", "checkpoint-old-removed:6"} {
		cases = append(cases, crashCase{kill: p, setup: partialSix})
	}
	// Seeded: the same kill times every run, spread over a child's life (start-up included;
	// one that finishes first is fine too).
	rng := rand.New(rand.NewPCG(20261201, 1))
	for range 4 {
		cases = append(cases, crashCase{after: time.Duration(rng.Int64N(int64(1500 * time.Millisecond)))})
	}
	for i, tc := range cases {
		name := tc.kill
		if name == "" {
			name = fmt.Sprintf("random %v", tc.after.Round(time.Millisecond))
		}
		if tc.setup != nil {
			name += " replacing"
		}
		t.Run(fmt.Sprintf("%02d %s", i, name), func(t *testing.T) {
			dir := t.TempDir()
			path := budgetAt(dir)
			if tc.setup != nil {
				tc.setup(t, path)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "GROWTHTRAIN_TRAINER_CHILD="+path, "GROWTHTRAIN_TRAINER_RESUME=auto",
				"GROWTHTRAIN_TRAINER_KILL="+tc.kill)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if tc.after > 0 {
				time.Sleep(tc.after)
				cmd.Process.Signal(syscall.SIGKILL)
			}
			err := cmd.Wait()
			ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
			switch {
			case ws.Signaled() && ws.Signal() == syscall.SIGKILL:
			case tc.kill == "" && err == nil: // finished before the random kill
			default:
				t.Fatalf("the child was not killed at %s: %v\n%s", name, err, stderr.String())
			}
			ckdir := filepath.Join(dir, "out", "checkpoints")
			checkNewestCheckpoint(t, path, ckdir)

			b, _ := LoadBudget(path)
			sum, err := Run(b, Options{Log: io.Discard, Resume: HasCheckpoint(b, "")})
			if err != nil {
				t.Fatalf("continuing after the kill: %v", err)
			}
			if got := readCrashRun(t, filepath.Join(dir, "out"), sum); !got.equal(want) {
				t.Fatalf("the resumed run differs from the uninterrupted one:\n got %+v\nwant %+v", got, want)
			}
			ents, _ := os.ReadDir(ckdir)
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			if strings.Join(names, " ") != ".lock latest step-0000006 step-0000008" {
				t.Fatalf("checkpoint directory after the run: %v", names)
			}
		})
	}
}

// checkNewestCheckpoint checks what a kill left: the newest complete checkpoint (if any) loads
// in full, and only complete checkpoints have step-N names.
func checkNewestCheckpoint(t *testing.T, budget, ckdir string) {
	t.Helper()
	all := listCheckpoints(ckdir)
	if len(all) == 0 {
		return // killed before the first checkpoint was in place
	}
	latest, err := latestCheckpoint(ckdir)
	if err != nil {
		t.Fatalf("after the kill: %v", err)
	}
	for _, f := range []string{"model/config.json", "model/model.safetensors", "model/tokenizer.json", "model/tokenizer_config.json",
		"model/generation_config.json", "optimizer.safetensors", "state.json"} {
		if _, err := os.Stat(filepath.Join(latest, f)); err != nil {
			t.Fatalf("the newest checkpoint %s lacks %s", filepath.Base(latest), f)
		}
	}
	m, err := model.LoadHF(filepath.Join(latest, "model"), model.LoadOptions{})
	if err != nil {
		t.Fatalf("the newest checkpoint's model does not load: %v", err)
	}
	m.Close()
	opt, err := safetensors.Open(filepath.Join(latest, "optimizer.safetensors"))
	if err != nil {
		t.Fatalf("the newest checkpoint's optimizer state does not open: %v", err)
	}
	opt.Close()
	b, _ := LoadBudget(budget)
	b.SetNumLayers(3)
	raw, err := os.ReadFile(filepath.Join(latest, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st checkpointState
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatalf("state.json: %v", err)
	}
	w := stateWant{fingerprint: st.Fingerprint, mode: "growth", total: b.TotalSteps(), phases: len(b.Phases),
		dirStep: stepOf(filepath.Base(latest)), layerSteps: func(step int) []int { return budgetLayerSteps(b, 3, step) }}
	if _, err := decodeState(raw, w); err != nil {
		t.Fatalf("the newest checkpoint's state.json: %v", err)
	}
}
