package tokenizer

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/growthtrain/growthtrain/internal/testref"
)

// benchTokenizer is SmolLM2's tokenizer, as transformers wrote it for the GGUF.
func benchTokenizer(tb testing.TB) *Tokenizer {
	tb.Helper()
	tok, err := Load(smollm2(tb).tokJSON)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// BenchmarkEncode encodes ~1 MB of generated text with SmolLM2's tokenizer. The word cache is
// warm after the first iteration, as it is when tokenizing a corpus.
func BenchmarkEncode(b *testing.B) {
	tok := benchTokenizer(b)
	text := genText(5, 1<<20, smolSpecials)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		tok.Encode(text)
	}
}

// BenchmarkEncodeSplit encodes the same ~1 MB through a Split regex (the llama3 pattern, run by
// regexp2) instead of the hand-written GPT-2 split: SmolLM2's vocabulary built as a GGUF with
// tokenizer.ggml.pre "llama3" would be.
func BenchmarkEncodeSplit(b *testing.B) {
	v := smollm2(b).vocab
	v.Pre = "llama3"
	tok, err := FromGGUF(v)
	if err != nil {
		b.Fatal(err)
	}
	text := genText(5, 1<<20, smolSpecials)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		tok.Encode(text)
	}
}

// BenchmarkEncodeBatch encodes the same ~1 MB as documents in parallel.
func BenchmarkEncodeBatch(b *testing.B) {
	tok := benchTokenizer(b)
	text := genText(5, 1<<20, smolSpecials)
	docs := splitDocs(text, 5)
	n := 0
	for _, d := range docs {
		n += len(d)
	}
	b.SetBytes(int64(n))
	for b.Loop() {
		tok.EncodeBatch(docs)
	}
}

const hfThroughputScript = `
import os, sys, json, time
os.environ["TOKENIZERS_PARALLELISM"] = "true"
from tokenizers import Tokenizer
tok = Tokenizer.from_file(sys.argv[1])
text = open(sys.argv[2], encoding="utf-8", newline="").read()
docs = json.load(open(sys.argv[3], encoding="utf-8"))
nbytes = len(text.encode("utf-8"))
dbytes = sum(len(d.encode("utf-8")) for d in docs)
def best(f, n=3):
    ts = []
    for _ in range(n):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return min(ts)
res = {
    "whole": nbytes / best(lambda: tok.encode(text, add_special_tokens=False)) / 1e6,
    "loop": dbytes / best(lambda: [tok.encode(d, add_special_tokens=False) for d in docs]) / 1e6,
    "batch": dbytes / best(lambda: tok.encode_batch(docs, add_special_tokens=False)) / 1e6,
}
json.dump(res, sys.stdout)
`

// TestThroughputVsHF prints Go and HF tokenizers throughput on the same ~1 MB text. It is a
// measurement, not a requirement, so it only runs with GROWTHTRAIN_BENCH=1.
func TestThroughputVsHF(t *testing.T) {
	if os.Getenv("GROWTHTRAIN_BENCH") != "1" {
		t.Skip("set GROWTHTRAIN_BENCH=1 to measure throughput against HF tokenizers")
	}
	r := smollm2(t)
	c := writeCorpus(t, "bench", 5, 1<<20, smolSpecials)
	var hf map[string]float64
	if err := json.Unmarshal(testref.RunPython(t, hfThroughputScript, r.tokJSON, c.textPath, c.docsPath), &hf); err != nil {
		t.Fatal(err)
	}
	dbytes := 0
	for _, d := range c.docs {
		dbytes += len(d)
	}
	best := func(f func()) float64 {
		b := time.Duration(1 << 62)
		for range 3 {
			s := time.Now()
			f()
			b = min(b, time.Since(s))
		}
		return b.Seconds()
	}
	tok, err := Load(r.tokJSON)
	if err != nil {
		t.Fatal(err)
	}
	s := time.Now()
	tok.Encode(c.text)
	cold := float64(len(c.text)) / time.Since(s).Seconds() / 1e6
	whole := float64(len(c.text)) / best(func() { tok.Encode(c.text) }) / 1e6
	loop := float64(dbytes) / best(func() {
		for _, d := range c.docs {
			tok.Encode(d)
		}
	}) / 1e6
	batch := float64(dbytes) / best(func() { tok.EncodeBatch(c.docs) }) / 1e6
	t.Logf("text %d bytes, %d documents", len(c.text), len(c.docs))
	t.Logf("Go encode whole text: %.2f MB/s (cold cache %.2f MB/s); HF encode whole: %.2f MB/s; ratio %.2fx", whole, cold, hf["whole"], whole/hf["whole"])
	t.Logf("Go Encode loop over docs: %.2f MB/s; HF encode loop: %.2f MB/s; ratio %.2fx", loop, hf["loop"], loop/hf["loop"])
	t.Logf("Go EncodeBatch: %.2f MB/s; HF encode_batch: %.2f MB/s; ratio %.2fx", batch, hf["batch"], batch/hf["batch"])
}
