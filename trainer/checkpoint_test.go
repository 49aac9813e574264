package trainer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/growthtrain/growthtrain/model"
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

// A phase whose learning rate makes the weights explode: its first step is applied (its loss
// and gradients are finite), the next one's loss is not.
const explodingPhases = `
[[phase]]
name = "core"
layers = "1"
steps = 4
[[phase]]
name = "boom"
layers = "all"
steps = 4
lr_scale = 1e30
train_embeddings = true
train_head = true
train_final_norm = true
`

// A diverging run never crashes and loses nothing: the first step with a non-finite loss or
// gradient norm is not applied, the state before it is checkpointed (even with checkpoint every
// = 0), metrics.jsonl records the step, and the run stops with an error naming the step, the
// loss and the gradient norm.
func TestDivergenceIsCheckpointedAndReported(t *testing.T) {
	dir := t.TempDir()
	b, err := LoadBudget(tinyBudget(t, dir, explodingPhases, ""))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(b, Options{Log: io.Discard})
	if !errors.Is(err, ErrDiverged) {
		t.Fatalf("diverging run: %v, want ErrDiverged", err)
	}
	for _, want := range []string{"step 6: loss ", "gradient norm ", "not applied", "step-0000005"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	ms, err := readMetrics(filepath.Join(dir, "out", "metrics.jsonl"))
	if err != nil {
		t.Fatalf("metrics.jsonl: %v", err)
	}
	finite := func(x number) bool { return !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0) }
	if len(ms) != 6 {
		t.Fatalf("metrics.jsonl has %d lines, want 5 steps and the refused sixth", len(ms))
	}
	for i, m := range ms {
		refused := i == 5
		if m.Diverged != refused || (finite(m.Loss) && finite(m.GradNorm)) == refused {
			t.Errorf("metrics line %d: %+v", i+1, m)
		}
	}
	ckpt, err := latestCheckpoint(filepath.Join(dir, "out", "checkpoints"))
	if err != nil || filepath.Base(ckpt) != "step-0000005" {
		t.Fatalf("checkpoint after divergence: %q, %v", ckpt, err)
	}
	m, err := model.LoadHF(filepath.Join(ckpt, "model"), model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, n := range m.Names() {
		for _, v := range m.Param(n).Float32s() {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("the checkpoint's %s is not finite", n)
			}
		}
	}
}

