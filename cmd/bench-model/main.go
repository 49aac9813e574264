// Command bench-model measures the model side of growthtrain against the Python references, in
// one run (make bench-model): SmolLM2-135M GGUF load time, tokenizer throughput vs HF
// tokenizers, and CPU evaluation tokens/s vs transformers on the same windows with the same
// number of threads. It prints each figure and the ratio; nothing here is a pass/fail test.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/cmd/internal/pyref"
	"github.com/growthtrain/growthtrain/cmd/internal/runtimeenv"
	"github.com/growthtrain/growthtrain/data"
	"github.com/growthtrain/growthtrain/model"
	"github.com/growthtrain/growthtrain/tokenizer"
)

// The reference runs as a server so the two sides can take turns: timings on a shared machine
// drift by tens of percent over a minute, and alternating rounds exposes both sides to the same
// drift. It first reports its tokenizer and load timings, then answers "eval" (all windows once),
// "warmup" and "quit" on standard input.
const pyScript = `
import json, os, sys, time
import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM
gguf, tokjson, textfile, windows_file, threads = sys.argv[1:6]
torch.set_num_threads(int(threads))
text = open(textfile, encoding="utf-8").read()
tok = Tokenizer.from_file(tokjson)
tok.encode(text[:10000], add_special_tokens=False)
t = time.perf_counter(); ids = tok.encode(text, add_special_tokens=False).ids; tok_s = time.perf_counter() - t
t = time.perf_counter()
m = AutoModelForCausalLM.from_pretrained(os.path.dirname(gguf), gguf_file=os.path.basename(gguf), dtype=torch.float32).eval()
load_s = time.perf_counter() - t
wins = json.load(open(windows_file))
print(json.dumps({"tok_seconds": tok_s, "tok_count": len(ids), "load_seconds": load_s}), flush=True)

def evaluate(ws):
    nll, n = 0.0, 0
    t = time.perf_counter()
    with torch.no_grad():
        for w in ws:
            x = torch.tensor([w])
            logits = m(x).logits
            nll += torch.nn.functional.cross_entropy(logits[0, :-1].float(), x[0, 1:], reduction="sum").item()
            n += len(w) - 1
    return {"seconds": time.perf_counter() - t, "tokens": n, "nll": nll}

for line in sys.stdin:
    cmd = line.strip()
    if cmd == "quit":
        break
    print(json.dumps(evaluate(wins[:1] if cmd == "warmup" else wins)), flush=True)
`

func main() {
	gguf := flag.String("gguf", ".cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2 GGUF (make smollm2)")
	text := flag.String("text", "model/testdata/moby_dick_ch1-3.txt", "English text for tokenizer and eval")
	python := flag.String("python", ".venv/bin/python", "reference interpreter (make deps)")
	threads := flag.Int("threads", runtime.NumCPU(), "intra-op threads for both sides")
	evalTokens := flag.Int("eval-tokens", 4096, "tokens to evaluate")
	seqLen := flag.Int("seq-len", 512, "evaluation window")
	rounds := flag.Int("rounds", 5, "alternating evaluation rounds per side")
	flag.Parse()
	// libtorch's OpenMP keeps one worker team per calling OS thread; drive it from one thread.
	runtime.LockOSThread()
	// The CLI's runtime (GROWTHTORCH_* variables as there), so the figures are the CLI's.
	if err := runtimeenv.Init(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-model:", err)
		os.Exit(1)
	}
	if err := run(*gguf, *text, *python, *threads, *evalTokens, *seqLen, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "bench-model:", err)
		os.Exit(1)
	}
}

// evalRound is one pass over all windows on one side.
type evalRound struct {
	Seconds float64 `json:"seconds"`
	Tokens  int64   `json:"tokens"`
	NLL     float64 `json:"nll"`
}

// goEval evaluates the token stream once; Evaluate cuts it into the same windows the reference
// gets (model.Windows) and runs them one at a time, as the reference does.
func goEval(m *model.Model, ids []int64, seqLen int) (evalRound, error) {
	res, err := m.Evaluate(ids, model.EvalOptions{SeqLen: seqLen})
	return evalRound{Seconds: res.Seconds, Tokens: res.Tokens, NLL: res.NLL}, err
}

