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
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/internal/testref"
	"github.com/growthtrain/growthtrain/model"
	"github.com/growthtrain/growthtrain/model/safetensors"
)

// The crash tests re-run this test binary as a trainer process. GROWTHTRAIN_TRAINER_PAUSE=point:n
// makes that process stop for a minute where testHook is called with that point and number
// (for the checkpoint points, the step being checkpointed), so the test can act meanwhile;
// GROWTHTRAIN_TRAINER_KILL=point:n makes it kill itself there with SIGKILL.
func TestMain(m *testing.M) {
	testref.InitCommandRuntime() // the trainer runs as the CLI runs it
	if path := os.Getenv("GROWTHTRAIN_TRAINER_CHILD"); path != "" {
		pause, kill := os.Getenv("GROWTHTRAIN_TRAINER_PAUSE"), os.Getenv("GROWTHTRAIN_TRAINER_KILL")
		testHook = func(point string, n int) {
			at := fmt.Sprintf("%s:%d", point, n)
			if at == kill {
				syscall.Kill(os.Getpid(), syscall.SIGKILL) // kill -9, exactly here
			}
			if at == pause {
				time.Sleep(60 * time.Second)
			}
		}
		b, err := LoadBudget(path)
		if err == nil {
			resume := os.Getenv("GROWTHTRAIN_TRAINER_RESUME")
			_, err = Run(b, Options{Log: io.Discard, Resume: resume == "1" || resume == "auto" && HasCheckpoint(b, "")})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// tinyBudget writes a small corpus and a budget for a 3-layer model into dir.
func tinyBudget(t *testing.T, dir string, phases string, extra string) string {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(testref.RepoRoot(t), "model", "testdata", "moby_dick_ch1-3.txt"))
	if err != nil {
		t.Fatal(err)
	}
	paras := strings.Split(string(text), "\n\n")
	corpus := filepath.Join(dir, "corpus")
	if err := os.MkdirAll(corpus, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 8; i++ {
		var part []string
		for j := i; j < len(paras); j += 8 {
			part = append(part, paras[j])
		}
		if err := os.WriteFile(filepath.Join(corpus, fmt.Sprintf("doc%d.txt", i)), []byte(strings.Join(part, "\n\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src := fmt.Sprintf(`
[run]
name = "tiny"
seed = 7
output = %q
[model]
num_hidden_layers = 3
hidden_size = 32
intermediate_size = 64
num_attention_heads = 2
num_key_value_heads = 1
max_position_embeddings = 64
[data]
corpus = [%q]
tokenizer = "train:300"
seq_len = 16
batch_size = 4
val_fraction = 0.2
cache_dir = %q
[optim]
lr = 1e-2
min_lr = 1e-3
warmup = 2
[eval]
every = 3
tokens = 512
%s
%s`, filepath.Join(dir, "out"), corpus, filepath.Join(dir, "cache"), extra, phases)
	path := filepath.Join(dir, "budget.toml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// editFile replaces the first old in the file at path with new, failing t when old is not there.
func editFile(t *testing.T, path, old, new string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), old) {
		t.Fatalf("%s has no %q to replace", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(raw), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

const twoPhases = `
[[phase]]
name = "core"
layers = "1"
steps = 4
[[phase]]
name = "all"
layers = "all"
steps = 4
train_embeddings = true
train_head = true
train_final_norm = true
`

func TestBudgetErrors(t *testing.T) {
	base := `
[run]
output = "x"
[model]
num_hidden_layers = 4
hidden_size = 8
`
	cases := []struct {
		name, src, want string
	}{
		{"unknown key with line", base + "[[phase]]\nlayers = \"all\"\nsteps = 3\nstepz = 4\n", `budget.toml:10: unknown key "phase.stepz"`},
		{"unknown table key", base + "[optim]\nlearning_rate = 1\n[[phase]]\nlayers = \"all\"\nsteps = 1\n", `budget.toml:8: unknown key "optim.learning_rate"`},
		{"no phases", base, "no [[phase]] tables"},
		{"layer out of range", base + "[[phase]]\nname = \"core\"\nlayers = \"2-7\"\nsteps = 3\n", `phase 1 ("core"): layer range "2-7" is outside 0-3`},
		{"single layer out of range", base + "[[phase]]\nlayers = [1, 9]\nsteps = 3\n", "phase 1: layer 9 is outside 0-3"},
		{"bad layer spec", base + "[[phase]]\nlayers = \"top\"\nsteps = 3\n", `phase 1: layer "top": want a number`},
		{"steps zero", base + "[[phase]]\nname = \"a\"\nlayers = \"all\"\nsteps = 0\n", `phase 1 ("a"): steps = 0, want a positive number`},
		{"empty phase", base + "[[phase]]\nname = \"e\"\nlayers = []\nsteps = 2\n", `phase 1 ("e"): trains nothing`},
		{"missing layers", base + "[[phase]]\nsteps = 2\n", "phase 1: layers: missing"},
		{"duplicate names", base + "[[phase]]\nname = \"a\"\nlayers = \"all\"\nsteps = 1\n[[phase]]\nname = \"a\"\nlayers = \"all\"\nsteps = 1\n", `phase 2 ("a"): the name is used by an earlier phase`},
		{"bad init", base + "[[phase]]\nlayers = \"all\"\nsteps = 1\ninit = \"zero\"\n", `phase 1: init: "zero": want keep, random`},
		{"copy out of range", base + "[[phase]]\nlayers = \"1\"\nsteps = 1\ninit = \"copy:4\"\n", "phase 1: init: copy:4: layer outside 0-3"},
		{"bad device", "[run]\ndevice = \"tpu\"\n" + base[strings.Index(base, "[model]"):] + "[[phase]]\nlayers = \"all\"\nsteps = 1\n", `[run] device: unknown device "tpu"`},
		{"bad val fraction", base + "[data]\nval_fraction = 1.5\n[[phase]]\nlayers = \"all\"\nsteps = 1\n", "[data] val_fraction 1.5"},
		{"bad tokenizer spec", base + "[data]\ntokenizer = \"train:10\"\n[[phase]]\nlayers = \"all\"\nsteps = 1\n", `"train:10": want train:<vocab size>`},
		{"syntax error", base + "[[phase]\n", "budget.toml:8:"},
		{"key in another case", base + "[[phase]]\nLayers = \"all\"\nsteps = 3\n", `budget.toml:8: key "phase.Layers": budget keys are lowercase`},
		{"table in another case", base + "[[phase]]\nlayers = \"all\"\nsteps = 3\n[[Phase]]\nlayers = \"0\"\nsteps = 0\n", `key "Phase": budget keys are lowercase`},
		{"recomputed layer out of range", "[run]\noutput = \"x\"\nactivation_checkpointing = \"2-5\"\n" + base[strings.Index(base, "[model]"):] + "[[phase]]\nlayers = \"all\"\nsteps = 1\n", `[run] activation_checkpointing: layer range "2-5" is outside 0-3`},
		{"recompute spec of the wrong type", "[run]\noutput = \"x\"\nactivation_checkpointing = 1.5\n" + base[strings.Index(base, "[model]"):] + "[[phase]]\nlayers = \"all\"\nsteps = 1\n", `[run] activation_checkpointing: 1.5: want "all", a range string, or a list (or true, false)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseBudget([]byte(tc.src), "budget.toml")
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q lacks %q", err, tc.want)
			}
		})
	}
}

func TestBudgetParsesLayersAndInits(t *testing.T) {
	src := `
[model]
num_hidden_layers = 12
[[phase]]
name = "mixed"
layers = [0, "3-5", 11, "4"]
steps = 2
init = "neighbour-average, scale:0.9"
[[phase]]
layers = "all"
steps = 3
`
	b, err := ParseBudget([]byte(src), "b.toml")
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Phases[0].TrainedLayers(); !slices.Equal(got, []int{0, 3, 4, 5, 11}) {
		t.Fatalf("layers %v", got)
	}
	seq, _ := ParseInits(b.Phases[0].Init)
	if len(seq) != 2 || seq[0].Kind != "neighbour-average" || seq[1].Alpha != 0.9 {
		t.Fatalf("inits %+v", seq)
	}
	if b.TotalSteps() != 5 || b.Phases[1].Name != "phase2" || len(b.Phases[1].TrainedLayers()) != 12 {
		t.Fatalf("total %d, phase 2 %+v", b.TotalSteps(), b.Phases[1])
	}
	u := b.Uniform()
	if len(u.Phases) != 1 || u.Phases[0].Steps != 5 || len(u.Phases[0].TrainedLayers()) != 12 || !u.Phases[0].TrainEmbeddings {
		t.Fatalf("uniform %+v", u.Phases)
	}
	if b.Fingerprint() == u.Fingerprint() {
		t.Fatal("uniform baseline has the budget's fingerprint")
	}
}

// activation_checkpointing takes true/false or layers as a phase does, and leaves the
// fingerprint alone (it changes no number: TestActivationCheckpointingChangesNoNumber).
func TestBudgetParsesActivationCheckpointing(t *testing.T) {
	const rest = "[model]\nnum_hidden_layers = 6\n[[phase]]\nlayers = \"all\"\nsteps = 2\n"
	var plain string
	for _, tc := range []struct {
		value string // "" leaves the key out
		want  []int
	}{
		{"", nil}, {"false", nil}, {`"none"`, nil}, {"true", []int{0, 1, 2, 3, 4, 5}}, {`"all"`, []int{0, 1, 2, 3, 4, 5}},
		{`"2-4"`, []int{2, 3, 4}}, {`[0, "4-5"]`, []int{0, 4, 5}}, {"3", []int{3}},
	} {
		src := "[run]\n"
		if tc.value != "" {
			src += "activation_checkpointing = " + tc.value + "\n"
		}
		b, err := ParseBudget([]byte(src+rest), "b.toml")
		if err != nil {
			t.Fatalf("%s: %v", tc.value, err)
		}
		if got := b.Run.RecomputedLayers(); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("activation_checkpointing = %s: layers %v, want %v", tc.value, got, tc.want)
		}
		if plain == "" {
			plain = b.Fingerprint()
		} else if fp := b.Fingerprint(); fp != plain {
			t.Errorf("activation_checkpointing = %s: fingerprint %s, want the plain budget's %s", tc.value, fp, plain)
		}
	}
}

// A run trains only what its phases list: frozen parameters end bitwise equal to their initial
// values, hold no optimizer state, and the accounting counts exactly the phases' layer-steps.
func TestFrozenParametersAndAccounting(t *testing.T) {
	dir := t.TempDir()
	path := tinyBudget(t, dir, `
[[phase]]
name = "middle"
layers = "1"
steps = 5
`, "")
	b, err := LoadBudget(path)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(b, Options{Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sum.LayerSteps, []int{0, 5, 0}) || sum.TotalLayerSt != 5 || sum.UniformLaySt != 15 || math.Abs(sum.CostRatio-1.0/3) > 1e-12 {
		t.Fatalf("accounting %+v", sum)
	}
	ckpt := filepath.Join(dir, "out", "checkpoints", "step-0000005")
	trained, err := model.LoadHF(filepath.Join(ckpt, "model"), model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer trained.Close()
	gen := torch.NewGenerator(7, torch.CPU) // the run's seed: the same initial weights
	defer gen.Close()
	initial, err := model.New(trained.Config, gen)
	if err != nil {
		t.Fatal(err)
	}
	defer initial.Close()
	for _, n := range trained.Names() {
		same := slices.Equal(trained.Param(n).Bytes(), initial.Param(n).Bytes())
		wantTrained := strings.HasPrefix(n, "model.layers.1.")
		if same == wantTrained {
			t.Errorf("%s: unchanged=%v, but trained=%v", n, same, wantTrained)
		}
	}
	opt, err := safetensors.Open(filepath.Join(ckpt, "optimizer.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Close()
	for _, n := range opt.Names() {
		if !strings.Contains(n, "model.layers.1.") {
			t.Errorf("optimizer state for frozen parameter: %s", n)
		}
	}
	if len(opt.Names()) != 3*len(trained.LayerParamNames(1)) {
		t.Errorf("optimizer holds %d tensors, want 3 per parameter of layer 1", len(opt.Names()))
	}
}

// Freezing the bottom layers cuts the autograd graph there: with only the top layers
// trainable, the hidden state entering them records no graph, so backward never visits the
// layers below. The FLOP model counts the same saving.
func TestTopLayersCutTheGraph(t *testing.T) {
	cfg := model.Config{VocabSize: 50, HiddenSize: 16, IntermediateSize: 32, NumHiddenLayers: 6, NumAttentionHeads: 2,
		NumKeyValueHeads: 2, HeadDim: 8, MaxPositionEmbeddings: 16, RMSNormEps: 1e-5, RopeTheta: 1e4, TieWordEmbeddings: true, HiddenAct: "silu"}
	gen := torch.NewGenerator(1, torch.CPU)
	defer gen.Close()
	m, err := model.New(cfg, gen)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.SetTrainable(false, m.Names()...); err != nil {
		t.Fatal(err)
	}
	if err := m.SetTrainable(true, append(m.LayerParamNames(4), m.LayerParamNames(5)...)...); err != nil {
		t.Fatal(err)
	}
	torch.WithScope(func(s *torch.Scope) {
		out, err := m.Forward(torch.FromSlice([]int64{1, 2, 3, 4, 5, 6}, 1, 6), model.ForwardOptions{CaptureHidden: true})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i <= 4; i++ {
			if out.Hidden[i].RequiresGrad() {
				t.Errorf("hidden state %d (input of layer %d) records a graph", i, i)
			}
		}
		if !out.Hidden[5].RequiresGrad() || !out.Logits.RequiresGrad() {
			t.Fatal("the top layers record no graph")
		}
		out.Logits.Sum(false).Backward()
		for _, n := range m.LayerParamNames(3) {
			if m.Param(n).Grad() != nil {
				t.Errorf("frozen %s got a gradient", n)
			}
		}
	})
	fl := newFlopModel(cfg, 16)
	top2 := fl.step(Phase{layers: []int{4, 5}})
	all := fl.step(Phase{layers: []int{0, 1, 2, 3, 4, 5}, TrainEmbeddings: true, TrainHead: true})
	if !(top2 < 0.7*all) {
		t.Fatalf("estimated FLOPs: top-2 %g vs all %g", top2, all)
	}
}

// Stopping at a checkpoint and resuming reproduces the uninterrupted run bit for bit: losses,
// gradient norms, learning rates and validation losses.
func TestResumeReproducesUninterruptedRun(t *testing.T) {
	straight := t.TempDir()
	b, err := LoadBudget(tinyBudget(t, straight, twoPhases, ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(b, Options{Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	want := trajectory(t, filepath.Join(straight, "out"))
	for _, stop := range []int{3, 6} { // inside the first phase, and inside the second
		t.Run(fmt.Sprintf("stop at %d", stop), func(t *testing.T) {
			dir := t.TempDir()
			path := tinyBudget(t, dir, twoPhases, "")
			b, _ := LoadBudget(path)
			if _, err := Run(b, Options{Log: io.Discard, StopAt: stop}); !errors.Is(err, ErrStopped) {
				t.Fatalf("first part: %v", err)
			}
			b, _ = LoadBudget(path)
			if _, err := Run(b, Options{Log: io.Discard}); err == nil || !strings.Contains(err.Error(), "--resume") {
				t.Fatalf("restarting over checkpoints without --resume: %v", err)
			}
			b, _ = LoadBudget(path)
			if _, err := Run(b, Options{Log: io.Discard, Resume: true}); err != nil {
				t.Fatal(err)
			}
			if got := trajectory(t, filepath.Join(dir, "out")); !slices.Equal(got, want) {
				t.Fatalf("losses, gradient norms, learning rates or validation losses after resume differ:\n got %v\nwant %v", got, want)
			}
		})
	}
}

func TestResumeRefusesAnotherBudget(t *testing.T) {
	dir := t.TempDir()
	path := tinyBudget(t, dir, twoPhases, "")
	b, _ := LoadBudget(path)
	if _, err := Run(b, Options{Log: io.Discard, StopAt: 2}); !errors.Is(err, ErrStopped) {
		t.Fatal(err)
	}
	src, _ := os.ReadFile(path)
	if err := os.WriteFile(path, []byte(strings.Replace(string(src), "lr = 1e-2", "lr = 2e-2", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := LoadBudget(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(b, Options{Log: io.Discard, Resume: true})
	if err == nil || !strings.Contains(err.Error(), "was made by a different budget") {
		t.Fatalf("resume under a changed budget: %v", err)
	}
}

// The final checkpoint is an HF directory that transformers loads, with the same loss and the
// tokenizer's end-of-text token in the tokenizer, config.json and generation_config.json.
func TestCheckpointLoadsInTransformers(t *testing.T) {
	dir := t.TempDir()
	b, _ := LoadBudget(tinyBudget(t, dir, twoPhases, ""))
	if _, err := Run(b, Options{Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(dir, "out", "checkpoints", "step-0000008", "model")
	m, err := model.LoadHF(ckpt, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ids := []int64{5, 9, 100, 42, 7, 250, 3, 3, 17, 80}
	var ours float64
	torch.WithScope(func(s *torch.Scope) {
		b, err := model.Pack([][]int64{ids}, model.Whole, torch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		l, err := m.Loss(b, model.LossOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ours = l.Item()
	})
	idsJSON, _ := json.Marshal(ids)
	out := testref.RunPython(t, `
import json, sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
m = AutoModelForCausalLM.from_pretrained(sys.argv[1]).eval()
tok = AutoTokenizer.from_pretrained(sys.argv[1])
ids = torch.tensor([json.loads(sys.argv[2])])
with torch.no_grad():
    print(m(ids, labels=ids).loss.item(), len(tok), tok.eos_token, m.config.eos_token_id, m.generation_config.eos_token_id)
`, ckpt, string(idsJSON))
	var theirs float64
	var vocab, cfgEOS, genEOS int
	var eos string
	if _, err := fmt.Sscan(string(out), &theirs, &vocab, &eos, &cfgEOS, &genEOS); err != nil {
		t.Fatalf("reference output %q: %v", out, err)
	}
	if math.Abs(theirs-ours) > 1e-5 || vocab != 300 {
		t.Fatalf("transformers: loss %v (ours %v), tokenizer of %d tokens", theirs, ours, vocab)
	}
	if eos != "<|endoftext|>" || cfgEOS != 0 || genEOS != 0 {
		t.Fatalf("transformers: eos token %q, config eos_token_id %d, generation eos_token_id %d", eos, cfgEOS, genEOS)
	}
}

func TestInterruptSavesCheckpoint(t *testing.T) {
	dir := t.TempDir()
	b, _ := LoadBudget(tinyBudget(t, dir, twoPhases, ""))
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as if Ctrl-C arrived before the first step
	if _, err := Run(b, Options{Log: io.Discard, Context: ctx}); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted run: %v", err)
	}
	if _, err := latestCheckpoint(filepath.Join(dir, "out", "checkpoints")); err != nil {
		t.Fatal(err)
	}
}

// Every float option of a budget must be a finite number in its range, and the error names the
// key; sizes that would make the trainer allocate without bound are refused before anything is
// allocated; a dtype that is not a float type is refused.
func TestBudgetRefusesBadNumbers(t *testing.T) {
	base := "[run]\noutput = \"x\"\n%s\n[model]\nnum_hidden_layers = 4\nhidden_size = 8\n%s\n[[phase]]\nlayers = \"all\"\nsteps = 3\n%s\n"
	cases := []struct {
		name, run, tables, phase, want string
	}{
		{"seed -1", "seed = -1", "", "", "[run] seed"},
		{"int dtype", `dtype = "int64"`, "", "", `[run] dtype "int64"`},
		{"loss scale without float16", "", "[optim]\nloss_scale = 1024.0", "", `[optim] loss_scale and loss_scale_growth_interval apply to dtype "float16" only`},
		{"loss scale not a power of two", `dtype = "float16"`, "[optim]\nloss_scale = 1000.0", "", "[optim] loss_scale 1000: want a power of two"},
		{"loss scale too large", `dtype = "float16"`, "[optim]\nloss_scale = 1e30", "", "[optim] loss_scale 1e+30: want a power of two"},
		{"loss scale nan", `dtype = "float16"`, "[optim]\nloss_scale = nan", "", "[optim] loss_scale NaN: want a power of two"},
		{"negative growth interval", `dtype = "float16"`, "[optim]\nloss_scale_growth_interval = -5", "", "[optim] loss_scale_growth_interval -5"},
		{"lr nan", "", "[optim]\nlr = nan", "", "[optim] lr"},
		{"lr inf", "", "[optim]\nlr = inf", "", "[optim] lr"},
		{"lr negative", "", "[optim]\nlr = -1e-3", "", "[optim] lr"},
		{"lr zero", "", "[optim]\nlr = 0.0", "", "[optim] lr"},
		{"min_lr nan", "", "[optim]\nmin_lr = nan", "", "[optim] min_lr"},
		{"min_lr above lr", "", "[optim]\nlr = 1e-3\nmin_lr = 1e-2", "", "[optim] min_lr"},
		{"weight_decay nan", "", "[optim]\nweight_decay = nan", "", "[optim] weight_decay"},
		{"weight_decay -inf", "", "[optim]\nweight_decay = -inf", "", "[optim] weight_decay"},
		{"grad_clip nan", "", "[optim]\ngrad_clip = nan", "", "[optim] grad_clip"},
		{"grad_clip inf", "", "[optim]\ngrad_clip = inf", "", "[optim] grad_clip"},
		{"beta1 nan", "", "[optim]\nbeta1 = nan", "", "[optim] beta1"},
		{"beta2 one", "", "[optim]\nbeta2 = 1.0", "", "[optim] beta2"},
		{"eps nan", "", "[optim]\neps = nan", "", "[optim] eps"},
		{"eps inf", "", "[optim]\neps = inf", "", "[optim] eps"},
		{"schedule", "", "[optim]\nschedule = \"exp\"", "", "[optim] schedule"},
		{"warmup beyond the run", "", "[optim]\nwarmup = 10", "", "[optim] warmup"},
		{"val_fraction nan", "", "[data]\nval_fraction = nan", "", "[data] val_fraction"},
		{"lr_scale nan", "", "", "lr_scale = nan", "phase 1: lr_scale"},
		{"lr_scale inf", "", "", "lr_scale = inf", "phase 1: lr_scale"},
		{"lr_scale negative", "", "", "lr_scale = -2.0", "phase 1: lr_scale"},
		{"init scale nan", "", "", `init = "scale:nan"`, "phase 1: init"},
		{"init scale inf", "", "", `init = "scale:inf"`, "phase 1: init"},
		{"init scale huge exponent", "", "", `init = "scale:1e400"`, "phase 1: init"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := fmt.Sprintf(base, tc.run, tc.tables, tc.phase)
			_, err := ParseBudget([]byte(src), "budget.toml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %q\n%s", err, tc.want, src)
			}
		})
	}
	model := []struct {
		name, key, want string
	}{
		{"rope_theta nan", "rope_theta = nan", "[model] rope_theta"},
		{"rope_theta negative", "rope_theta = -1.0", "[model] rope_theta"},
		{"rms_norm_eps inf", "rms_norm_eps = inf", "[model] rms_norm_eps"},
		{"rms_norm_eps nan", "rms_norm_eps = nan", "[model] rms_norm_eps"},
		{"a billion layers", "num_hidden_layers = 1000000000", "[model] num_hidden_layers"},
		{"hidden size negative", "hidden_size = -8", "[model] hidden_size"},
	}
	for _, tc := range model {
		t.Run(tc.name, func(t *testing.T) {
			src := "[run]\noutput = \"x\"\n[model]\n" + tc.key + "\n"
			if !strings.HasPrefix(tc.key, "num_hidden_layers") {
				src += "num_hidden_layers = 4\n"
			}
			src += "[[phase]]\nlayers = \"all\"\nsteps = 3\n"
			done := make(chan error, 1)
			go func() { _, err := ParseBudget([]byte(src), "budget.toml"); done <- err }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got %v, want an error naming %q", err, tc.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("validation did not return (allocating per layer?)")
			}
		})
	}
	// A huge layer range in a phase is refused without walking it.
	src := "[run]\noutput = \"x\"\n[model]\nnum_hidden_layers = 4\n[[phase]]\nlayers = \"0-999999999\"\nsteps = 3\n"
	if _, err := ParseBudget([]byte(src), "budget.toml"); err == nil || !strings.Contains(err.Error(), "outside 0-3") {
		t.Fatalf("huge range: %v", err)
	}
	// Steps that would overflow the run's total.
	src = "[run]\noutput = \"x\"\n[model]\nnum_hidden_layers = 4\n[[phase]]\nlayers = \"all\"\nsteps = 9000000000000000000\n[[phase]]\nlayers = \"all\"\nsteps = 9000000000000000000\n"
	if _, err := ParseBudget([]byte(src), "budget.toml"); err == nil || !strings.Contains(err.Error(), "steps") {
		t.Fatalf("overflowing steps: %v", err)
	}
}