// A step whose update itself overflows the weights (finite loss and gradients, an enormous
// learning rate) shows in the validation right after it: the run stops with an error, records
// the validation loss, and writes no checkpoint of non-finite weights over the good ones.
func TestDivergenceInValidationKeepsGoodCheckpoints(t *testing.T) {
	dir := t.TempDir()
	phases := `
[[phase]]
name = "core"
layers = "1"
steps = 4
[[phase]]
name = "overflow"
layers = "all"
steps = 1
lr_scale = 1e300
train_embeddings = true
train_head = true
train_final_norm = true
`
	b, err := LoadBudget(tinyBudget(t, dir, phases, "[checkpoint]\nevery = 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(b, Options{Log: io.Discard})
	if !errors.Is(err, ErrDiverged) || !strings.Contains(err.Error(), "validation loss") || !strings.Contains(err.Error(), "no checkpoint was written") {
		t.Fatalf("overflowing run: %v", err)
	}
	ms, err := readMetrics(filepath.Join(dir, "out", "metrics.jsonl"))
	if err != nil || len(ms) != 5 || !ms[4].Diverged {
		t.Fatalf("metrics.jsonl: %d lines, %v", len(ms), err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "out", "metrics.jsonl"))
	if lines := strings.Split(strings.TrimSpace(string(raw)), "\n"); !strings.Contains(lines[4], `"val_loss":null`) {
		t.Fatalf("the diverged step's line: %s", lines[4])
	}
	if ckpt, err := latestCheckpoint(filepath.Join(dir, "out", "checkpoints")); err != nil || filepath.Base(ckpt) != "step-0000004" {
		t.Fatalf("latest checkpoint %q, %v; want step 4's, kept", ckpt, err)
	}
}

// metrics.jsonl writes finite numbers exactly as encoding/json writes a float64 (so its lines
// did not change), and NaN or infinities as null, which read back as NaN.
func TestMetricNumbers(t *testing.T) {
	for _, v := range []float64{0, 1, -2.5, 7.641542911529541, 0.00030000000000000003, 1.5e-7, 1e21, 123456789012} {
		got, err := json.Marshal(number(v))
		want, _ := json.Marshal(v)
		if err != nil || string(got) != string(want) {
			t.Errorf("%v: %s (%v), want %s", v, got, err, want)
		}
		var back number
		if err := json.Unmarshal(got, &back); err != nil || float64(back) != v {
			t.Errorf("%v read back as %v (%v)", v, back, err)
		}
	}
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		got, err := json.Marshal(metric{Loss: number(v), GradNorm: number(v)})
		if err != nil || !strings.Contains(string(got), `"loss":null`) || !strings.Contains(string(got), `"grad_norm":null`) {
			t.Errorf("%v: %s, %v", v, got, err)
		}
		var back metric
		if err := json.Unmarshal(got, &back); err != nil || !math.IsNaN(float64(back.Loss)) {
			t.Errorf("%v read back as %v (%v)", v, back.Loss, err)
		}
	}
}

// A tampered or damaged checkpoint is refused with an error naming the file and the field, never
// trusted: state.json's step, its arrays and their lengths, and the latest file (which must
// name a checkpoint directory of the checkpoint dir, not a path).
func TestTamperedCheckpointRefused(t *testing.T) {
	dir := t.TempDir()
	path := tinyBudget(t, dir, twoPhases, "")
	b, _ := LoadBudget(path)
	if _, err := Run(b, Options{Log: io.Discard, StopAt: 4}); !errors.Is(err, ErrStopped) {
		t.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(dir, "out", "checkpoints", "step-0000004", "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(good, &st); err != nil {
		t.Fatal(err)
	}
	edit := func(key string, v any) []byte {
		m := map[string]any{}
		for k, x := range st {
			m[k] = x
		}
		m[key] = v
		raw, _ := json.Marshal(m)
		return raw
	}
	cases := []struct {
		name   string
		state  []byte
		latest string
		want   string
	}{
		{"negative step", edit("step", -1), "", "state.json: step -1"},
		{"huge step", edit("step", 1e15), "", "state.json: step 1000000000000000"},
		{"step beyond the budget", edit("step", 9), "", "state.json: step 9"},
		{"step other than the directory's", edit("step", 6), "", "state.json: step 6"},
		{"short layer_steps", edit("layer_steps", []int{0, 4}), "", "state.json: layer_steps"},
		{"wrong layer_steps", edit("layer_steps", []int{4, 4, 4}), "", "state.json: layer_steps"},
		{"negative layer_steps", edit("layer_steps", []int{-1, 4, 0}), "", "state.json: layer_steps"},
		{"short phase_seconds", edit("phase_seconds", []float64{1}), "", "state.json: phase_seconds"},
		{"negative phase_seconds", edit("phase_seconds", []float64{-1, 0}), "", "state.json: phase_seconds"},
		{"long phase_train_loss", edit("phase_train_loss", []float64{1, 2, 3}), "", "state.json: phase_train_loss"},
		{"short phase_val_loss", edit("phase_val_loss", []float64{}), "", "state.json: phase_val_loss"},
		{"loss scale not a power of two", edit("loss_scale", 3), "", "state.json: loss scale 3"},
		{"negative loss scale", edit("loss_scale", -1024), "", "state.json: loss scale -1024"},
		{"skipped steps beyond the steps", edit("skipped_steps", 7), "", "state.json: loss scale 0"},
		{"no sampler", edit("sampler", nil), "", "state.json: sampler"},
		{"not JSON", []byte("{\"step\": 4,"), "", "state.json"},
		{"latest outside", nil, "../../etc", `latest: names "../../etc"`},
		{"latest absolute", nil, "/etc", `latest: names "/etc"`},
		{"latest into a subdirectory", nil, "step-0000004/model", `latest: names "step-0000004/model"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			copyDir(t, filepath.Join(dir, "out"), out)
			ck := filepath.Join(out, "checkpoints")
			if tc.state != nil {
				if err := os.WriteFile(filepath.Join(ck, "step-0000004", "state.json"), tc.state, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.latest != "" {
				if err := os.WriteFile(filepath.Join(ck, "latest"), []byte(tc.latest+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			b, _ := LoadBudget(path)
			_, err := Run(b, Options{Log: io.Discard, Resume: true, Output: out})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// The untampered checkpoint still resumes.
	b, _ = LoadBudget(path)
	if _, err := Run(b, Options{Log: io.Discard, Resume: true}); err != nil {
		t.Fatal(err)
	}
}

// copyDir copies the regular files and directories under src to dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, raw, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
