// Command bench-train times one training step of growthtrain against PyTorch (transformers'
// LlamaForCausalLM with the same configuration, the same batch, AdamW and gradient clipping;
// eager, and with --reference compile torch.compile) in one run, for every layer trainable and
// for only the top k: frozen layers below the lowest trainable one skip their backward pass on
// both sides. With --eval it also times evaluation (forward and loss, no gradients). On CUDA it
// reports peak memory and MFU. make bench-train runs the CPU setting; scripts/bench-gpu.sh the
// SmolLM2-135M shape on a GPU. It prints each figure and the ratio; nothing here is a test.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/cmd/internal/pyref"
	"github.com/growthtrain/growthtrain/cmd/internal/runtimeenv"
	"github.com/growthtrain/growthtrain/model"
	"github.com/growthtrain/growthtrain/optim"
)

// The reference: "setup K" makes the top K layers trainable (a fresh fused AdamW over them, with
// the same decay groups as optim.NewParam), "step N" runs N training steps and reports the
// seconds, "quit" ends.
const pyScript = `
import json, sys, time
import torch
import torch.nn.functional as F
from transformers import LlamaConfig, LlamaForCausalLM
cfg, threads, batch_file, dtype, device, mode = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
compiled = mode == "compile"
torch.set_num_threads(threads)
torch.manual_seed(0)
dev = torch.device(device)
m = LlamaForCausalLM(LlamaConfig(**cfg, attn_implementation="sdpa")).to(dev).train()
if mode == "checkpointing":
    m.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
fwd = torch.compile(m) if compiled else m
ids = torch.tensor(json.load(open(batch_file)), device=dev)
inp, tgt = ids[:, :-1].contiguous(), ids[:, 1:].contiguous()
L, V = cfg["num_hidden_layers"], cfg["vocab_size"]
mixed = dtype in ("bfloat16", "float16")
amp = torch.float16 if dtype == "float16" else torch.bfloat16
scaler = torch.amp.GradScaler(dev.type, enabled=dtype == "float16")
params, opt = [], None
print(json.dumps({"torch": torch.__version__}), flush=True)

def sync():
    if dev.type == "cuda":
        torch.cuda.synchronize()

def setup(top):
    global params, opt
    for p in m.parameters():
        p.requires_grad_(False)
    params = [p for l in range(L - top, L) for p in m.model.layers[l].parameters()]
    for p in params:
        p.requires_grad_(True)
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=1e-4, betas=(0.9, 0.95), eps=1e-8, fused=True)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()

def step():
    with torch.autocast(dev.type, dtype=amp, enabled=mixed):
        logits = fwd(inp).logits
        loss = F.cross_entropy(logits.float().view(-1, V), tgt.view(-1))
    scaler.scale(loss).backward()
    scaler.unscale_(opt)
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    scaler.step(opt)
    scaler.update()
    opt.zero_grad(set_to_none=True)
    return loss.item()

@torch.no_grad()
def evaluate():
    with torch.autocast(dev.type, dtype=amp, enabled=mixed):
        logits = fwd(inp).logits
        return F.cross_entropy(logits.float().view(-1, V), tgt.view(-1), reduction="sum").item()

for line in sys.stdin:
    cmd = line.split()
    if cmd[0] == "quit":
        break
    if cmd[0] == "setup":
        setup(int(cmd[1]))
        print(json.dumps({}), flush=True)
        continue
    sync()
    t = time.perf_counter()
    f = evaluate if cmd[0] == "eval" else step
    out = [f() for _ in range(int(cmd[1]))]
    sync()
    peak = torch.cuda.max_memory_allocated() if dev.type == "cuda" else 0
    print(json.dumps({"seconds": time.perf_counter() - t, "loss": out[-1], "peak": peak}), flush=True)
`

