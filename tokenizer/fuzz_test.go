package tokenizer

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/growthtrain/growthtrain/model/gguf"
)

// Fuzz targets for everything a downloaded tokenizer brings: tokenizer.json (FuzzLoad), its
// Split regexes (FuzzSplitRegex), GGUF tokenizer metadata (FuzzLoadGGUF), and encoding
// (FuzzEncode). Each checks invariants, not only the absence of panics, and is bounded per
// input: the regex budget is shortened so that a catastrophic pattern costs milliseconds.
// Seed corpora: testdata/fuzz/<FuzzName>/.

// fuzzRegexBudget shortens the Split budget for the fuzz targets (not restored: fuzz workers run
// only fuzz inputs).
func fuzzRegexBudget() {
	regexBudget.base, regexBudget.perByte = 20*time.Millisecond, time.Microsecond
}

// roundTrips reports whether Decode(Encode(s)) == s must hold for valid UTF-8 s without
// UnencodableBytes: no prefix space is added, no Split removes text, no added token strips
// whitespace, and no byte encodes to unk.
func roundTrips(t *Tokenizer) bool {
	if t.unk >= 0 {
		return false
	}
	for _, s := range t.steps {
		switch st := s.(type) {
		case byteLevelStep:
			if st.addPrefixSpace {
				return false
			}
		case regexSplitStep:
			if st.behavior == behRemoved {
				return false
			}
		}
	}
	for _, a := range t.added {
		if a.LStrip || a.RStrip {
			return false
		}
	}
	return true
}

// checkEncode encodes s and checks what must hold for any accepted tokenizer: ids in range, a
// failure only from a Split regex running out of time, and the round trip where it applies.
func checkEncode(t *testing.T, tok *Tokenizer, s string) {
	ids, err := tok.TryEncode(s)
	if err != nil {
		if !errors.Is(err, ErrRegexTimeout) {
			t.Fatalf("TryEncode(%q): %v", s, err)
		}
		return
	}
	for _, id := range ids {
		if id < 0 || id >= int64(tok.VocabSize()) {
			t.Fatalf("Encode(%q) gives id %d outside [0, %d)", s, id, tok.VocabSize())
		}
	}
	got, err := tok.Decode(ids)
	if err != nil {
		t.Fatalf("Decode of Encode(%q): %v", s, err)
	}
	if !utf8.ValidString(s) || !roundTrips(tok) {
		return
	}
	for _, b := range tok.UnencodableBytes() {
		if strings.IndexByte(s, b) >= 0 {
			return
		}
	}
	if got != s {
		t.Fatalf("round trip: %q -> %v -> %q", s, ids, got)
	}
}

