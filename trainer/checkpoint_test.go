package trainer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// withHook installs h as testHook for the rest of the test.
func withHook(t *testing.T, h func(point string, n int)) {
	t.Helper()
	old := testHook
	testHook = h
	t.Cleanup(func() { testHook = old })
}

// fakeCheckpoint makes dir/name look like a complete checkpoint (a state.json in it).
func fakeCheckpoint(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name, "state.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Checkpoints are ordered by their step number, not by their names as strings: past 10^7 steps
// the names grow a digit, and the newest must still be the newest (resume, pruning).
func TestCheckpointOrderIsNumeric(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"step-0000010", "step-9999999", "step-10000000", "step-123456789"} {
		fakeCheckpoint(t, dir, n)
	}
	if got := checkpointName(10); got != "step-0000010" {
		t.Fatalf("name of step 10: %q", got)
	}
	if got := checkpointName(123456789); got != "step-123456789" {
		t.Fatalf("name of step 123456789: %q", got)
	}
	var names []string
	for _, c := range listCheckpoints(dir) {
		names = append(names, c.name)
	}
	if want := "step-0000010 step-9999999 step-10000000 step-123456789"; strings.Join(names, " ") != want {
		t.Fatalf("order %v, want %s", names, want)
	}
	if latest, err := latestCheckpoint(dir); err != nil || filepath.Base(latest) != "step-123456789" {
		t.Fatalf("latest: %q, %v", latest, err)
	}
	pruneCheckpoints(dir, 2)
	for name, want := range map[string]bool{"step-0000010": false, "step-9999999": false, "step-10000000": true, "step-123456789": true} {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) != want {
			t.Errorf("after pruning to 2: %s present=%v, want %v", name, err == nil, want)
		}
	}
}