func main() {
	o := options{}
	flag.StringVar(&o.python, "python", ".venv/bin/python", "reference interpreter (make deps)")
	flag.IntVar(&o.threads, "threads", runtime.NumCPU(), "intra-op CPU threads for both sides")
	flag.IntVar(&o.layers, "layers", 12, "decoder layers (SmolLM2's layer shape: hidden 576, 9/3 heads, MLP 1536)")
	flag.IntVar(&o.vocab, "vocab", 4096, "vocabulary (SmolLM2: 49152)")
	flag.IntVar(&o.batch, "batch", 4, "sequences per step")
	flag.IntVar(&o.seqLen, "seq-len", 128, "tokens per sequence")
	tops := flag.String("top", "12,6,2", "trainable top layers to measure, comma-separated")
	flag.IntVar(&o.rounds, "rounds", 5, "alternating rounds per setting")
	flag.IntVar(&o.steps, "steps", 3, "training steps per round and side")
	device := flag.String("device", "cpu", "cpu or cuda[:N]")
	dtype := flag.String("dtype", "float32", "float32, or bfloat16 or float16 (mixed precision on both sides: float32 weights, autocast; float16 with dynamic loss scaling, GradScaler on PyTorch's side)")
	refs := flag.String("reference", "eager", "PyTorch references, comma-separated: eager, compile (torch.compile), checkpointing (eager with transformers' gradient checkpointing)")
	flag.BoolVar(&o.recompute, "recompute", false, "also time growthtrain with every layer recomputed in the backward pass (activation checkpointing), with its peak memory")
	flag.BoolVar(&o.eval, "eval", false, "also time evaluation (forward and loss without gradients)")
	flag.Float64Var(&o.peakTFLOPS, "peak-tflops", 989, "the device's peak dense bfloat16 TFLOP/s for MFU (H100/H200 SXM: 989)")
	flag.Parse()
	runtime.LockOSThread() // libtorch's OpenMP keeps one worker team per calling OS thread
	if err := runtimeenv.Init(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-train:", err)
		os.Exit(1)
	}
	usage := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "bench-train: "+format+"\n", args...)
		os.Exit(2)
	}
	for _, f := range strings.Split(*tops, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || k < 1 || k > o.layers {
			usage("--top %q: want layer counts in 1-%d", *tops, o.layers)
		}
		o.tops = append(o.tops, k)
	}
	for _, r := range strings.Split(*refs, ",") {
		if r = strings.TrimSpace(r); r != "eager" && r != "compile" && r != "checkpointing" {
			usage("--reference %q: want eager, compile and/or checkpointing", *refs)
		}
		o.refs = append(o.refs, strings.TrimSpace(r))
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"--threads", o.threads}, {"--layers", o.layers}, {"--vocab", o.vocab}, {"--batch", o.batch}, {"--seq-len", o.seqLen}, {"--rounds", o.rounds}, {"--steps", o.steps}} {
		if v.n < 1 {
			usage("%s must be at least 1", v.name)
		}
	}
	var err error
	if o.dev, err = torch.ParseDevice(*device); err != nil {
		usage("--device: %v", err)
	}
	switch *dtype {
	case "float32":
		o.compute = torch.Float32
	case "bfloat16":
		o.compute = torch.BFloat16
	case "float16":
		o.compute = torch.Float16
	default:
		usage("--dtype %q: want float32, bfloat16 or float16", *dtype)
	}
	o.cfg = model.Config{VocabSize: o.vocab, HiddenSize: 576, IntermediateSize: 1536, NumHiddenLayers: o.layers,
		NumAttentionHeads: 9, NumKeyValueHeads: 3, HeadDim: 64, MaxPositionEmbeddings: max(2048, o.seqLen), RMSNormEps: 1e-5,
		RopeTheta: 1e5, TieWordEmbeddings: true, HiddenAct: "silu"}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench-train:", err)
		os.Exit(1)
	}
}

type options struct {
	python                                               string
	threads, layers, vocab, batch, seqLen, rounds, steps int
	tops                                                 []int
	refs                                                 []string
	eval, recompute                                      bool
	peakTFLOPS                                           float64
	dev                                                  torch.Device
	compute                                              torch.DType
	cfg                                                  model.Config
}

// side is one implementation at one setting: steps(n) trains n steps, evals(n) evaluates n times;
// both return seconds and the peak device memory (0 on the CPU).
type side interface {
	setup(top int) error
	steps(n int) (seconds float64, peak int64, err error)
	evals(n int) (seconds float64, peak int64, err error)
}

// ours is growthtrain's step: optim.Step over the top layers, the batch packed each step as the
// trainer does.
type ours struct {
	m         *model.Model
	recompute []bool // layers recomputed in the backward pass; nil: none
	// shared, when set, is the side whose optimizer this one uses (set up before it), so
	// that the peak memory of each counts one optimizer state, not two.
	shared  *ours
	windows [][]int64
	opt     *optim.AdamW
	step    optim.Step
	params  []optim.Param
}

