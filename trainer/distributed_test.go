package trainer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/internal/disttest"
	"github.com/growthtrain/growthtrain/model"
)

// The data-parallel tests run 2 ranks as processes of their own (internal/disttest: Gloo over
// loopback, one intra-op thread each) on the tiny 3-layer budget, and compare them with one
// process training the same global batch (batch_size 4: 2 rows per rank).
//
// Tolerance: the ranks compute the same sums in another order (two half batches, then an
// average of the two means), so float32 rounding differs by ~1e-7 relative per step; AdamW
// normalises the update by the gradient's own scale, which lets such differences grow a
// little for near-zero gradients, and over long runs a lot (docs/distributed.md: the demo
// drifts by 0.2% over 330 steps, as one process with grad_accum 2 does). Over these 11 steps at
// lr 1e-2 the largest parameter difference seen was 4.5e-6; the tests allow 1e-4 (parameters
// are ~0.02-1) and 1e-5 relative on losses.
const (
	distParamTol = 1e-4
	distLossTol  = 1e-5
)

// A budget whose first phase trains layer 1 only (re-initialised at random, which is then
// broadcast from rank 0), whose second trains everything, and whose third trains one layer
// drawn per step (the others skipped: no gradient, so nothing to reduce or update).
const distPhases = `
[[phase]]
name = "core"
layers = "1"
steps = 4
init = "random"
[[phase]]
name = "all"
layers = "all"
steps = 4
train_embeddings = true
train_head = true
train_final_norm = true
[[phase]]
name = "sampled"
layers = "all"
sample = 1
steps = 3
`

