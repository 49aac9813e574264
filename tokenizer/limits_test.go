package tokenizer

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/growthtrain/growthtrain/internal/inputtest"
	"github.com/growthtrain/growthtrain/internal/testref"
)

// splitJSON is the tiny tokenizer with a Split(pattern, Isolated) pre-tokenizer ahead of a
// ByteLevel that does not split again.
func splitJSON(pattern string) map[string]any {
	j := tinyJSON()
	j["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
		map[string]any{"type": "Split", "pattern": map[string]any{"Regex": pattern}, "behavior": "Isolated", "invert": false},
		map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
	}}
	return j
}

// within runs f and fails the test if it has not returned after d (the goroutine is left behind).
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

// shortRegexBudget makes Split budgets short for the test (tokenizers built afterwards use it).
func shortRegexBudget(t *testing.T) {
	saved := regexBudget
	regexBudget.base, regexBudget.perByte = 200*time.Millisecond, time.Microsecond
	t.Cleanup(func() { regexBudget = saved })
}

// TestCatastrophicSplitRegex: a Split pattern that backtracks exponentially neither hangs nor
// panics. Nested quantifiers are refused at load; what the load check cannot recognise (an
// ambiguous alternation) runs out of its time budget and TryEncode returns an error naming the
// file and the pattern.
func TestCatastrophicSplitRegex(t *testing.T) {
	shortRegexBudget(t)
	cases := []struct {
		pattern, text string
		atLoad        bool // refused by Load (else by TryEncode)
	}{
		{`(a+)+$`, strings.Repeat("a", 40) + "b", true},
		{`(\w+\s?)*$`, strings.Repeat("ab ", 20) + "!", true},
		{`(?:x+x+)+y`, strings.Repeat("x", 40), true},
		{`(?=(a*)*$)a`, strings.Repeat("a", 40) + "b", true},
		{`(a|aa)+$`, strings.Repeat("a", 60) + "b", false},
		{`(\d|\d\d)+$`, strings.Repeat("1", 60) + "!", false},
	}
	for _, c := range cases {
		t.Run(c.pattern, func(t *testing.T) {
			path := writeJSON(t, splitJSON(c.pattern))
			within(t, 20*time.Second, "Load+TryEncode", func() {
				tok, err := Load(path)
				if c.atLoad {
					if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "nested quantifier") ||
						!strings.Contains(err.Error(), quotePattern(c.pattern)) {
						t.Errorf("Load: %v, want a nested-quantifier error naming %s and the pattern", err, path)
					}
					return
				}
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				start := time.Now()
				ids, err := tok.TryEncode(c.text)
				if err == nil {
					t.Fatalf("TryEncode succeeded (%d ids)", len(ids))
				}
				if !errors.Is(err, ErrRegexTimeout) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), quotePattern(c.pattern)) {
					t.Errorf("TryEncode error %q: want ErrRegexTimeout naming %s and the pattern", err, path)
				}
				if strings.Contains(err.Error(), c.text) {
					t.Errorf("the error quotes the input text: %q", err)
				}
				if d := time.Since(start); d > 10*time.Second {
					t.Errorf("TryEncode took %v for a %v budget", d, budgetFor(len(c.text)))
				}
				// Encode panics with the same error rather than returning wrong ids.
				func() {
					defer func() {
						if r := recover(); r == nil {
							t.Error("Encode did not panic")
						}
					}()
					tok.Encode(c.text)
				}()
			})
		})
	}
}