func (o *ours) setup(top int) error {
	if o.shared != nil {
		o.params, o.step = o.shared.params, o.shared.step
		o.resetPeak()
		return nil
	}
	if o.opt != nil {
		o.opt.Close()
	}
	L := o.m.Config.NumHiddenLayers
	if err := o.m.SetTrainable(false, o.m.Names()...); err != nil {
		return err
	}
	var names []string
	for l := L - top; l < L; l++ {
		names = append(names, o.m.LayerParamNames(l)...)
	}
	if err := o.m.SetTrainable(true, names...); err != nil {
		return err
	}
	o.params = optim.Params(names, o.m.Param)
	o.opt = optim.NewAdamW(torch.AdamWConfig{LR: 1e-4, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1})
	o.step = optim.Step{Optimizer: o.opt, GradClip: 1}
	if o.m.Compute == torch.Float16 {
		o.step.Scaler = optim.NewLossScaler() // as the trainer trains float16
	}
	o.resetPeak()
	return nil
}

func (o *ours) resetPeak() {
	if o.m.Device.IsCUDA() {
		torch.ResetPeakMemory(o.m.Device)
	} else {
		torch.ResetCPUCachePeak()
	}
}

// peak is the device's peak memory since the last reset: on the CPU, that of the tensors the
// caching allocator serves (64 KiB and more).
func (o *ours) peak() int64 {
	if !o.m.Device.IsCUDA() {
		return torch.CPUCachePeak()
	}
	return torch.CUDAMemory(o.m.Device).PeakAllocated
}

func (o *ours) steps(n int) (float64, int64, error) {
	torch.Synchronize(o.m.Device)
	o.resetPeak() // the other growthtrain side shares the allocator
	start := time.Now()
	for i := 0; i < n; i++ {
		res, err := o.step.RunLosses(o.params, 1e-4, 1, func(int) (optim.Loss, error) {
			b, err := model.Pack(o.windows, model.Shifted, o.m.Device)
			if err != nil {
				return optim.Loss{}, err
			}
			r, err := o.m.LossRecomputing(b, model.LossOptions{}, o.recompute) // nil: the plain pass
			if err != nil {
				return optim.Loss{}, err
			}
			return optim.Loss{Value: r.Loss, Finish: r.Backward}, nil
		})
		if err != nil {
			return 0, 0, err
		}
		if _, _, err := res.Read(); err != nil { // as the trainer does: it logs every step
			return 0, 0, err
		}
		res.Close()
	}
	torch.Synchronize(o.m.Device)
	return time.Since(start).Seconds(), o.peak(), nil
}

func (o *ours) evals(n int) (sec float64, peak int64, err error) {
	defer torch.Recover(&err)
	torch.Synchronize(o.m.Device)
	o.resetPeak()
	start := time.Now()
	for i := 0; i < n; i++ {
		var lerr error
		torch.WithScope(func(s *torch.Scope) {
			torch.NoGrad(func() {
				b, err := model.Pack(o.windows, model.Shifted, o.m.Device)
				if err != nil {
					lerr = err
					return
				}
				l, err := o.m.Loss(b, model.LossOptions{Reduction: model.LossSum})
				if err != nil {
					lerr = err
					return
				}
				l.Item()
			})
		})
		if lerr != nil {
			return 0, 0, lerr
		}
	}
	torch.Synchronize(o.m.Device)
	return time.Since(start).Seconds(), o.peak(), nil
}

// theirs is a Python reference.
type theirs struct{ s *pyref.Server }

func (t theirs) setup(top int) error {
	var v struct{}
	return t.s.Call(fmt.Sprintf("setup %d", top), &v)
}

func (t theirs) run(what string, n int) (float64, int64, error) {
	var v struct {
		Seconds float64 `json:"seconds"`
		Peak    int64   `json:"peak"`
	}
	err := t.s.Call(fmt.Sprintf("%s %d", what, n), &v)
	return v.Seconds, v.Peak, err
}

func (t theirs) steps(n int) (float64, int64, error) { return t.run("step", n) }
func (t theirs) evals(n int) (float64, int64, error) { return t.run("eval", n) }

