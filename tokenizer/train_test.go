package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/growthtrain/growthtrain/internal/testref"
)

// trainGen trains on generated text, failing the test on error.
func trainGen(tb testing.TB, texts []string, opts TrainOptions) *Tokenizer {
	tb.Helper()
	tok, err := Train(texts, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// TestTrainKnownAnswer: on a tiny corpus the merges are the most frequent pairs, in order, with
// ties going to the smaller ids.
func TestTrainKnownAnswer(t *testing.T) {
	// One pre-token "aaabdaaabac" (no spaces): pairs aa×4, ab×2, ba, bd, da, ac.
	tok := trainGen(t, []string{"aaabdaaabac"}, TrainOptions{VocabSize: 256 + 3, MinFrequency: 1})
	// After "a a": (aa,a)×2 ties with (a,b)×2, and "a" "b" has the smaller ids.
	want := [][2]string{{"a", "a"}, {"a", "b"}, {"aa", "ab"}}
	if !reflect.DeepEqual(tok.mergeList, want) {
		t.Fatalf("merges = %q, want %q", tok.mergeList, want)
	}
	// Counts with overlaps: "aaaa" holds "a a" three times, so it beats "b c" (twice).
	tok = trainGen(t, []string{"aaaa bc bc"}, TrainOptions{VocabSize: 256 + 1, MinFrequency: 1})
	if want := [][2]string{{"a", "a"}}; !reflect.DeepEqual(tok.mergeList, want) {
		t.Errorf("merges = %q, want %q", tok.mergeList, want)
	}
	// Ties: "Ġ" and "x" pairs each twice; "x" (0x78) comes before "Ġ" (0x120) in the alphabet,
	// so "x y" (ids smaller) wins over "Ġ x".
	tok = trainGen(t, []string{"xy xy"}, TrainOptions{VocabSize: 256 + 1, MinFrequency: 1})
	if want := [][2]string{{"x", "y"}}; !reflect.DeepEqual(tok.mergeList, want) {
		t.Errorf("tie: merges = %q, want %q", tok.mergeList, want)
	}
	// Ids: bytes in code point order of their byte-level runes, merges after.
	if id, _ := tok.TokenID("!"); id != 0 {
		t.Errorf(`id of "!" = %d, want 0`, id)
	}
	if id, _ := tok.TokenID("Ā"); id != 188 { // byte 0: first rune moved to U+0100
		t.Errorf(`id of "Ā" = %d, want 188`, id)
	}
	if id, _ := tok.TokenID("xy"); id != 256 {
		t.Errorf(`id of "xy" = %d, want 256`, id)
	}
	if got, want := tok.Encode("xy x"), []int64{256, int64(tok.byteTok[' ']), int64(tok.byteTok['x'])}; !reflect.DeepEqual(got, want) {
		t.Errorf(`Encode("xy x") = %v, want %v`, got, want)
	}
}

func TestTrainDeterministic(t *testing.T) {
	text := genText(11, 60_000, nil)
	opts := TrainOptions{VocabSize: 1200, SpecialTokens: []string{"<|endoftext|>"}}
	a := trainGen(t, []string{text}, opts)
	// The same text cut into many texts where the pre-tokenizer cuts anyway (counted on several
	// goroutines, in another order).
	b := trainGen(t, appendChunks(nil, text, 500), opts)
	c := trainGen(t, []string{text}, opts)
	if !reflect.DeepEqual(a.mergeList, c.mergeList) || !reflect.DeepEqual(a.tokens, c.tokens) {
		t.Fatal("two trainings on the same text differ")
	}
	if !reflect.DeepEqual(a.mergeList, b.mergeList) {
		t.Errorf("merges differ between one text and the same text in %d pieces", len(appendChunks(nil, text, 500)))
	}
	if len(a.mergeList) != 1200-257 {
		t.Errorf("%d merges, want %d", len(a.mergeList), 1200-257)
	}
}

// TestTrainChunking: counting long texts in chunks gives exactly the pieces of the whole text.
func TestTrainChunking(t *testing.T) {
	text := genText(12, 300_000, []string{"<|endoftext|>"})
	chunks := appendChunks(nil, text, 4096)
	if len(chunks) < 20 || strings.Join(chunks, "") != text {
		t.Fatalf("appendChunks: %d chunks, rejoined equal: %v", len(chunks), strings.Join(chunks, "") == text)
	}
	for _, digits := range []bool{false, true} {
		steps := []preStep{byteLevelStep{useRegex: true}}
		if digits {
			steps = []preStep{digitsStep{individual: true}, byteLevelStep{useRegex: true}}
		}
		whole := countWords([]string{text}, steps, func(int) {})
		parts := countWords(chunks, steps, func(int) {})
		if !reflect.DeepEqual(whole, parts) {
			t.Errorf("digits=%v: pre-token counts of chunks differ from the whole text", digits)
		}
	}
}

func TestTrainVocabSizeAndSpecials(t *testing.T) {
	text := genText(13, 100_000, []string{"<|endoftext|>", "<pad>"})
	specials := []string{"<|endoftext|>", "<pad>", "<|im_start|>"}
	var calls, last, lastTotal int
	tok := trainGen(t, []string{text}, TrainOptions{VocabSize: 1000, SpecialTokens: specials,
		Progress: func(done, total int) { calls++; last, lastTotal = done, total }})
	if tok.VocabSize() != 1000 {
		t.Errorf("VocabSize() = %d, want 1000", tok.VocabSize())
	}
	if calls == 0 || last != lastTotal {
		t.Errorf("Progress: %d calls, last %d/%d", calls, last, lastTotal)
	}
	for i, s := range specials {
		if id, ok := tok.TokenID(s); !ok || id != int64(i) {
			t.Errorf("TokenID(%q) = %d, %v; want %d", s, id, ok, i)
		}
		if a := tok.AddedTokens()[i]; a.Content != s || !a.Special || a.ID != int64(i) {
			t.Errorf("added token %d = %+v", i, a)
		}
	}
	if id, ok := tok.EOS(); !ok || id != 0 {
		t.Errorf("EOS() = %d, %v", id, ok)
	}
	if id, ok := tok.BOS(); !ok || id != 0 {
		t.Errorf("BOS() = %d, %v", id, ok)
	}
	got := tok.Encode("hello<|endoftext|><pad>world<|im_start|>")
	if len(got) < 5 || got[len(got)-1] != 2 || !containsRun(got, []int64{0, 1}) {
		t.Errorf("special tokens not matched in text: %v", got)
	}
	// No merge may reach across a special token, nor build one.
	for _, m := range tok.mergeList {
		if strings.Contains(m[0]+m[1], "endoftext|") {
			t.Errorf("merge %q spans a special token", m)
		}
	}
	// The vocabulary's ids are contiguous and the merged tokens decode to what they spell.
	for id := int64(0); id < int64(tok.VocabSize()); id++ {
		if _, ok := tok.Token(id); !ok {
			t.Fatalf("id %d has no token", id)
		}
	}
}

func containsRun(ids, run []int64) bool {
	for i := 0; i+len(run) <= len(ids); i++ {
		if reflect.DeepEqual(ids[i:i+len(run)], run) {
			return true
		}
	}
	return false
}

// TestTrainMinFrequency: training stops when the best pair is rarer than MinFrequency.
func TestTrainMinFrequency(t *testing.T) {
	text := strings.Repeat("hello world ", 5) + "abcdefgh ijklmnop"
	tok := trainGen(t, []string{text}, TrainOptions{VocabSize: 10_000, MinFrequency: 3})
	if tok.VocabSize() >= 10_000 || len(tok.mergeList) == 0 {
		t.Fatalf("VocabSize() = %d with %d merges; want an early stop after some merges", tok.VocabSize(), len(tok.mergeList))
	}
	for _, id := range tok.Encode(" abcdefgh") {
		if s, _ := tok.Token(id); utf8.RuneCountInString(s) != 1 {
			t.Errorf("rare text got merged token %q", s)
		}
	}
	if got := tok.Encode("hello world"); len(got) != 2 {
		t.Errorf(`Encode("hello world") = %v, want 2 tokens`, got)
	}
	// With MinFrequency 1 the once-seen words are merged too.
	tok1 := trainGen(t, []string{text}, TrainOptions{VocabSize: 10_000, MinFrequency: 1})
	if len(tok1.mergeList) <= len(tok.mergeList) || len(tok1.Encode(" abcdefgh")) != 1 {
		t.Errorf("MinFrequency 1: %d merges, abcdefgh → %v", len(tok1.mergeList), tok1.Encode(" abcdefgh"))
	}
}

func TestTrainRoundTrip(t *testing.T) {
	tok := trainGen(t, []string{genText(14, 40_000, nil)}, TrainOptions{VocabSize: 800, SplitDigits: true})
	for _, s := range []string{
		"", " ", "\n\n\n", "\t \t\r\n", "   leading and trailing   ", "emoji 👩‍👩‍👧‍👦🇯🇵🏳️‍🌈 ok",
		"東京は日本の首都です。", "Ω≈ç√∫˜µ≤≥÷", "\u00a0\u2028\u200b\ufeff", "\x00\x01\x7f control",
		"never seen: ǅǆǇ ꙮ 𓀀 𝔘𝔫𝔦", "numbers 1234567890 ١٢٣", genText(99, 5000, []string{"<s>"}),
	} {
		ids := tok.Encode(s)
		if got, err := tok.Decode(ids); err != nil || got != s {
			t.Errorf("Decode(Encode(%.40q)) = %.40q, %v", s, got, err)
		}
	}
	// SplitDigits: no merged token holds a digit next to anything.
	for _, m := range tok.mergeList {
		if strings.ContainsAny(m[0]+m[1], "0123456789") {
			t.Errorf("SplitDigits: merge %q involves a digit", m)
		}
	}
}

// TestTrainCompression: on held-out English prose the trained tokenizer needs far fewer tokens
// than bytes.
func TestTrainCompression(t *testing.T) {
	tok := trainGen(t, []string{genText(15, 150_000, nil)}, TrainOptions{VocabSize: 2000})
	held := "The quick brown fox jumps over the lazy dog, and they said that it was time for the " +
		"model to use what we can from training. When all of their words were out, she said: " +
		"I'm sure the tokenizer is one of the things that is working well with this training."
	ids := tok.Encode(held)
	ratio := float64(len(ids)) / float64(len(held))
	t.Logf("held-out English: %d bytes → %d tokens (%.3f tokens/byte)", len(held), len(ids), ratio)
	if ratio > 0.35 {
		t.Errorf("%.3f tokens/byte on held-out English; want well under 1 (at most 0.35)", ratio)
	}
}

func TestTrainErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		texts []string
		opts  TrainOptions
		want  string
	}{
		{"small vocab", []string{"abc"}, TrainOptions{VocabSize: 255}, "vocab size 255 is too small"},
		{"small vocab specials", []string{"abc"}, TrainOptions{VocabSize: 257, SpecialTokens: []string{"<a>", "<b>"}}, "need at least 258"},
		{"empty corpus", nil, TrainOptions{VocabSize: 300}, "empty corpus"},
		{"empty strings", []string{"", ""}, TrainOptions{VocabSize: 300}, "empty corpus"},
		{"only specials", []string{"<s><s>"}, TrainOptions{VocabSize: 300, SpecialTokens: []string{"<s>"}}, "no text outside the special tokens"},
		{"empty special", []string{"abc"}, TrainOptions{VocabSize: 300, SpecialTokens: []string{""}}, "special token 0 is empty"},
		{"duplicate special", []string{"abc"}, TrainOptions{VocabSize: 300, SpecialTokens: []string{"<s>", "<s>"}}, `"<s>" given twice`},
		{"byte special", []string{"abc"}, TrainOptions{VocabSize: 300, SpecialTokens: []string{"a"}}, "one of the 256 byte tokens"},
		{"negative min frequency", []string{"abc"}, TrainOptions{VocabSize: 300, MinFrequency: -1}, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Train(tc.texts, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	// Exactly 256 + specials is allowed: bytes only, no merges.
	tok, err := Train([]string{"abcabc"}, TrainOptions{VocabSize: 257, SpecialTokens: []string{"<s>"}})
	if err != nil || tok.VocabSize() != 257 || len(tok.mergeList) != 0 {
		t.Errorf("minimal vocab: %v", err)
	}
}

// hfTrainScript trains HF's BpeTrainer the way Train works and prints its merges.
const hfTrainScript = `
import sys, json
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
path, vocab, specials, digits = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4] == "1"
tok = Tokenizer(models.BPE())
bl = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), bl]) if digits else bl
trainer = trainers.BpeTrainer(vocab_size=vocab, min_frequency=2, special_tokens=specials,
    initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
tok.train_from_iterator([open(path, encoding="utf-8", newline="").read()], trainer)
j = json.loads(tok.to_str())
json.dump({"merges": j["model"]["merges"], "vocab": j["model"]["vocab"]}, sys.stdout, ensure_ascii=False)
`

// TestTrainHFParity trains on generated text, saves, and has HF tokenizers load the file and
// encode another generated text (with the special tokens sprinkled in): ids and decoding must
// match ours. It also trains HF's own BpeTrainer on the same text: the merges must agree up to
// the first merge whose result HF already had (HF then re-queues only the newly formed
// occurrences, a bookkeeping difference that changes later merges), and the vocabularies must
// mostly overlap.
func TestTrainHFParity(t *testing.T) {
	specials := []string{"<|endoftext|>", "<pad>"}
	trainText := genText(21, 100_000, nil)
	trainPath := filepath.Join(t.TempDir(), "train.txt")
	if err := os.WriteFile(trainPath, []byte(trainText), 0o644); err != nil {
		t.Fatal(err)
	}
	c := writeCorpus(t, "trainparity", 22, 100_000, specials)
	for _, digits := range []bool{false, true} {
		name := map[bool]string{false: "bytelevel", true: "splitdigits"}[digits]
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			tok := trainGen(t, []string{trainText}, TrainOptions{VocabSize: 1500, SpecialTokens: specials, SplitDigits: digits})
			t.Logf("trained %d merges in %v", len(tok.mergeList), time.Since(start))
			path := filepath.Join(t.TempDir(), "tokenizer.json")
			if err := tok.Save(path); err != nil {
				t.Fatal(err)
			}
			again, err := Load(path)
			if err != nil {
				t.Fatalf("Load(saved): %v", err)
			}
			checkParity(t, again, c, hfEncode(t, path, c))
			compareIDs(t, tok, "trained vs saved-and-loaded", tok.Encode(c.text), again.Encode(c.text))

			sp, _ := json.Marshal(specials)
			out := testref.RunPython(t, hfTrainScript, trainPath, "1500", string(sp), map[bool]string{false: "0", true: "1"}[digits])
			var ref struct {
				Merges [][2]string      `json:"merges"`
				Vocab  map[string]int64 `json:"vocab"`
			}
			if err := json.Unmarshal(out, &ref); err != nil {
				t.Fatalf("reference output: %v", err)
			}
			seen := map[string]bool{}
			for _, b := range byteRune {
				seen[string(b)] = true
			}
			n := 0
			for n < len(ref.Merges) && !seen[ref.Merges[n][0]+ref.Merges[n][1]] {
				seen[ref.Merges[n][0]+ref.Merges[n][1]] = true
				n++
			}
			n = min(n, len(tok.mergeList))
			if !reflect.DeepEqual(tok.mergeList[:n], ref.Merges[:n]) {
				for i := range n {
					if tok.mergeList[i] != ref.Merges[i] {
						t.Fatalf("merge %d: ours %q, HF %q", i, tok.mergeList[i], ref.Merges[i])
					}
				}
			}
			common := 0
			for s := range ref.Vocab {
				if _, ok := tok.vocab[s]; ok {
					common++
				}
			}
			t.Logf("first %d merges identical to HF BpeTrainer; vocab overlap %d of %d (HF %d)", n, common, tok.VocabSize(), len(ref.Vocab))
			if n == len(ref.Merges) && len(tok.mergeList) != n {
				t.Errorf("%d merges, HF made %d", len(tok.mergeList), n)
			}
			if n < 200 {
				t.Errorf("only the first %d merges could be compared with HF", n)
			}
			if common < tok.VocabSize()*95/100 {
				t.Errorf("vocab overlap with HF BpeTrainer %d of %d, want ≥ 95%%", common, tok.VocabSize())
			}
		})
	}
}

// TestTrainSpeed times a training run on a large text file named by GROWTHTRAIN_TRAIN_CORPUS
// (opt-in; for the throughput figure in docs/tokenizer.md).
func TestTrainSpeed(t *testing.T) {
	path := os.Getenv("GROWTHTRAIN_TRAIN_CORPUS")
	if path == "" {
		t.Skip("set GROWTHTRAIN_TRAIN_CORPUS to a text file to time training")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	tok := trainGen(t, []string{string(data)}, TrainOptions{VocabSize: 8192, SpecialTokens: []string{"<|endoftext|>"}})
	d := time.Since(start)
	ids := tok.EncodeBatch([]string{string(data)})[0]
	t.Logf("%d bytes → vocab %d, %d merges in %v (%.1f MB/s); %.4f tokens/byte", len(data), tok.VocabSize(),
		len(tok.mergeList), d, float64(len(data))/1e6/d.Seconds(), float64(len(ids))/float64(len(data)))
}