func FuzzLoad(f *testing.F) {
	good, _ := json.Marshal(tinyJSON())
	f.Add(good, "hello world 123 <|end|>")
	split, _ := json.Marshal(splitJSON(llama3Split))
	f.Add(split, "it's 2024\n\n  x")
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a a"]}}`), "a")
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]},
		"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "(a|b"}, "behavior": "Isolated"}]},
		"decoder": {"type": "ByteLevel"}}`), "ab")
	// SentencePiece-style: Metaspace, byte_fallback, <0xXX> tokens, the HF decoder chain; and a
	// normalizer with a normalized added token.
	f.Add([]byte(`{"added_tokens": [{"id": 0, "content": "<unk>", "special": true}], "normalizer": {"type": "NFKC"},
		"pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false},
		"decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
			{"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
		"model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": true,
			"vocab": {"<unk>": 0, "<0xE2>": 1, "<0x96>": 2, "<0x81>": 3, "▁": 4, "a": 5, "▁a": 6},
			"merges": [["▁", "a"]]}}`), " a aa ﬁ 東")
	f.Add([]byte(`{"added_tokens": [{"id": 3, "content": "ﬁx", "normalized": true}],
		"normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
		"pre_tokenizer": null, "decoder": {"type": "Metaspace", "replacement": "▁"},
		"model": {"type": "BPE", "unk_token": "<unk>", "vocab": {"<unk>": 0, "▁": 1, "x": 2}, "merges": []}}`), "x ﬁx")
	f.Add([]byte(`{"added_tokens": [{"id": -1}], "model": null}`), "")
	f.Add([]byte(`null`), "")
	fuzzRegexBudget()
	f.Fuzz(func(t *testing.T, data []byte, text string) {
		sp, err := parseJSON("fuzz.json", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "tokenizer: fuzz.json: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		tok, err := build(sp)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "tokenizer: fuzz.json: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if tok.VocabSize() == 0 {
			t.Fatal("accepted a tokenizer without tokens")
		}
		for id := range int64(tok.VocabSize()) {
			if _, ok := tok.Token(id); !ok {
				t.Fatalf("id %d of %d has no token", id, tok.VocabSize())
			}
		}
		checkEncode(t, tok, text)
		checkEncode(t, tok, "hello world 123 <|end|>")
	})
}

func FuzzEncode(f *testing.F) {
	plain := tinyTokenizer(f)
	split, err := Load(writeJSON(f, splitJSON(llama3Split)))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", "hello", "  the   the\n\n", "<|end|>", "it's 123", "\xff\xfe", "東京👩‍💻", "\r\n\t ",
		strings.Repeat("ab", 40000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkEncode(t, plain, s)
		checkEncode(t, split, s)
		// Encoding a text whole or cut at an added token gives the same ids.
		if i := strings.Index(s, "<|end|>"); i >= 0 {
			whole := plain.Encode(s)
			parts := append(plain.Encode(s[:i]), plain.Encode(s[i:])...)
			if !equalIDs(whole, parts) {
				t.Fatalf("%q: cutting at the added token changes the ids", s)
			}
		}
	})
}

// FuzzSplitRegex fuzzes a Split pattern, its behaviour and the text it splits.
func FuzzSplitRegex(f *testing.F) {
	for _, p := range []string{llama3Split, qwen2Split, `\s+`, `(a+)+$`, `(\d|\d\d)+$`, `x*`, `(?=c)|b`, `[a-z-[aeiou]]+`, `(?<w>\w)\k<w>`} {
		f.Add(p, byte(1), false, "hello world 123 aaaa!")
	}
	f.Add(`(a|aa)+$`, byte(0), true, strings.Repeat("a", 30)+"b")
	fuzzRegexBudget()
	f.Fuzz(func(t *testing.T, pattern string, behavior byte, invert bool, text string) {
		re, err := compileSplit(pattern)
		if err != nil {
			return
		}
		beh := splitBehavior(behavior % 5)
		step := regexSplitStep{re: re, behavior: beh, invert: invert}
		var pieces []string
		err = step.split(text, func(p string) { pieces = append(pieces, p) })
		if err != nil {
			if !errors.Is(err, ErrRegexTimeout) && errors.Unwrap(err) == nil {
				t.Fatalf("split error that is neither a timeout nor wraps regexp2's: %v", err)
			}
			if len(err.Error()) > 2*MaxPatternLen {
				t.Fatalf("the error message is %d bytes (it quotes the input?)", len(err.Error()))
			}
			return
		}
		for _, p := range pieces {
			if p == "" {
				t.Fatal("empty piece")
			}
		}
		joined := strings.Join(pieces, "")
		if beh != behRemoved {
			if joined != text {
				t.Fatalf("pieces %q do not make up the text %q", pieces, text)
			}
			return
		}
		// Removed: the pieces are the text's non-delimiter parts, in order.
		rest := text
		for _, p := range pieces {
			i := strings.Index(rest, p)
			if i < 0 {
				t.Fatalf("piece %q is not in the rest of the text %q", p, rest)
			}
			rest = rest[i+len(p):]
		}
	})
}

// ggufImage encodes a GGUF v3 file holding only tokenizer metadata.
func ggufImage(tokens, merges []string, pre string) []byte {
	le32 := func(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }
	le64 := func(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }
	str := func(b []byte, s string) []byte { return append(le64(b, uint64(len(s))), s...) }
	strs := func(b []byte, ss []string) []byte {
		b = le64(le32(b, uint32(gguf.ValueString)), uint64(len(ss)))
		for _, s := range ss {
			b = str(b, s)
		}
		return b
	}
	b := le32([]byte("GGUF"), 3)
	b = le64(le64(b, 0), 4)
	b = le32(str(b, "tokenizer.ggml.model"), uint32(gguf.ValueString))
	b = str(b, "gpt2")
	b = le32(str(b, "tokenizer.ggml.pre"), uint32(gguf.ValueString))
	b = str(b, pre)
	b = le32(str(b, "tokenizer.ggml.tokens"), uint32(gguf.ValueArray))
	b = strs(b, tokens)
	b = le32(str(b, "tokenizer.ggml.merges"), uint32(gguf.ValueArray))
	return strs(b, merges)
}

// FuzzLoadGGUF fuzzes a GGUF file read for its tokenizer (gguf.Parse, VocabFromGGUF, FromGGUF).
func FuzzLoadGGUF(f *testing.F) {
	var toks []string
	for b := range 256 {
		toks = append(toks, string(byteRune[b]))
	}
	toks = append(toks, "he", "ll", "hell", "hello")
	merges := []string{"h e", "l l", "he ll", "hell o"}
	f.Add(ggufImage(toks, merges, "smollm"), "hello world")
	f.Add(ggufImage(toks, merges, "llama3"), "hello 123")
	f.Add(ggufImage(toks[:200], nil, "gpt2"), "x")
	f.Add(ggufImage([]string{"a", "a"}, nil, ""), "a")
	fuzzRegexBudget()
	f.Fuzz(func(t *testing.T, data []byte, text string) {
		gf, err := gguf.Parse("fuzz.gguf", data)
		if err != nil {
			return
		}
		v, err := VocabFromGGUF(gf.Metadata)
		if err != nil {
			return
		}
		tok, err := FromGGUF(v)
		if err != nil {
			if !strings.Contains(err.Error(), "GGUF tokenizer metadata") {
				t.Fatalf("error does not say where it comes from: %v", err)
			}
			return
		}
		if tok.VocabSize() != len(v.Tokens) {
			t.Fatalf("%d tokens in the file, VocabSize %d", len(v.Tokens), tok.VocabSize())
		}
		checkEncode(t, tok, text)
	})
}