// A step that already has a checkpoint is not written again: --stop-at at a multiple of
// [checkpoint] every, Ctrl-C right after a periodic checkpoint, and --resume of a finished run
// used to replace the good directory (deleting it first).
func TestNoResaveOfTheSameStep(t *testing.T) {
	cases := []struct {
		name  string
		first func(b *Budget) (Options, func(point string, n int))
	}{
		{"stop-at a periodic checkpoint", func(b *Budget) (Options, func(string, int)) {
			return Options{Log: io.Discard, StopAt: 4}, nil
		}},
		{"interrupt right after a periodic checkpoint", func(b *Budget) (Options, func(string, int)) {
			ctx, cancel := context.WithCancel(context.Background())
			return Options{Log: io.Discard, Context: ctx}, func(point string, n int) {
				if point == "checkpoint-done" && n == 4 {
					cancel()
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tinyBudget(t, dir, twoPhases, "[checkpoint]\nevery = 2\nkeep = 1\n")
			b, _ := LoadBudget(path)
			opts, hook := tc.first(b)
			writes := map[int]int{}
			withHook(t, func(point string, n int) {
				if point == "checkpoint-written" {
					writes[n]++
				}
				if hook != nil {
					hook(point, n)
				}
			})
			if _, err := Run(b, opts); !errors.Is(err, ErrStopped) && !errors.Is(err, ErrInterrupted) {
				t.Fatalf("first part: %v", err)
			}
			if writes[4] != 1 {
				t.Fatalf("step 4 was written %d times, want once", writes[4])
			}
			if _, err := os.Stat(filepath.Join(dir, "out", "checkpoints", "step-0000004")); err != nil {
				t.Fatal(err)
			}
			// Resume to the end, then resume the finished run: neither rewrites what exists.
			b, _ = LoadBudget(path)
			if _, err := Run(b, Options{Log: io.Discard, Resume: true}); err != nil {
				t.Fatal(err)
			}
			final := filepath.Join(dir, "out", "checkpoints", "step-0000008")
			done, err := os.Stat(final)
			if err != nil {
				t.Fatal(err)
			}
			clear(writes)
			b, _ = LoadBudget(path)
			if _, err := Run(b, Options{Log: io.Discard, Resume: true}); err != nil {
				t.Fatalf("resuming a finished run: %v", err)
			}
			if len(writes) != 0 {
				t.Fatalf("resuming the finished run wrote checkpoints %v", writes)
			}
			if after, err := os.Stat(final); err != nil || !os.SameFile(done, after) {
				t.Fatalf("the final checkpoint was replaced (%v)", err)
			}
		})
	}
}

// Temporary directories that a killed checkpoint write left behind are removed when the run
// (which owns its checkpoint directory) starts again.
func TestLeftoverTemporaryDirsRemoved(t *testing.T) {
	dir := t.TempDir()
	path := tinyBudget(t, dir, twoPhases, "[checkpoint]\nevery = 2\n")
	b, _ := LoadBudget(path)
	if _, err := Run(b, Options{Log: io.Discard, StopAt: 3}); !errors.Is(err, ErrStopped) {
		t.Fatal(err)
	}
	ckdir := filepath.Join(dir, "out", "checkpoints")
	leftover := filepath.Join(ckdir, ".tmp-step-0000004-123456")
	if err := os.MkdirAll(filepath.Join(leftover, "model"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(leftover, "model", "model.safetensors"), make([]byte, 1<<16), 0o644); err != nil {
		t.Fatal(err)
	}
	b, _ = LoadBudget(path)
	if _, err := Run(b, Options{Log: io.Discard, Resume: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Fatalf("leftover temporary checkpoint still there (%v)", err)
	}
}

// Two processes never share a checkpoint directory: the second is refused while the first
// runs (so cleaning up temporary directories never removes a live write).
func TestCheckpointDirIsLocked(t *testing.T) {
	dir := t.TempDir()
	path := tinyBudget(t, dir, twoPhases, "[checkpoint]\nevery = 2\n")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GROWTHTRAIN_TRAINER_CHILD="+path, "GROWTHTRAIN_TRAINER_PAUSE=checkpoint-done:4")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	ckdir := filepath.Join(dir, "out", "checkpoints")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(ckdir, "step-0000004")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the child never wrote step 4")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // it is now paused, holding its checkpoint directory
	b, _ := LoadBudget(path)
	_, err := Run(b, Options{Log: io.Discard, Resume: true})
	if err == nil || !strings.Contains(err.Error(), "in use by another") {
		t.Fatalf("a second run on a live run's checkpoints: %v", err)
	}
}

// What a killed process leaves in a checkpoint directory is resolved by the next run: temporary
// and half-pruned directories go, and a checkpoint moved aside for a replacement that never
// arrived comes back (or goes, when the replacement is in place).
func TestRecoverCheckpointDir(t *testing.T) {
	cases := []struct {
		name  string
		make  []string // complete checkpoints to create
		after []string // the directory's entries afterwards (sorted, .lock excluded)
	}{
		{"temporary write", []string{"step-0000002", ".tmp-step-0000004-99"}, []string{"step-0000002"}},
		{"interrupted pruning", []string{".del-step-0000002", "step-0000004"}, []string{"step-0000004"}},
		{"replacement never arrived", []string{".old-step-0000004", "step-0000002"}, []string{"step-0000002", "step-0000004"}},
		{"replacement in place", []string{".old-step-0000004", "step-0000004"}, []string{"step-0000004"}},
		{"not ours", []string{".old-notes", "step-0000004"}, []string{".old-notes", "step-0000004"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, n := range tc.make {
				fakeCheckpoint(t, dir, n)
			}
			if err := recoverCheckpointDir(dir, io.Discard); err != nil {
				t.Fatal(err)
			}
			ents, _ := os.ReadDir(dir)
			var got []string
			for _, e := range ents {
				got = append(got, e.Name())
			}
			if strings.Join(got, " ") != strings.Join(tc.after, " ") {
				t.Fatalf("after recovery: %v, want %v", got, tc.after)
			}
		})
	}
}

// Phases whose start changes weights: a stop exactly at the boundary must checkpoint the state
// before the next phase's init, so that resuming applies it exactly once.
const initPhases = `
[[phase]]
name = "core"
layers = "1"
steps = 4
[[phase]]
name = "grow"
layers = "0-2"
steps = 4
init = "neighbour-average,scale:0.5"
train_embeddings = true
train_head = true
train_final_norm = true
`

// modelHash is a hash of a checkpoint's model.safetensors.
func modelHash(t *testing.T, ckpt string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(ckpt, "model", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// A stop (--stop-at, Ctrl-C) exactly at a phase boundary, resumed, gives the uninterrupted
// run's losses and final weights bit for bit.
func TestStopAtPhaseBoundary(t *testing.T) {
	ref := t.TempDir()
	b, _ := LoadBudget(tinyBudget(t, ref, initPhases, ""))
	if _, err := Run(b, Options{Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	want, _ := ReadMetrics(filepath.Join(ref, "out", "metrics.jsonl"))
	wantHash := modelHash(t, filepath.Join(ref, "out", "checkpoints", "step-0000008"))
	cases := []struct {
		name string
		opts func() (Options, func(string, int))
	}{
		{"stop-at", func() (Options, func(string, int)) { return Options{StopAt: 4}, nil }},
		{"interrupt", func() (Options, func(string, int)) {
			ctx, cancel := context.WithCancel(context.Background())
			return Options{Context: ctx}, func(point string, n int) {
				if point == "step-done" && n == 4 {
					cancel()
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tinyBudget(t, dir, initPhases, "")
			opts, hook := tc.opts()
			opts.Log = io.Discard
			if hook != nil {
				withHook(t, hook)
			}
			b, _ := LoadBudget(path)
			if _, err := Run(b, opts); !errors.Is(err, ErrStopped) && !errors.Is(err, ErrInterrupted) {
				t.Fatalf("first part: %v", err)
			}
			testHook = func(string, int) {}
			b, _ = LoadBudget(path)
			if _, err := Run(b, Options{Log: io.Discard, Resume: true}); err != nil {
				t.Fatal(err)
			}
			got, _ := ReadMetrics(filepath.Join(dir, "out", "metrics.jsonl"))
			if !slices.Equal(got, want) {
				t.Fatalf("losses after resume differ:\n got %v\nwant %v", got, want)
			}
			if h := modelHash(t, filepath.Join(dir, "out", "checkpoints", "step-0000008")); h != wantHash {
				t.Fatal("final weights differ from the uninterrupted run's")
			}
		})
	}
}