// distRank runs the budget in $GT_BUDGET as one rank; GT_STOP_AT, GT_RESUME and GT_DIE_AT
// (kill this rank with SIGKILL after that step) adjust it. It fails t on an error, except
// when GT_WANT_ERROR is set: then it prints the error and passes.
func distRank(t *testing.T) {
	if at := os.Getenv("GT_DIE_AT"); at != "" {
		testHook = func(point string, n int) {
			if point == "step-done" && strconv.Itoa(n) == at {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if at := os.Getenv("GT_CANCEL_AT"); at != "" {
		testHook = func(point string, n int) {
			if point == "step-done" && strconv.Itoa(n) == at {
				cancel() // as Ctrl-C would, on this rank only
			}
		}
	}
	g := disttest.Group(t, 20*time.Second)
	defer g.Close()
	b, err := LoadBudget(os.Getenv("GT_BUDGET"))
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := strconv.Atoi(os.Getenv("GT_STOP_AT"))
	start := time.Now()
	_, err = Run(b, Options{Log: io.Discard, Group: g, StopAt: stop, Resume: os.Getenv("GT_RESUME") == "1", Context: ctx})
	if os.Getenv("GT_WANT_ERROR") != "" {
		fmt.Printf("RANK ERROR after %v: %v (distributed: %v)\n", time.Since(start).Round(time.Millisecond), err, errors.Is(err, torch.ErrDistributed))
		return
	}
	if err != nil && !(stop > 0 && errors.Is(err, ErrStopped)) {
		t.Fatal(err)
	}
}

// distBudget writes the tiny budget into a new directory, with its data cache (the trained
// tokenizer, the token streams) in cache, so that the runs a test compares tokenize once.
func distBudget(t *testing.T, cache string, phases string) string {
	t.Helper()
	dir := t.TempDir()
	path := tinyBudget(t, dir, phases, "")
	editFile(t, path, fmt.Sprintf("cache_dir = %q", filepath.Join(dir, "cache")), fmt.Sprintf("cache_dir = %q", cache))
	return path
}

// outOf is the output directory of a budget distBudget wrote.
func outOf(budget string) string { return filepath.Join(filepath.Dir(budget), "out") }

// runRanks runs the calling test as 2 ranks on budget, with extra variables.
func runRanks(t *testing.T, budget string, env ...string) []disttest.Result {
	t.Helper()
	res := disttest.Start(t, 2, disttest.Options{Env: append([]string{"GT_BUDGET=" + budget}, env...)}).Wait(t, 2*time.Minute)
	disttest.RequireSuccess(t, res)
	return res
}

// compareRuns checks two output directories' final models and per-step losses agree within the
// tolerances.
func compareRuns(t *testing.T, got, want string) {
	t.Helper()
	gl, err := ReadMetrics(filepath.Join(got, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	wl, err := ReadMetrics(filepath.Join(want, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(gl) != len(wl) {
		t.Fatalf("%d logged steps, want %d", len(gl), len(wl))
	}
	for i := range gl {
		if math.Abs(gl[i]-wl[i]) > distLossTol*math.Abs(wl[i]) {
			t.Errorf("step %d: loss %v, one process %v", i+1, gl[i], wl[i])
		}
	}
	if d := maxParamDiff(t, got, want); d > distParamTol {
		t.Errorf("final parameters differ by up to %g (tolerance %g)", d, distParamTol)
	} else {
		t.Logf("final parameters differ by up to %g", d)
	}
}

// maxParamDiff is the largest absolute difference between the parameters of two runs' newest
// checkpoints.
func maxParamDiff(t *testing.T, a, b string) float64 {
	t.Helper()
	ma, mb := loadLatest(t, a), loadLatest(t, b)
	defer ma.Close()
	defer mb.Close()
	var d float64
	torch.WithScope(func(*torch.Scope) {
		for _, n := range ma.Names() {
			d = max(d, ma.Param(n).Sub(mb.Param(n)).Abs().Amax(false).Item())
		}
	})
	return d
}

// loadLatest loads the model of an output directory's newest checkpoint.
func loadLatest(t *testing.T, out string) *model.Model {
	t.Helper()
	ck, err := latestCheckpoint(filepath.Join(out, "checkpoints"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.LoadHF(filepath.Join(ck, "model"), model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// oneProcess trains budget in one process (StopAt stop, resuming when resume).
func oneProcess(t *testing.T, budget string, stop int, resume bool) *Summary {
	t.Helper()
	b, err := LoadBudget(budget)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Run(b, Options{Log: io.Discard, StopAt: stop, Resume: resume})
	if err != nil && !(stop > 0 && errors.Is(err, ErrStopped)) {
		t.Fatal(err)
	}
	return s
}

// 2 ranks of batch 2 train the same model as one process of batch 4, and a phase that trains
// one layer (listed, or drawn per step) all-reduces only that layer's gradients.
func TestDataParallelEqualsCombinedBatch(t *testing.T) {
	if _, ok := disttest.Rank(t); ok {
		distRank(t)
		return
	}
	cache := t.TempDir()
	one, two := distBudget(t, cache, distPhases), distBudget(t, cache, distPhases)
	oneProcess(t, one, 0, false)
	runRanks(t, two)
	compareRuns(t, outOf(two), outOf(one))

	var s Summary
	raw, err := os.ReadFile(filepath.Join(outOf(two), "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	// float32 gradients: 4 bytes per trainable parameter.
	m := loadLatest(t, outOf(two))
	defer m.Close()
	var layer1, all int64
	for _, n := range m.LayerParamNames(1) {
		layer1 += 4 * m.Param(n).Numel()
	}
	all = 4 * m.NumParams()
	if s.WorldSize != 2 || s.Phases[0].AllReduceBytes != layer1 || s.Phases[1].AllReduceBytes != all || s.Phases[2].AllReduceBytes != layer1 {
		t.Fatalf("world size %d, all-reduce bytes per step %d, %d and %d, want 2, %d (layer 1), %d (everything) and %d (one layer)",
			s.WorldSize, s.Phases[0].AllReduceBytes, s.Phases[1].AllReduceBytes, s.Phases[2].AllReduceBytes, layer1, all, layer1)
	}
}

// 2 ranks of 2 rows are, bit for bit, one process accumulating 2 micro-batches of 2 rows (with
// and without activation checkpointing on the ranks): the same windows, and (g1 + g2) / 2
// equals g1/2 + g2/2 exactly. Both run as ranks (the one process
// as a world of 1) so that both use one intra-op thread. (One process of 4 rows differs: by
// 4.5e-6 in the final parameters, the sums being rounded in another order.)
func TestDataParallelEqualsGradAccumExactly(t *testing.T) {
	if _, ok := disttest.Rank(t); ok {
		distRank(t)
		return
	}
	cache := t.TempDir()
	accum, two := distBudget(t, cache, distPhases), distBudget(t, cache, distPhases)
	editFile(t, accum, "batch_size = 4", "batch_size = 2\ngrad_accum = 2")
	disttest.RequireSuccess(t, disttest.Start(t, 1, disttest.Options{Env: []string{"GT_BUDGET=" + accum}}).Wait(t, 2*time.Minute))
	// The ranks again with every layer recomputed in the backward pass: the reduction runs
	// after the recomputed part of the backward pass, so the gradients it sums are complete.
	recomputed := distBudget(t, cache, distPhases)
	editFile(t, recomputed, "seed = 7", "seed = 7\nactivation_checkpointing = true")
	a, err := ReadMetrics(filepath.Join(outOf(accum), "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ranks := range []string{two, recomputed} {
		runRanks(t, ranks)
		b, err := ReadMetrics(filepath.Join(outOf(ranks), "metrics.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(a, b) || len(a) != 11 {
			t.Errorf("losses:\n2 ranks %v\naccum   %v", b, a)
		}
		if d := maxParamDiff(t, outOf(ranks), outOf(accum)); d != 0 {
			t.Errorf("final parameters differ by up to %g, want bit for bit", d)
		}
	}
}

// A run checkpointed by 2 ranks continues in one process, and that one's checkpoint in 2 ranks,
// and ends where one process running straight through ends.
func TestDataParallelResumeWithAnotherWorldSize(t *testing.T) {
	if _, ok := disttest.Rank(t); ok {
		distRank(t)
		return
	}
	cache := t.TempDir()
	straight, split := distBudget(t, cache, distPhases), distBudget(t, cache, distPhases)
	oneProcess(t, straight, 0, false)
	runRanks(t, split, "GT_STOP_AT=3")
	oneProcess(t, split, 9, true)
	runRanks(t, split, "GT_RESUME=1")
	compareRuns(t, outOf(split), outOf(straight))
}

// A rank that dies makes the other fail with a communication error, well within the group's
// timeout, instead of waiting for it forever.
func TestDataParallelRankDies(t *testing.T) {
	if _, ok := disttest.Rank(t); ok {
		distRank(t)
		return
	}
	cache := t.TempDir()
	oneProcess(t, distBudget(t, cache, distPhases), 1, false) // trains the tokenizer into the cache
	budget := distBudget(t, cache, distPhases)
	res := disttest.Start(t, 2, disttest.Options{Env: []string{"GT_BUDGET=" + budget, "GT_WANT_ERROR=1"},
		RankEnv: map[int][]string{1: {"GT_DIE_AT=2"}}}).Wait(t, time.Minute)
	if res[1].Err == nil {
		t.Fatalf("rank 1 was to kill itself:\n%s", disttest.Describe(res))
	}
	line := firstLineWith(res[0].Output, "RANK ERROR")
	if !strings.Contains(line, "rank 0 of 2: ") || !strings.Contains(line, "(distributed: true)") {
		t.Fatalf("rank 0 should fail with a distributed error naming itself:\n%s", disttest.Describe(res))
	}
	// From its Run's start (process start-up aside, which a loaded machine may stretch).
	var took time.Duration
	if f := strings.Fields(strings.TrimPrefix(line, "RANK ERROR after ")); len(f) > 0 {
		took, _ = time.ParseDuration(strings.TrimSuffix(f[0], ":"))
	}
	if took <= 0 || took >= 20*time.Second {
		t.Fatalf("rank 0 failed after %v of its run, want within the group's timeout of 20s: %s", took, line)
	}
	t.Log(line)
}

// An interrupt on one rank (Ctrl-C reaches a launcher's ranks at slightly different moments)
// stops every rank before the same step; rank 0 checkpoints it, and the run resumes from there.
func TestDataParallelInterruptOnOneRank(t *testing.T) {
	if _, ok := disttest.Rank(t); ok {
		distRank(t)
		return
	}
	cache := t.TempDir()
	straight, split := distBudget(t, cache, distPhases), distBudget(t, cache, distPhases)
	oneProcess(t, straight, 0, false)
	res := disttest.Start(t, 2, disttest.Options{Env: []string{"GT_BUDGET=" + split, "GT_WANT_ERROR=1"},
		RankEnv: map[int][]string{1: {"GT_CANCEL_AT=5"}}}).Wait(t, time.Minute)
	for r := range res {
		if line := firstLineWith(res[r].Output, "RANK ERROR"); !strings.Contains(line, ErrInterrupted.Error()) || strings.Contains(line, "rank") {
			t.Fatalf("rank %d should stop with ErrInterrupted alone:\n%s", r, disttest.Describe(res))
		}
	}
	if ck, err := latestCheckpoint(filepath.Join(outOf(split), "checkpoints")); err != nil || filepath.Base(ck) != checkpointName(5) {
		t.Fatalf("checkpoint %q (%v), want step 5's", ck, err)
	}
	runRanks(t, split, "GT_RESUME=1")
	compareRuns(t, outOf(split), outOf(straight))
}

// Ranks of different budgets refuse to train together.
func TestDataParallelRefusesDifferentBudgets(t *testing.T) {
	if _, ok := disttest.Rank(t); ok {
		distRank(t)
		return
	}
	cache := t.TempDir()
	ba, bb := distBudget(t, cache, distPhases), distBudget(t, cache, twoPhases)
	oneProcess(t, ba, 1, false) // trains the tokenizer into the cache
	ba = distBudget(t, cache, distPhases)
	res := disttest.Start(t, 2, disttest.Options{Env: []string{"GT_WANT_ERROR=1"},
		RankEnv: map[int][]string{0: {"GT_BUDGET=" + ba}, 1: {"GT_BUDGET=" + bb}}}).Wait(t, time.Minute)
	for r := range res {
		if !strings.Contains(firstLineWith(res[r].Output, "RANK ERROR"), "fingerprints differ") {
			t.Fatalf("rank %d should refuse:\n%s", r, disttest.Describe(res))
		}
	}
}

func firstLineWith(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}