// TestCheckPattern: real tokenizer patterns pass the load-time check; nested quantifiers do not.
func TestCheckPattern(t *testing.T) {
	accept := []string{
		`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`,
		llama3Split, qwen2Split,
		// gpt-4o / o200k
		`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
		// DeepSeek-V3
		`[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_` + "`" + `{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
		`\p{N}{1,3}`, `[一-龥぀-ゟ゠-ヿ]+`, `(ab+)+`, `(?:'s|'t)+`, `(a?)+`, `(a{2,5})+`, `[a-z-[aeiou]]+`,
		`\{(\d+)\}`, `(?i)(a+b)+`, `(?<w>\w)+`, `a{,3}+`, `\k<w>(a+)+`, `(?x) (a+)+`,
	}
	for _, p := range accept {
		if err := checkPattern(p); err != nil {
			t.Errorf("checkPattern(%q) = %v, want nil", p, err)
		}
	}
	reject := []string{`(a+)+`, `(a*)*b`, `((ab)+)*c`, `(\s*\w+)+$`, `(?:[^\s]+\s*)+`, `(x+x+)+y`,
		`(\d+\d*)+!`, `(a+|b)+$`, `((a+){1,3})+`, `(?<=(a+)+)b`, `(?i:(?:\p{L}+)+)`, `([a-z-[q]]+)*`}
	for _, p := range reject {
		if err := checkPattern(p); err == nil {
			t.Errorf("checkPattern(%q) accepted a nested quantifier", p)
		}
	}
}

// TestSplitBehaviorsMatchHF checks the streaming Split behaviours (all five, with and without
// invert) against HF tokenizers' Split pre-tokenizer.
func TestSplitBehaviorsMatchHF(t *testing.T) {
	patterns := []string{`\s+`, `[aeiou]`, `-`, `\d+`, `b|(?=c)`, `x*`, `\b`, `(?=\s)|\s`, `|a`}
	texts := []string{"hello world  foo", "a-b--c-", "  lead trail  ", "aaa", "b1b22bcc", "-", "héllo wörld 東京 x", "xx-xxc"}
	behaviors := []string{"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"}
	type probe struct {
		Pattern, Behavior, Text string
		Invert                  bool
	}
	var probes []probe
	for _, p := range patterns {
		for _, b := range behaviors {
			for _, inv := range []bool{false, true} {
				for _, s := range texts {
					probes = append(probes, probe{p, b, s, inv})
				}
			}
		}
	}
	in, err := json.Marshal(probes)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "probes.json")
	if err := os.WriteFile(path, in, 0o644); err != nil {
		t.Fatal(err)
	}
	const script = `
import json, sys
from tokenizers import pre_tokenizers, Regex
out = []
for p in json.load(open(sys.argv[1], encoding="utf-8")):
    sp = pre_tokenizers.Split(Regex(p["Pattern"]), behavior=p["Behavior"].lower().replace("mergedwith", "merged_with_"), invert=p["Invert"])
    out.append([s for s, _ in sp.pre_tokenize_str(p["Text"])])
json.dump(out, sys.stdout)
`
	var want [][]string
	if err := json.Unmarshal(testref.RunPython(t, script, path), &want); err != nil {
		t.Fatal(err)
	}
	for i, p := range probes {
		re, err := compileSplit(p.Pattern)
		if err != nil {
			t.Fatal(err)
		}
		step := regexSplitStep{re: re, behavior: behaviorNames[p.Behavior], invert: p.Invert}
		got := []string{}
		if err := step.split(p.Text, func(s string) { got = append(got, s) }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want[i]) {
			t.Errorf("Split(%q, %s, invert=%v) on %q = %q, HF %q", p.Pattern, p.Behavior, p.Invert, p.Text, got, want[i])
		}
	}
}

// TestVocabLimit: more tokens or merges than the limit are refused before the tokenizer's maps
// are built (the limit is lowered here; the real one is MaxVocabSize).
func TestVocabLimit(t *testing.T) {
	saved := maxVocab
	t.Cleanup(func() { maxVocab = saved })
	maxVocab = 260 // tinyJSON has 267 tokens and 11 merges
	path := writeJSON(t, tinyJSON())
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "more than 260 tokens") {
		t.Errorf("Load: %v, want too many tokens", err)
	}
	maxVocab = 300
	j := tinyJSON()
	var merges [][]string
	for range 301 {
		merges = append(merges, []string{"h", "e"})
	}
	j["model"].(map[string]any)["merges"] = merges
	path = writeJSON(t, j)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "301 merges, more than 300") {
		t.Errorf("Load: %v, want too many merges", err)
	}
	maxVocab = 256
	var toks []string
	for b := range 256 {
		toks = append(toks, string(byteRune[b]))
	}
	v := GGUFVocab{Model: "gpt2", Tokens: append(toks, "he"), Merges: []string{"h e"}, BOS: -1, EOS: -1, UNK: -1, PAD: -1}
	if _, err := FromGGUF(v); err == nil || !strings.Contains(err.Error(), "more than the limit of 256") {
		t.Errorf("FromGGUF: %v, want too many tokens", err)
	}
}

