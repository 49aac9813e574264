// Command bench-train times one training step of growthtrain against PyTorch eager
// (transformers' LlamaForCausalLM with the same configuration, the same batch, AdamW and
// gradient clipping) in one run (make bench-train), for every layer trainable and for only the
// top k: frozen layers below the lowest trainable one skip their backward pass on both sides.
// It prints each figure and the ratio; nothing here is a pass/fail test.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
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
cfg, threads, batch_file, dtype = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
torch.set_num_threads(threads)
torch.manual_seed(0)
m = LlamaForCausalLM(LlamaConfig(**cfg, attn_implementation="sdpa")).train()
ids = torch.tensor(json.load(open(batch_file)))
inp, tgt = ids[:, :-1].contiguous(), ids[:, 1:].contiguous()
L, V = cfg["num_hidden_layers"], cfg["vocab_size"]
mixed = dtype == "bfloat16"
params, opt = [], None
print(json.dumps({"torch": torch.__version__}), flush=True)

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

def step():
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mixed):
        logits = m(inp).logits
        loss = F.cross_entropy(logits.float().view(-1, V), tgt.view(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss.item()

for line in sys.stdin:
    cmd = line.split()
    if cmd[0] == "quit":
        break
    if cmd[0] == "setup":
        setup(int(cmd[1]))
        print(json.dumps({}), flush=True)
        continue
    t = time.perf_counter()
    loss = [step() for _ in range(int(cmd[1]))]
    print(json.dumps({"seconds": time.perf_counter() - t, "loss": loss[-1]}), flush=True)
`

func main() {
	python := flag.String("python", ".venv/bin/python", "reference interpreter (make deps)")
	threads := flag.Int("threads", runtime.NumCPU(), "intra-op threads for both sides")
	layers := flag.Int("layers", 12, "decoder layers (SmolLM2's layer shape)")
	vocab := flag.Int("vocab", 4096, "vocabulary")
	batch := flag.Int("batch", 4, "sequences per step")
	seqLen := flag.Int("seq-len", 128, "tokens per sequence")
	tops := flag.String("top", "12,6,2", "trainable top layers to measure, comma-separated")
	rounds := flag.Int("rounds", 5, "alternating rounds per setting")
	steps := flag.Int("steps", 3, "training steps per round and side")
	flag.Parse()
	runtime.LockOSThread() // libtorch's OpenMP keeps one worker team per calling OS thread
	if err := runtimeenv.Init(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-train:", err)
		os.Exit(1)
	}
	var topList []int
	for _, f := range strings.Split(*tops, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || k < 1 || k > *layers {
			fmt.Fprintf(os.Stderr, "bench-train: --top %q: want layer counts in 1-%d\n", *tops, *layers)
			os.Exit(2)
		}
		topList = append(topList, k)
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"--threads", *threads}, {"--vocab", *vocab}, {"--batch", *batch}, {"--seq-len", *seqLen}, {"--rounds", *rounds}, {"--steps", *steps}} {
		if v.n < 1 {
			fmt.Fprintf(os.Stderr, "bench-train: %s must be at least 1\n", v.name)
			os.Exit(2)
		}
	}
	cfg := model.Config{VocabSize: *vocab, HiddenSize: 576, IntermediateSize: 1536, NumHiddenLayers: *layers,
		NumAttentionHeads: 9, NumKeyValueHeads: 3, HeadDim: 64, MaxPositionEmbeddings: max(2048, *seqLen), RMSNormEps: 1e-5,
		RopeTheta: 1e5, TieWordEmbeddings: true, HiddenAct: "silu"}
	if err := run(cfg, *python, *threads, *batch, *seqLen, topList, *rounds, *steps); err != nil {
		fmt.Fprintln(os.Stderr, "bench-train:", err)
		os.Exit(1)
	}
}

// side is one implementation's training loop at one setting.
type side interface {
	setup(top int) error
	steps(n int) (seconds float64, err error)
}

// ours is growthtrain's step: optim.Step over the top layers, the batch packed each step as the
// trainer does.
type ours struct {
	m       *model.Model
	windows [][]int64
	opt     *optim.AdamW
	step    optim.Step
	params  []optim.Param
}

func (o *ours) setup(top int) error {
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
	return nil
}

func (o *ours) steps(n int) (float64, error) {
	start := time.Now()
	for i := 0; i < n; i++ {
		res, err := o.step.Run(o.params, 1e-4, 1, func(int) (*torch.Tensor, error) {
			b, err := model.Pack(o.windows, model.Shifted, o.m.Device)
			if err != nil {
				return nil, err
			}
			return o.m.Loss(b, model.LossOptions{})
		})
		if err != nil {
			return 0, err
		}
		if _, _, err := res.Read(); err != nil { // as the trainer does: it logs every step
			return 0, err
		}
		res.Close()
	}
	return time.Since(start).Seconds(), nil
}

// theirs is the Python reference.
type theirs struct{ s *pyref.Server }

func (t theirs) setup(top int) error {
	var v struct{}
	return t.s.Call(fmt.Sprintf("setup %d", top), &v)
}

func (t theirs) steps(n int) (float64, error) {
	var v struct {
		Seconds float64 `json:"seconds"`
	}
	err := t.s.Call(fmt.Sprintf("step %d", n), &v)
	return v.Seconds, err
}

func run(cfg model.Config, python string, threads, batch, seqLen int, tops []int, rounds, steps int) (err error) {
	defer torch.Recover(&err)
	torch.SetNumThreads(threads)
	gen := torch.NewGenerator(1, torch.CPU)
	defer gen.Close()
	m, err := model.New(cfg, gen)
	if err != nil {
		return err
	}
	defer m.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	windows := make([][]int64, batch)
	for i := range windows {
		windows[i] = make([]int64, seqLen+1)
		for j := range windows[i] {
			windows[i][j] = int64(rng.IntN(cfg.VocabSize))
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
	hf, _ := json.Marshal(map[string]any{"vocab_size": cfg.VocabSize, "hidden_size": cfg.HiddenSize,
		"intermediate_size": cfg.IntermediateSize, "num_hidden_layers": cfg.NumHiddenLayers,
		"num_attention_heads": cfg.NumAttentionHeads, "num_key_value_heads": cfg.NumKeyValueHeads,
		"max_position_embeddings": cfg.MaxPositionEmbeddings, "rms_norm_eps": cfg.RMSNormEps,
		"rope_theta": cfg.RopeTheta, "tie_word_embeddings": true, "hidden_act": "silu"})
	srv, err := pyref.Start(python, pyScript, string(hf), strconv.Itoa(threads), batchFile, "float32")
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
	fmt.Printf("bench-train  %s  libtorch %s (reference: PyTorch %s eager, transformers LlamaForCausalLM, sdpa, fused AdamW), %d threads, %s/%s\n",
		time.Now().Format("2006-01-02"), torch.TorchVersion(), hello.Torch, threads, runtime.GOOS, runtime.GOARCH)
	fmt.Printf("model: %d layers, hidden %d, heads %d/%d, MLP %d, vocab %d; batch %d x %d tokens; float32; AdamW + clipping at 1.0\n",
		cfg.NumHiddenLayers, cfg.HiddenSize, cfg.NumAttentionHeads, cfg.NumKeyValueHeads, cfg.IntermediateSize, cfg.VocabSize, batch, seqLen)
	g := &ours{m: m, windows: windows}
	defer func() {
		if g.opt != nil {
			g.opt.Close()
		}
	}()
	p := theirs{srv}
	type result struct {
		top            int
		goBest, pyBest float64 // seconds per step, fastest round
		median         float64 // median over rounds of python seconds / our seconds
	}
	var results []result
	for _, top := range tops {
		for _, s := range []side{g, p} {
			if err := s.setup(top); err != nil {
				return err
			}
			if _, err := s.steps(1); err != nil { // warm-up: optimizer state, caches
				return err
			}
		}
		var goT, pyT, ratios []float64
		for r := 0; r < rounds; r++ {
			a, err := g.steps(steps)
			if err != nil {
				return err
			}
			b, err := p.steps(steps)
			if err != nil {
				return err
			}
			goT, pyT, ratios = append(goT, a/float64(steps)), append(pyT, b/float64(steps)), append(ratios, b/a)
			fmt.Fprintf(os.Stderr, "top %d, round %d: growthtrain %.0f ms/step, PyTorch %.0f ms/step\n", top, r+1, 1e3*a/float64(steps), 1e3*b/float64(steps))
		}
		slices.Sort(ratios)
		results = append(results, result{top: top, goBest: slices.Min(goT), pyBest: slices.Min(pyT), median: ratios[len(ratios)/2]})
	}
	fmt.Printf("%-28s %14s %14s %8s %s\n", "trainable layers", "growthtrain", "PyTorch eager", "speed", "(PyTorch time / ours; > 1: we are faster)")
	for _, r := range results {
		fmt.Printf("top %2d of %-18d %11.0f ms %11.0f ms %7.2fx  (best of %d rounds of %d steps; median of per-round ratios %.2fx)\n",
			r.top, cfg.NumHiddenLayers, 1e3*r.goBest, 1e3*r.pyBest, r.pyBest/r.goBest, rounds, steps, r.median)
	}
	return nil
}