// measure is one side's figures at one setting.
type measure struct {
	best   float64 // seconds per step (or evaluation), fastest round
	peak   int64
	rounds []float64
}

func run(o options) (err error) {
	defer torch.Recover(&err)
	torch.SetNumThreads(o.threads)
	if o.dev.IsCUDA() && !torch.CUDAAvailable() {
		return fmt.Errorf("--device %v: CUDA is not available here", o.dev)
	}
	gen := torch.NewGenerator(1, torch.CPU)
	defer gen.Close()
	m, err := model.New(o.cfg, gen)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.To(o.dev, torch.Float32); err != nil {
		return err
	}
	m.Compute = o.compute
	rng := rand.New(rand.NewPCG(1, 2))
	windows := make([][]int64, o.batch)
	for i := range windows {
		windows[i] = make([]int64, o.seqLen+1)
		for j := range windows[i] {
			windows[i][j] = int64(rng.IntN(o.cfg.VocabSize))
		}
	}
	dir, err := os.MkdirTemp("", "bench-train")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	batchFile := dir + "/batch.json"
	raw, _ := json.Marshal(windows)
	if err := os.WriteFile(batchFile, raw, 0o644); err != nil {
		return err
	}
	c := o.cfg
	hf, _ := json.Marshal(map[string]any{"vocab_size": c.VocabSize, "hidden_size": c.HiddenSize,
		"intermediate_size": c.IntermediateSize, "num_hidden_layers": c.NumHiddenLayers,
		"num_attention_heads": c.NumAttentionHeads, "num_key_value_heads": c.NumKeyValueHeads,
		"max_position_embeddings": c.MaxPositionEmbeddings, "rms_norm_eps": c.RMSNormEps,
		"rope_theta": c.RopeTheta, "tie_word_embeddings": true, "hidden_act": "silu"})
	g := &ours{m: m, windows: windows}
	defer func() {
		if g.opt != nil {
			g.opt.Close()
		}
	}()
	names := []string{"growthtrain"}
	sides := []side{g}
	if o.recompute {
		rc := &ours{m: m, windows: windows, recompute: make([]bool, c.NumHiddenLayers), shared: g}
		for i := range rc.recompute {
			rc.recompute[i] = true
		}
		names, sides = append(names, "growthtrain recompute"), append(sides, rc)
	}
	version := ""
	for _, r := range o.refs {
		srv, err := pyref.Start(o.python, pyScript, string(hf), strconv.Itoa(o.threads), batchFile, o.compute.String(), o.dev.String(), r)
		if err != nil {
			return err
		}
		defer srv.Close()
		var hello struct {
			Torch string `json:"torch"`
		}
		if err := srv.Read(&hello); err != nil {
			return err
		}
		version = hello.Torch
		names, sides = append(names, "PyTorch "+r), append(sides, theirs{srv})
	}
	fmt.Printf("bench-train  %s  libtorch %s (references: PyTorch %s %s; transformers LlamaForCausalLM, sdpa, fused AdamW), %v, %d CPU threads, %s/%s\n",
		time.Now().Format("2006-01-02"), torch.TorchVersion(), version, strings.Join(o.refs, ", "), o.dev, o.threads, runtime.GOOS, runtime.GOARCH)
	precision := "float32"
	if m.Mixed() {
		precision = fmt.Sprintf("float32 weights, %v compute (autocast on both sides)", o.compute)
		if o.compute == torch.Float16 {
			precision += ", dynamic loss scaling"
		}
	}
	fmt.Printf("model: %d layers, hidden %d, heads %d/%d, MLP %d, vocab %d (%.1fM parameters); batch %d x %d tokens; %s; AdamW + clipping at 1.0\n",
		c.NumHiddenLayers, c.HiddenSize, c.NumAttentionHeads, c.NumKeyValueHeads, c.IntermediateSize, c.VocabSize,
		float64(m.NumParams())/1e6, o.batch, o.seqLen, precision)
	tokens := float64(o.batch * o.seqLen)
	// FLOPs per token of a step with every layer trained: 6 x (non-embedding parameters + the
	// head's vocab x hidden) + 6 x layers x T x hidden for attention (DESIGN.md's anchor formula).
	nonEmb := float64(m.NumParams() - int64(c.VocabSize*c.HiddenSize))
	flopsPerToken := 6*nonEmb + 6*float64(c.VocabSize*c.HiddenSize) + 6*float64(c.NumHiddenLayers*o.seqLen*c.HiddenSize)
	type row struct {
		what string
		m    []measure
	}
	var rows []row
	time1 := func(what string, f func(s side) (float64, int64, error)) error {
		ms := make([]measure, len(sides))
		for i := range ms {
			ms[i].best = math.Inf(1)
		}
		for r := 0; r < o.rounds; r++ {
			var line []string
			for i, s := range sides {
				sec, peak, err := f(s)
				if err != nil {
					return fmt.Errorf("%s, %s: %w", what, names[i], err)
				}
				per := sec / float64(o.steps)
				ms[i].best, ms[i].peak = math.Min(ms[i].best, per), max(ms[i].peak, peak)
				ms[i].rounds = append(ms[i].rounds, per)
				line = append(line, fmt.Sprintf("%s %.0f ms", names[i], 1e3*per))
			}
			fmt.Fprintf(os.Stderr, "%s, round %d: %s\n", what, r+1, strings.Join(line, ", "))
		}
		rows = append(rows, row{what, ms})
		return nil
	}
	for _, top := range o.tops {
		for _, s := range sides {
			if err := s.setup(top); err != nil {
				return err
			}
			if _, _, err := s.steps(1); err != nil { // warm-up: optimizer state, caches, compilation
				return err
			}
		}
		if err := time1(fmt.Sprintf("train, top %d of %d layers", top, c.NumHiddenLayers), func(s side) (float64, int64, error) { return s.steps(o.steps) }); err != nil {
			return err
		}
	}
	if o.eval {
		for _, s := range sides {
			if _, _, err := s.evals(1); err != nil {
				return err
			}
		}
		if err := time1("eval (forward + loss, no gradients)", func(s side) (float64, int64, error) { return s.evals(o.steps) }); err != nil {
			return err
		}
	}
	fmt.Printf("\n%-38s", "")
	for _, n := range names {
		fmt.Printf(" %16s", n)
	}
	fmt.Printf("   ratios: reference time / ours (> 1: we are faster), best rounds; median of per-round ratios in ()\n")
	for _, r := range rows {
		fmt.Printf("%-38s", r.what)
		for _, ms := range r.m {
			fmt.Printf(" %10.0f ms/it", 1e3*ms.best)
		}
		for i := 1; i < len(r.m); i++ {
			var ratios []float64
			for k := range r.m[0].rounds {
				ratios = append(ratios, r.m[i].rounds[k]/r.m[0].rounds[k])
			}
			slices.Sort(ratios)
			fmt.Printf("   vs %s %.2fx (%.2fx)", names[i], r.m[i].best/r.m[0].best, ratios[len(ratios)/2])
		}
		fmt.Println()
		if !o.dev.IsCUDA() {
			fmt.Printf("%-38s", "  peak memory")
			for _, ms := range r.m {
				if ms.peak > 0 {
					fmt.Printf(" %13.0f MB", float64(ms.peak)/1e6)
				} else {
					fmt.Printf(" %16s", "not measured")
				}
			}
			fmt.Println()
		}
		if o.dev.IsCUDA() {
			fmt.Printf("%-38s", "  tokens/s, peak memory, MFU")
			for _, ms := range r.m {
				tps := tokens / ms.best
				mfu := ""
				if strings.HasPrefix(r.what, "train, top "+strconv.Itoa(c.NumHiddenLayers)+" ") {
					mfu = fmt.Sprintf(", MFU %.1f%%", 100*tps*flopsPerToken/(o.peakTFLOPS*1e12))
				}
				fmt.Printf("  %.0f tok/s, %.1f GB%s;", tps, float64(ms.peak)/1e9, mfu)
			}
			fmt.Println()
		}
	}
	if !o.dev.IsCUDA() {
		fmt.Println("peak memory on the CPU: growthtrain's tensors of 64 KiB and more (its caching allocator's peak of live bytes, parameters and optimizer state included); the Python side's is not measured")
	}
	if o.dev.IsCUDA() {
		fmt.Printf("MFU = tokens/s x (6 x non-embedding params + 6 x vocab x hidden + 6 x layers x T x hidden) / (%g TFLOP/s), for the all-layers step\n", o.peakTFLOPS)
	}
	return nil
}
