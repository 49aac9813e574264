package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/growthtrain/growthtrain/internal/testref"
)

// hfEncodeScript encodes a text file and a JSON list of documents with HF tokenizers.
const hfEncodeScript = `
import sys, json
from tokenizers import Tokenizer
tok = Tokenizer.from_file(sys.argv[1])
text = open(sys.argv[2], encoding="utf-8", newline="").read()
docs = json.load(open(sys.argv[3], encoding="utf-8"))
whole = tok.encode(text, add_special_tokens=False).ids
json.dump({
    "whole": whole,
    "whole_special": tok.encode(text).ids,
    "docs": [e.ids for e in tok.encode_batch(docs, add_special_tokens=False)],
    "docs_special": [e.ids for e in tok.encode_batch(docs)],
    "decode": tok.decode(whole, skip_special_tokens=False),
    "vocab_size": tok.get_vocab_size(),
}, sys.stdout)
`

// hfResult is what the reference scripts print.
type hfResult struct {
	Whole        []int64   `json:"whole"`
	WholeSpecial []int64   `json:"whole_special"`
	Docs         [][]int64 `json:"docs"`
	DocsSpecial  [][]int64 `json:"docs_special"`
	Decode       string    `json:"decode"`
	VocabSize    int       `json:"vocab_size"`
}

// sharedDir is a per-process scratch directory for artefacts several tests reuse (the trained
// tokenizers, the SmolLM2 reference run), removed by TestMain.
var sharedDir string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "tokenizer-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sharedDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

// corpus is the parity text and its document split, written once to sharedDir.
type corpus struct {
	text      string
	docs      []string
	textPath  string
	docsPath  string
	specials  []string
	sizeBytes int
}