// TestMissingByteTokens: a byte-level vocabulary lacking some of the 256 byte tokens would drop
// the characters holding those bytes. Without an unk_token such a file is refused; with one,
// those bytes encode to unk exactly as in HF tokenizers. Lacking only bytes ordinary text does
// not hold (as SmolLM2 does) is accepted; they are dropped as in HF and reported.
func TestMissingByteTokens(t *testing.T) {
	lacking := func(unk bool, bytes ...byte) map[string]any {
		j := tinyJSON()
		m := j["model"].(map[string]any)
		vocab := m["vocab"].(map[string]any)
		// Drop the bytes' tokens, renumbering so that the ids stay contiguous.
		drop := map[string]bool{}
		for _, b := range bytes {
			drop[string(byteRune[b])] = true
		}
		next := map[string]any{}
		type kv struct {
			k  string
			id int
		}
		var all []kv
		for k, v := range vocab {
			if !drop[k] {
				all = append(all, kv{k, v.(int)})
			}
		}
		slices.SortFunc(all, func(a, b kv) int { return a.id - b.id })
		for i, e := range all {
			next[e.k] = i
		}
		if unk {
			next["<unk>"] = len(all)
			m["unk_token"] = "<unk>"
		}
		m["vocab"] = next
		j["added_tokens"] = []any{}
		return j
	}
	path := writeJSON(t, lacking(false, 'z', 0xC3)) // 0xC3: the first byte of 'é'
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "byte") || !strings.Contains(err.Error(), "0xC3") {
		t.Fatalf("Load: %v, want an error naming %s and the missing bytes", err, path)
	}
	hf := func(path string, texts []string) [][]int64 {
		in, _ := json.Marshal(texts)
		const script = `
import json, sys
from tokenizers import Tokenizer
tok = Tokenizer.from_file(sys.argv[1])
json.dump([tok.encode(s, add_special_tokens=False).ids for s in json.loads(sys.argv[2])], sys.stdout)
`
		var want [][]int64
		if err := json.Unmarshal(testref.RunPython(t, script, path, string(in)), &want); err != nil {
			t.Fatal(err)
		}
		return want
	}
	for _, c := range []struct {
		unk   bool
		bytes []byte
		texts []string
	}{
		{true, []byte{'z', 0xC3}, []string{"hazy", "café zz", "the zebra"}},
		{false, []byte{0x04, 0xF5}, []string{"a\x04b", "\x04\x04 the\x04", "plain"}},
	} {
		path := writeJSON(t, lacking(c.unk, c.bytes...))
		tok, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := tok.UnencodableBytes(); !c.unk && !slices.Equal(got, c.bytes) {
			t.Errorf("UnencodableBytes = %v, want %v", got, c.bytes)
		}
		want := hf(path, c.texts)
		for i, s := range c.texts {
			if got := tok.Encode(s); !slices.Equal(got, want[i]) {
				t.Errorf("Encode(%q) = %v, HF %v", s, got, want[i])
			}
		}
	}
}

// TestGiantWordMemory: a text that is one long pre-token (no spaces) costs memory for its ids,
// not ~75 bytes of BPE scratch per byte: pieces longer than MaxBPEPiece are merged a chunk at a
// time. (HF merges the whole piece; ids can differ from HF only around the chunk boundaries of
// such pieces, see docs/tokenizer.md.)
func TestGiantWordMemory(t *testing.T) {
	tok := benchTokenizer(t)
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 4<<20)
	for i := range b {
		b[i] = byte('a' + r.IntN(26))
	}
	text := string(b)
	b = nil
	runtime.GC()
	base := inputtest.Heap()
	stop := inputtest.Guard(t, 2<<30)
	ids, err := tok.TryEncode(text)
	peak := stop() - min(base, stop())
	if err != nil {
		t.Fatal(err)
	}
	// The ids themselves (8 bytes each, with append's growth and the copy it makes) plus a
	// constant for the scratch space of one chunk.
	bound := uint64(2.5*8*float64(len(ids))) + 16<<20
	t.Logf("%d bytes, %d ids: peak heap %.1f MB over the text (%.1fx the text); bound %.1f MB",
		len(text), len(ids), float64(peak)/1e6, float64(peak)/float64(len(text)), float64(bound)/1e6)
	if peak > bound {
		t.Errorf("peak heap %d bytes exceeds %d", peak, bound)
	}
	if got, _ := tok.Decode(ids); got != text {
		t.Error("Decode(Encode(text)) != text")
	}
}
