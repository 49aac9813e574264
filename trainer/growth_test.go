package trainer

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/model"
)

// stackPhases grows the 3-layer tiny model by stacking: layer 0 trains alone, then layers 1-2
// appear as copies of it (G_stack style) and everything trains.
const stackPhases = `
[growth]
ungrown = "absent"
[[phase]]
name = "shallow"
layers = "0"
steps = 4
train_embeddings = true
train_head = true
train_final_norm = true
[[phase]]
name = "stacked"
layers = "all"
steps = 4
init = "copy:0-0"
train_embeddings = true
train_head = true
train_final_norm = true
`

// FLOPs: an absent or skipped layer costs nothing, forward or backward; a present one costs its
// forward, and its activation backward when it lies at or above the lowest trained layer.
func TestFLOPsOfAbsentAndFrozenLayers(t *testing.T) {
	c := model.Config{VocabSize: 100, HiddenSize: 16, IntermediateSize: 32, NumHiddenLayers: 4, NumAttentionHeads: 2,
		NumKeyValueHeads: 1, HeadDim: 8}
	f := newFlopModel(c, 8)
	p := Phase{layers: []int{2}}
	all := f.stepOf(p, []int{2}, nil)
	absent := f.stepOf(p, []int{2}, []bool{true, false, false, true})
	// Absent layers 0 and 3: layer 0 saved its forward; layer 3 its forward and its activation
	// backward (it is above the trained layer).
	if want := all - 2*f.layerFwd - f.layerFwd; math.Abs(absent-want) > 1e-9*all {
		t.Fatalf("absent 0 and 3: %v, want %v (all present: %v)", absent, want, all)
	}
	none := f.stepOf(Phase{TrainHead: true}, nil, []bool{true, true, true, true})
	if want := 3 * f.headFwd; none != want {
		t.Fatalf("every layer absent, head trained: %v, want 3 x head forward %v", none, want)
	}
}