func writeCorpus(tb testing.TB, name string, seed uint64, size int, specials []string) corpus {
	tb.Helper()
	c := corpus{text: genText(seed, size, specials), specials: specials}
	c.docs = splitDocs(c.text, seed)
	c.sizeBytes = len(c.text)
	c.textPath = filepath.Join(sharedDir, name+".txt")
	c.docsPath = filepath.Join(sharedDir, name+".docs.json")
	if err := os.WriteFile(c.textPath, []byte(c.text), 0o644); err != nil {
		tb.Fatal(err)
	}
	data, err := json.Marshal(c.docs)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(c.docsPath, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return c
}

func hfEncode(tb testing.TB, tokJSON string, c corpus) hfResult {
	tb.Helper()
	var r hfResult
	out := testref.RunPython(tb, hfEncodeScript, tokJSON, c.textPath, c.docsPath)
	if err := json.Unmarshal(out, &r); err != nil {
		tb.Fatalf("reference output: %v", err)
	}
	return r
}

// trainScript trains a small byte-level BPE with HF tokenizers and writes variants of it.
const trainScript = `
import sys, json
from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers, processors, AddedToken, Regex
text_path, outdir, llama3 = sys.argv[1], sys.argv[2], sys.argv[3]
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
tok.post_processor = processors.ByteLevel(trim_offsets=False)
trainer = trainers.BpeTrainer(vocab_size=4000, special_tokens=["<|endoftext|>", "<pad>"],
    initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
tok.train([text_path], trainer)
tok.add_special_tokens([AddedToken("<|sep|>", normalized=False),
    AddedToken("<tag>", lstrip=True, rstrip=True, normalized=False)])
tok.add_tokens([AddedToken("xyzzy", normalized=True), AddedToken("[[note]]", single_word=True, normalized=False),
    AddedToken("foo bar", normalized=True)])
def save(name, edit=None):
    path = f"{outdir}/{name}.json"
    tok.save(path)
    if edit:
        j = json.load(open(path, encoding="utf-8"))
        edit(j)
        json.dump(j, open(path, "w", encoding="utf-8"), ensure_ascii=False)
    return path
formats = {}
def fmt(name):
    j = json.load(open(f"{outdir}/{name}.json", encoding="utf-8"))
    formats[name] = type(j["model"]["merges"][0]).__name__
save("pairs"); fmt("pairs")
def to_strings(j):
    j["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m for m in j["model"]["merges"]]
save("strings", to_strings); fmt("strings")
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
tok.post_processor = processors.TemplateProcessing(single="<|endoftext|> $A <|sep|>", pair="$A $B",
    special_tokens=[("<|endoftext|>", tok.token_to_id("<|endoftext|>")), ("<|sep|>", tok.token_to_id("<|sep|>"))])
save("prefix")
tok.post_processor = None
tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)])
def ignore(j):
    j["model"]["ignore_merges"] = True
save("digits", ignore)
tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=False), pre_tokenizers.ByteLevel(add_prefix_space=False)])
save("digitruns")
tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(llama3), behavior="isolated"),
    pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
save("split")
json.dump(formats, sys.stdout)
`

// trainedSpecials are the added tokens the trained tokenizer has, for sprinkling into text.
var trainedSpecials = []string{"<|endoftext|>", "<pad>", "<|sep|>", "<tag>", "xyzzy", "[[note]]", "foo bar"}

var (
	trainOnce    sync.Once
	trainFormats map[string]string
	trainErr     string
)

// trained returns the path of a trained tokenizer variant ("pairs", "strings", "prefix",
// "digits", "digitruns", "split").
func trained(tb testing.TB, variant string) string {
	tb.Helper()
	trainOnce.Do(func() {
		c := writeCorpus(tb, "train", 1, 200_000, nil)
		out := testref.RunPython(tb, trainScript, c.textPath, sharedDir, llama3Split)
		if err := json.Unmarshal(out, &trainFormats); err != nil {
			trainErr = err.Error()
		}
	})
	if trainErr != "" || trainFormats == nil {
		tb.Fatalf("training the reference tokenizer failed: %s", trainErr)
	}
	return filepath.Join(sharedDir, variant+".json")
}

var (
	smolOnce sync.Once
	smolRes  smolRef
)

type smolRef struct {
	ok       bool
	vocab    GGUFVocab
	tokJSON  string // tokenizer.json saved from the transformers tokenizer
	c        corpus
	hf       hfResult // transformers' tokenizer on c
	hfDecode string
}

// smolScript dumps tokenizer.ggml.* with the gguf package, builds the transformers tokenizer
// from the GGUF, saves its tokenizer.json and encodes the corpus with it.
const smolScript = `
import sys, os, json
import gguf
from transformers import AutoTokenizer
path, outdir, text_path, docs_path = sys.argv[1:5]
r = gguf.GGUFReader(path)
def val(name):
    f = r.fields.get(name)
    if f is None:
        return None
    if name in ("tokenizer.ggml.tokens", "tokenizer.ggml.merges"):
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
    if name == "tokenizer.ggml.token_type":
        return [int(f.parts[i][0]) for i in f.data]
    if name in ("tokenizer.ggml.model", "tokenizer.ggml.pre"):
        return bytes(f.parts[f.data[0]]).decode("utf-8")
    return f.parts[f.data[0]].tolist()[0]
meta = {k: val("tokenizer.ggml." + k) for k in ("model", "pre", "tokens", "token_type", "merges",
    "bos_token_id", "eos_token_id", "unknown_token_id", "padding_token_id", "add_bos_token", "add_eos_token",
    "add_space_prefix")}
json.dump(meta, open(os.path.join(outdir, "gguf_vocab.json"), "w"))
tok = AutoTokenizer.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path))
tok.backend_tokenizer.save(os.path.join(outdir, "smollm2_tokenizer.json"))
text = open(text_path, encoding="utf-8", newline="").read()
docs = json.load(open(docs_path, encoding="utf-8"))
whole = tok.encode(text, add_special_tokens=False)
json.dump({
    "whole": whole,
    "whole_special": tok.encode(text),
    "docs": [tok.encode(d, add_special_tokens=False) for d in docs],
    "docs_special": [tok.encode(d) for d in docs],
    "decode": tok.backend_tokenizer.decode(whole, skip_special_tokens=False),
    "vocab_size": len(tok),
}, sys.stdout)
`

var smolSpecials = []string{"<|im_start|>", "<|im_end|>", "<|endoftext|>", "<file_sep>", "<jupyter_code>",
	"<|im_start|>system\n", "<|im_start|>assistant\n"}

func smollm2(tb testing.TB) smolRef {
	tb.Helper()
	smolOnce.Do(func() {
		gg := testref.SmolLM2GGUF(tb)
		c := writeCorpus(tb, "smol", 2, 120_000, smolSpecials)
		out := testref.RunPython(tb, smolScript, gg, sharedDir, c.textPath, c.docsPath)
		var r smolRef
		if err := json.Unmarshal(out, &r.hf); err != nil {
			tb.Fatalf("reference output: %v", err)
		}
		var meta struct {
			Model, Pre        string
			Tokens            []string
			TokenType         []int32 `json:"token_type"`
			Merges            []string
			BOS               *int64 `json:"bos_token_id"`
			EOS               *int64 `json:"eos_token_id"`
			UNK               *int64 `json:"unknown_token_id"`
			PAD               *int64 `json:"padding_token_id"`
			AddBOSRaw         *bool  `json:"add_bos_token"`
			AddEOSRaw         *bool  `json:"add_eos_token"`
			AddSpacePrefixRaw *bool  `json:"add_space_prefix"`
		}
		data, err := os.ReadFile(filepath.Join(sharedDir, "gguf_vocab.json"))
		if err != nil {
			tb.Fatal(err)
		}
		if err := json.Unmarshal(data, &meta); err != nil {
			tb.Fatalf("gguf_vocab.json: %v", err)
		}
		id := func(p *int64) int64 {
			if p == nil {
				return -1
			}
			return *p
		}
		flag := func(p *bool) bool { return p != nil && *p }
		r.vocab = GGUFVocab{Model: meta.Model, Pre: meta.Pre, Tokens: meta.Tokens, TokenTypes: meta.TokenType,
			Merges: meta.Merges, BOS: id(meta.BOS), EOS: id(meta.EOS), UNK: id(meta.UNK), PAD: id(meta.PAD),
			AddBOS: flag(meta.AddBOSRaw), AddEOS: flag(meta.AddEOSRaw), AddSpacePrefix: flag(meta.AddSpacePrefixRaw)}
		r.tokJSON = filepath.Join(sharedDir, "smollm2_tokenizer.json")
		r.c = c
		r.ok = true
		smolRes = r
	})
	if !smolRes.ok {
		tb.Fatal("SmolLM2 reference run failed (see the first test that needed it)")
	}
	return smolRes
}

// compareIDs fails with the first differing token and the text around it.
func compareIDs(t *testing.T, tok *Tokenizer, what string, got, want []int64) bool {
	t.Helper()
	n := min(len(got), len(want))
	i := 0
	for i < n && got[i] == want[i] {
		i++
	}
	if i == n && len(got) == len(want) {
		return true
	}
	lo := max(0, i-8)
	ctx := func(ids []int64) string {
		hi := min(len(ids), i+8)
		var parts []string
		for _, id := range ids[lo:hi] {
			s, _ := tok.Decode([]int64{id})
			parts = append(parts, fmt.Sprintf("%d:%q", id, s))
		}
		return strings.Join(parts, " ")
	}
	before, _ := tok.Decode(got[lo:i])
	t.Errorf("%s: ids differ at index %d (len got %d, want %d)\n  text before: %q\n  go: %s\n  hf: %s",
		what, i, len(got), len(want), before, ctx(got), ctx(want))
	return false
}

// checkParity compares tok against an HF run on corpus c: whole text, documents (through
// EncodeBatch), with and without post-processor tokens, and decoding.
func checkParity(t *testing.T, tok *Tokenizer, c corpus, hf hfResult) {
	t.Helper()
	compareIDs(t, tok, "whole text", tok.Encode(c.text), hf.Whole)
	compareIDs(t, tok, "whole text with special tokens", tok.EncodeWithSpecialTokens(c.text), hf.WholeSpecial)
	if len(hf.Docs) != len(c.docs) {
		t.Fatalf("reference encoded %d documents, want %d", len(hf.Docs), len(c.docs))
	}
	got := tok.EncodeBatch(c.docs)
	bad := 0
	for i := range c.docs {
		if !compareIDs(t, tok, fmt.Sprintf("document %d %.60q", i, c.docs[i]), got[i], hf.Docs[i]) {
			if bad++; bad > 3 {
				t.Fatal("too many mismatching documents")
			}
		}
		if bad == 0 {
			compareIDs(t, tok, fmt.Sprintf("document %d with special tokens", i), tok.EncodeWithSpecialTokens(c.docs[i]), hf.DocsSpecial[i])
		}
	}
	if dec, err := tok.Decode(hf.Whole); err != nil || dec != hf.Decode {
		t.Errorf("Decode differs from HF decode (err %v, len %d vs %d)", err, len(dec), len(hf.Decode))
	}
	if tok.VocabSize() != hf.VocabSize {
		t.Errorf("VocabSize() = %d, HF says %d", tok.VocabSize(), hf.VocabSize)
	}
	t.Logf("parity: %d bytes whole (%d ids), %d documents", len(c.text), len(hf.Whole), len(c.docs))
}
