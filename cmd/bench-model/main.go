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
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/model"
	"github.com/growthtrain/growthtrain/tokenizer"
)

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
eval_s = float("inf")
with torch.no_grad():
    x = torch.tensor([wins[0]]); m(x)  # warm-up
    for rep in range(3):  # best of 3, as on the Go side
        nll, n = 0.0, 0
        t = time.perf_counter()
        for w in wins:
            x = torch.tensor([w])
            logits = m(x).logits
            nll += torch.nn.functional.cross_entropy(logits[0, :-1].float(), x[0, 1:], reduction="sum").item()
            n += len(w) - 1
        eval_s = min(eval_s, time.perf_counter() - t)
print(json.dumps({"tok_seconds": tok_s, "tok_count": len(ids), "load_seconds": load_s, "eval_seconds": eval_s, "eval_tokens": n, "nll": nll}))
`

func main() {
	gguf := flag.String("gguf", ".cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2 GGUF (make smollm2)")
	text := flag.String("text", "model/testdata/moby_dick_ch1-3.txt", "English text for tokenizer and eval")
	python := flag.String("python", ".venv/bin/python", "reference interpreter (make deps)")
	threads := flag.Int("threads", runtime.NumCPU(), "intra-op threads for both sides")
	evalTokens := flag.Int("eval-tokens", 4096, "tokens to evaluate")
	seqLen := flag.Int("seq-len", 512, "evaluation window")
	flag.Parse()
	// libtorch's OpenMP keeps one worker team per calling OS thread; drive it from one thread.
	runtime.LockOSThread()
	if err := run(*gguf, *text, *python, *threads, *evalTokens, *seqLen); err != nil {
		fmt.Fprintln(os.Stderr, "bench-model:", err)
		os.Exit(1)
	}
}

func run(gguf, textPath, python string, threads, evalTokens, seqLen int) (err error) {
	defer torch.Recover(&err)
	torch.SetNumThreads(threads)
	raw, err := os.ReadFile(textPath)
	if err != nil {
		return err
	}
	// About 1 MB of text for the tokenizer.
	text := strings.Repeat(string(raw)+"\n\n", max(1, 1_000_000/len(raw)))
	fmt.Printf("bench-model  %s  libtorch %s, %d threads, %s/%s\n", time.Now().Format("2006-01-02"), torch.TorchVersion(), threads, runtime.GOOS, runtime.GOARCH)

	// Evaluate first, on a freshly loaded model (as growthtrain eval does), then time loading and
	// tokenizing: the order matters on a small machine, where earlier large allocations change
	// how later ones behave.
	m, err := model.LoadGGUF(gguf, model.LoadOptions{})
	if err != nil {
		return err
	}
	tok, err := tokenizer.LoadGGUF(gguf)
	if err != nil {
		return err
	}
	all := tok.Encode(string(raw))
	if len(all) > evalTokens {
		all = all[:evalTokens]
	}
	wins := model.Windows(all, seqLen)
	m.Evaluate(wins[0], model.EvalOptions{SeqLen: seqLen}) // warm-up
	var goNLL float64
	var goN int64
	goEval := math.Inf(1)
	var t time.Time
	for rep := 0; rep < 3; rep++ { // best of 3: the machine may be shared
		goNLL, goN = 0, 0
		t = time.Now()
		for _, w := range wins {
			res, err := m.Evaluate(w, model.EvalOptions{SeqLen: seqLen})
			if err != nil {
				return err
			}
			goNLL += res.NLL
			goN += res.Tokens
		}
		goEval = math.Min(goEval, time.Since(t).Seconds())
	}

	m.Close()
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
	t = time.Now()
	ids := tok.Encode(text)
	goTok := time.Since(t).Seconds()

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
	cmd := exec.Command(python, "-c", pyScript, gguf, filepath.Join(dir, "tokenizer.json"), textFile, winFile, fmt.Sprint(threads))
	cmd.Env = append(os.Environ(), "HF_HUB_OFFLINE=1", "TOKENIZERS_PARALLELISM=false")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("reference script: %w", err)
	}
	var py struct {
		TokSeconds, LoadSeconds, EvalSeconds, NLL float64
		TokCount, EvalTokens                      int
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	if err := dec.Decode(&struct {
		TokSeconds  *float64 `json:"tok_seconds"`
		TokCount    *int     `json:"tok_count"`
		LoadSeconds *float64 `json:"load_seconds"`
		EvalSeconds *float64 `json:"eval_seconds"`
		EvalTokens  *int     `json:"eval_tokens"`
		NLL         *float64 `json:"nll"`
	}{&py.TokSeconds, &py.TokCount, &py.LoadSeconds, &py.EvalSeconds, &py.EvalTokens, &py.NLL}); err != nil {
		return fmt.Errorf("reference output %q: %w", out, err)
	}
	mb := float64(len(text)) / 1e6
	fmt.Printf("%-46s %12s %12s %8s\n", "measure", "growthtrain", "reference", "ratio")
	fmt.Printf("%-46s %11.3fs %11.3fs %7.2fx  (min of 3; transformers: one load)\n", "load SmolLM2-135M GGUF (dequantise all)", loads[0], py.LoadSeconds, py.LoadSeconds/loads[0])
	fmt.Printf("%-46s %10.1f MB/s %8.1f MB/s %7.2fx  (%d vs %d tokens)\n", "tokenizer encode, 1 thread", mb/goTok, mb/py.TokSeconds, py.TokSeconds/goTok, len(ids), py.TokCount)
	fmt.Printf("%-46s %9.0f t/s %9.0f t/s %7.2fx  (%d windows of %d, best of 3)\n", "CPU eval (forward + loss), float32", float64(goN)/goEval, float64(py.EvalTokens)/py.EvalSeconds, (float64(goN)/goEval)/(float64(py.EvalTokens)/py.EvalSeconds), len(wins), seqLen)
	fmt.Printf("perplexity on those windows: growthtrain %.4f, transformers %.4f\n", math.Exp(goNLL/float64(goN)), math.Exp(py.NLL/float64(py.EvalTokens)))
	return nil
}