func run(gguf, textPath, python string, threads, evalTokens, seqLen, rounds int) (err error) {
	defer torch.Recover(&err)
	torch.SetNumThreads(threads)
	raw, err := os.ReadFile(textPath)
	if err != nil {
		return err
	}
	// About 1 MB of text for the tokenizer.
	text := strings.Repeat(string(raw)+"\n\n", max(1, 1_000_000/len(raw)))
	fmt.Printf("bench-model  %s  libtorch %s, %d threads, %s/%s, fused kernels: %s\n", time.Now().Format("2006-01-02"),
		torch.TorchVersion(), threads, runtime.GOOS, runtime.GOARCH, torch.FusedKernelISA())

	m, err := model.LoadGGUF(gguf, model.LoadOptions{})
	if err != nil {
		return err
	}
	defer m.Close()
	tok, err := tokenizer.LoadGGUF(gguf)
	if err != nil {
		return err
	}
	all := tok.Encode(string(raw))
	if len(all) > evalTokens {
		all = all[:evalTokens]
	}
	wins := data.Windows(all, seqLen)

	dir, err := os.MkdirTemp("", "bench-model")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := tok.SaveDir(dir); err != nil {
		return err
	}
	textFile, winFile := filepath.Join(dir, "text.txt"), filepath.Join(dir, "windows.json")
	wj, _ := json.Marshal(wins)
	if err := os.WriteFile(textFile, []byte(text), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(winFile, wj, 0o644); err != nil {
		return err
	}
	ref, err := pyref.Start(python, pyScript, gguf, filepath.Join(dir, "tokenizer.json"), textFile, winFile, fmt.Sprint(threads))
	if err != nil {
		return err
	}
	defer ref.Close()
	var py struct {
		TokSeconds  float64 `json:"tok_seconds"`
		TokCount    int     `json:"tok_count"`
		LoadSeconds float64 `json:"load_seconds"`
	}
	if err := ref.Read(&py); err != nil {
		return err
	}

	// Rounds alternate: growthtrain (fused kernels), transformers, growthtrain (composite ops).
	var warm evalRound
	if err := ref.Call("warmup", &warm); err != nil {
		return err
	}
	m.Evaluate(wins[0], model.EvalOptions{SeqLen: seqLen})
	var goR, pyR, compR []evalRound
	for r := 0; r < rounds; r++ {
		torch.SetFusedKernels(true)
		g, err := goEval(m, all, seqLen)
		if err != nil {
			return err
		}
		var p evalRound
		if err := ref.Call("eval", &p); err != nil {
			return err
		}
		torch.SetFusedKernels(false)
		c, err := goEval(m, all, seqLen)
		torch.SetFusedKernels(true)
		if err != nil {
			return err
		}
		goR, pyR, compR = append(goR, g), append(pyR, p), append(compR, c)
		fmt.Fprintf(os.Stderr, "round %d: growthtrain %.0f t/s, transformers %.0f t/s, growthtrain without fused kernels %.0f t/s\n",
			r+1, float64(g.Tokens)/g.Seconds, float64(p.Tokens)/p.Seconds, float64(c.Tokens)/c.Seconds)
	}

	var loads []float64
	for i := 0; i < 3; i++ {
		t := time.Now()
		lm, err := model.LoadGGUF(gguf, model.LoadOptions{})
		if err != nil {
			return err
		}
		loads = append(loads, time.Since(t).Seconds())
		lm.Close()
	}
	slices.Sort(loads)

	tok.Encode(text[:10000])
	t := time.Now()
	ids := tok.Encode(text)
	goTok := time.Since(t).Seconds()

	best := func(rs []evalRound) float64 { // tokens/s of the fastest round
		v := 0.0
		for _, r := range rs {
			v = math.Max(v, float64(r.Tokens)/r.Seconds)
		}
		return v
	}
	medianRatio := func(a, b []evalRound) float64 { // median over rounds of a's speed / b's
		var rs []float64
		for i := range a {
			rs = append(rs, b[i].Seconds/a[i].Seconds)
		}
		slices.Sort(rs)
		return rs[len(rs)/2]
	}
	mb := float64(len(text)) / 1e6
	fmt.Printf("%-46s %12s %12s %8s\n", "measure", "growthtrain", "reference", "ratio")
	fmt.Printf("%-46s %11.3fs %11.3fs %7.2fx  (min of 3; transformers: one load)\n", "load SmolLM2-135M GGUF (dequantise all)", loads[0], py.LoadSeconds, py.LoadSeconds/loads[0])
	fmt.Printf("%-46s %10.1f MB/s %8.1f MB/s %7.2fx  (%d vs %d tokens)\n", "tokenizer encode, 1 thread", mb/goTok, mb/py.TokSeconds, py.TokSeconds/goTok, len(ids), py.TokCount)
	fmt.Printf("%-46s %9.0f t/s %9.0f t/s %7.2fx  (%d windows of %d; best of %d alternating rounds; median of per-round ratios %.2fx)\n",
		"CPU eval (forward + loss), float32", best(goR), best(pyR), best(goR)/best(pyR), len(wins), seqLen, rounds, medianRatio(goR, pyR))
	fmt.Printf("%-46s %9.0f t/s %9.0f t/s %7.2fx  (median of per-round ratios %.2fx)\n",
		"  same, growthtrain without fused kernels", best(compR), best(pyR), best(compR)/best(pyR), medianRatio(compR, pyR))
	fmt.Printf("perplexity on those windows: growthtrain %.4f (without fused kernels %.4f), transformers %.4f\n",
		math.Exp(goR[0].NLL/float64(goR[0].Tokens)), math.Exp(compR[0].NLL/float64(compR[0].Tokens)), math.Exp(pyR[0].NLL/float64(pyR[0].Tokens)))
	return nil
}