// Absent layers are skipped until their first phase, saved as the identity (zero output
// projections), grown by their init (here stacked copies), and resuming across the growth
// point reproduces the uninterrupted run bit for bit.
func TestAbsentLayersAndStacking(t *testing.T) {
	ref := t.TempDir()
	b, err := LoadBudget(tinyBudget(t, ref, stackPhases, "[checkpoint]\nevery = 4\nkeep = 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(b, Options{Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	// The shallow phase costs less than with its two other layers frozen in place.
	frozen, _ := LoadBudget(tinyBudget(t, t.TempDir(), strings.Replace(stackPhases, `ungrown = "absent"`, `ungrown = "frozen"`, 1), ""))
	c := modelConfigOf(t, frozen)
	frozenFLOPs := newPlanner(frozen, 3).phaseFLOPs(newFlopModel(c, frozen.Data.SeqLen), float64(frozen.TokensPerStep()))
	if sum.Phases[0].FLOPs >= frozenFLOPs[0] || sum.Phases[1].FLOPs != frozenFLOPs[1] {
		t.Fatalf("phase FLOPs absent %.4g, %.4g; frozen %.4g, %.4g", sum.Phases[0].FLOPs, sum.Phases[1].FLOPs, frozenFLOPs[0], frozenFLOPs[1])
	}
	// The checkpoint after the shallow phase: layers 1 and 2 are the identity there.
	ck := filepath.Join(ref, "out", "checkpoints", "step-0000004", "model")
	m, err := model.LoadHF(ck, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, l := range []int{1, 2} {
		for _, n := range []string{"self_attn.o_proj.weight", "mlp.down_proj.weight"} {
			v := m.Param(model.LayerPrefix(l) + n).Float32s()
			if slices.ContainsFunc(v, func(x float32) bool { return x != 0 }) {
				t.Fatalf("absent layer %d saved with a non-zero %s", l, n)
			}
		}
	}
	// The final model: layers 1 and 2 grew as copies of layer 0 and then trained, so they differ
	// from it but not absurdly.
	fin, err := model.LoadHF(filepath.Join(ref, "out", "checkpoints", "step-0000008", "model"), model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer fin.Close()
	o0 := fin.Param("model.layers.0.mlp.down_proj.weight").Float32s()
	o2 := fin.Param("model.layers.2.mlp.down_proj.weight").Float32s()
	if slices.Equal(o0, o2) || slices.ContainsFunc(o2, func(x float32) bool { return math.IsNaN(float64(x)) }) {
		t.Fatal("layer 2 did not grow and train")
	}
	// Resume across the growth point (a stop right at it, and one within the grown phase).
	want, _ := ReadMetrics(filepath.Join(ref, "out", "metrics.jsonl"))
	wantHash := modelHash(t, filepath.Join(ref, "out", "checkpoints", "step-0000008"))
	for _, stop := range []int{4, 6} {
		dir := t.TempDir()
		path := tinyBudget(t, dir, stackPhases, "[checkpoint]\nevery = 4\nkeep = 3\n")
		b, _ := LoadBudget(path)
		if _, err := Run(b, Options{Log: io.Discard, StopAt: stop}); err == nil {
			t.Fatal("no stop")
		}
		b, _ = LoadBudget(path)
		if _, err := Run(b, Options{Log: io.Discard, Resume: true}); err != nil {
			t.Fatal(err)
		}
		got, _ := ReadMetrics(filepath.Join(dir, "out", "metrics.jsonl"))
		if !slices.Equal(got, want) {
			t.Fatalf("stop at %d: losses after resume differ:\n got %v\nwant %v", stop, got, want)
		}
		if h := modelHash(t, filepath.Join(dir, "out", "checkpoints", "step-0000008")); h != wantHash {
			t.Fatalf("stop at %d: final weights differ from the uninterrupted run's", stop)
		}
	}
}

// A sampled phase trains k random layers per step (seeded, so the accounting is a function of
// the budget), skips the others for that step, and counts exactly the trained layer-steps.
func TestSampledPhase(t *testing.T) {
	phases := `
[[phase]]
name = "subnets"
layers = "all"
steps = 6
sample = 2
train_embeddings = true
train_head = true
train_final_norm = true
`
	dir := t.TempDir()
	b, err := LoadBudget(tinyBudget(t, dir, phases, ""))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(b, Options{Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if sum.TotalLayerSt != 12 {
		t.Fatalf("layer-steps %d, want 6 steps x 2 layers", sum.TotalLayerSt)
	}
	pl := newPlanner(b, 3)
	if got := pl.layerSteps(6); !slices.Equal(got, sum.LayerSteps) {
		t.Fatalf("plan %v, run %v", got, sum.LayerSteps)
	}
	seen := map[string]bool{}
	for s := 0; s < 6; s++ {
		sp := pl.at(0, s)
		if len(sp.trained) != 2 || sp.skipped == nil || slices.Index(sp.skipped, true) < 0 {
			t.Fatalf("step %d trains %v, skips %v", s, sp.trained, sp.skipped)
		}
		seen[fmt.Sprint(sp.trained)] = true
	}
	if len(seen) < 2 {
		t.Fatalf("the subsets never change: %v", seen)
	}
	// Cheaper than training all three layers each step.
	u := b.Uniform()
	if sum.FLOPs >= u.FLOPs(modelConfigOf(t, u)) {
		t.Fatalf("sampled run %.3g FLOPs, uniform %.3g", sum.FLOPs, u.FLOPs(modelConfigOf(t, u)))
	}
}

// modelConfigOf resolves the tiny budget's model config (its vocabulary is the trained
// tokenizer's: 300).
func modelConfigOf(t *testing.T, b *Budget) model.Config {
	t.Helper()
	c, err := modelConfig(b, 300)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A copy of a layer that is still absent then is refused.
func TestCopyFromAbsentLayerRefused(t *testing.T) {
	src := strings.Replace(stackPhases, `init = "copy:0-0"`, `init = "copy:1-2"`, 1)
	dir := t.TempDir()
	path := tinyBudget(t, dir, src, "")
	if _, err := LoadBudget(path); err == nil || !strings.Contains(err.Error(), "absent") {
		t.Fatalf("copy of absent layers: %v", err)
	}
}

// [data] train_tokens keeps a prefix of the training split (the small-data regime).
func TestTrainTokensCap(t *testing.T) {
	dir := t.TempDir()
	path := tinyBudget(t, dir, twoPhases, "")
	raw, _ := os.ReadFile(path)
	src := strings.Replace(string(raw), "cache_dir =", "train_tokens = 200\ncache_dir =", 1)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := LoadBudget(path)
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	if _, err := Run(b, Options{Log: &log}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), " 200 train / ") {
		t.Fatalf("the log does not show a 200-token training split:\n%s", log.String())
	}
	bad := strings.Replace(src, "train_tokens = 200", "train_tokens = 5", 1)
	if _, err := ParseBudget([]byte(bad), "b.toml"); err == nil || !strings.Contains(err.Error(), "train_tokens") {
		t.Fatalf("train_tokens below one window: %v", err)
	}
}
