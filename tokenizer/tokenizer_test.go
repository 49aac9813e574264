package tokenizer

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tinyJSON is a small but complete byte-level BPE tokenizer.json: the 256 byte tokens, a few
// merges, one special token.
func tinyJSON() map[string]any {
	vocab := map[string]any{}
	for b := range 256 {
		vocab[string(byteRune[b])] = b
	}
	merges := [][]string{{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"Ġ", "t"}, {"Ġt", "h"},
		{"Ġth", "e"}, {"t", "h"}, {"th", "e"}, {"Ġ", "Ġ"}, {"ĠĠ", "ĠĠ"}}
	for _, m := range merges {
		vocab[m[0]+m[1]] = len(vocab)
	}
	return map[string]any{
		"version":    "1.0",
		"truncation": nil, "padding": nil,
		"added_tokens": []any{map[string]any{"id": len(vocab), "content": "<|end|>", "single_word": false,
			"lstrip": false, "rstrip": false, "normalized": false, "special": true}},
		"normalizer":     nil,
		"pre_tokenizer":  map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
		"post_processor": map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
		"decoder":        map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
			"vocab": vocab, "merges": merges},
	}
}

func writeJSON(t testing.TB, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func tinyTokenizer(t testing.TB) *Tokenizer {
	t.Helper()
	tok, err := Load(writeJSON(t, tinyJSON()))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTinyEncode(t *testing.T) {
	tok := tinyTokenizer(t)
	id := func(s string) int64 {
		v, ok := tok.TokenID(s)
		if !ok {
			t.Fatalf("no token %q", s)
		}
		return v
	}
	got := tok.Encode("hello the<|end|>")
	want := []int64{id("hello"), id("Ġt"), id("he"), id("<|end|>")} // "h e" outranks "Ġ t"
	if !equalIDs(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
	if _, err := tok.Decode([]int64{int64(tok.VocabSize())}); err == nil {
		t.Error("Decode accepted an out-of-range id")
	}
	if _, err := tok.Decode([]int64{-1}); err == nil {
		t.Error("Decode accepted a negative id")
	}
	if s, ok := tok.Token(id("Ġthe")); !ok || s != "Ġthe" {
		t.Errorf("Token = %q, %v", s, ok)
	}
	if ids := tok.Encode(""); len(ids) != 0 {
		t.Errorf(`Encode("") = %v`, ids)
	}
	if _, ok := tok.BOS(); ok {
		t.Error("BOS known without tokenizer_config.json")
	}
}

// TestSplitGPT2 pins the pre-tokenizer on the cases the GPT-2 pattern is known for.
func TestSplitGPT2(t *testing.T) {
	cases := map[string][]string{
		"Hello world":       {"Hello", " world"},
		"Hello  world":      {"Hello", " ", " world"},
		"a\n\nb":            {"a", "\n", "\n", "b"},
		"a\n\n":             {"a", "\n\n"},
		"   x":              {"  ", " x"},
		"it's they're I'll": {"it", "'s", " they", "'re", " I", "'ll"},
		"DON'T":             {"DON", "'", "T"},
		"x=12345.6":         {"x", "=", "12345", ".", "6"},
		" 42 ?!":            {" 42", " ?!"},
		"\t\tfoo":           {"\t", "\t", "foo"},
		"a \u00a0b":         {"a", " ", "\u00a0", "b"},
		"東京 タワー":            {"東京", " タワー"},
		"👩‍💻 ok":            {"👩\u200d💻", " ok"},
		"''s":               {"''", "s"},
		"end  ":             {"end", "  "},
		"\xff\xfeab":        {"\xff\xfe", "ab"},
		"x\r\n\r\ny":        {"x", "\r\n\r", "\n", "y"},
		"naïve café":        {"naïve", " café"},
		"e\u0301cole":       {"e", "\u0301", "cole"},
		"":                  nil,
		"'":                 {"'"},
		"'ve":               {"'ve"},
		"'v":                {"'", "v"},
		"x  \n  y":          {"x", "  \n ", " y"},
	}
	for in, want := range cases {
		var got []string
		splitGPT2(in, func(s string) { got = append(got, s) })
		if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Errorf("splitGPT2(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMergeLongMatchesShort checks the heap merge path against the scanning one.
func TestMergeLongMatchesShort(t *testing.T) {
	tok := tinyTokenizer(t)
	st := tok.state()
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("helo t  ")
	for range 300 {
		n := 2 + r.IntN(300)
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		var w1, w2 []int32
		for _, c := range b {
			w1 = append(w1, tok.byteTok[c])
			w2 = append(w2, tok.byteTok[c])
		}
		a := st.mergeLong(w1)
		// Force the scanning path regardless of length.
		bb := mergeScan(st, w2)
		if len(a) != len(bb) {
			t.Fatalf("%q: heap %v, scan %v", b, a, bb)
		}
		for i := range a {
			if a[i] != bb[i] {
				t.Fatalf("%q: heap %v, scan %v", b, a, bb)
			}
		}
	}
}

// mergeScan is the plain definition of BPE merging (lowest rank, leftmost first), for any length.
func mergeScan(st *encState, w []int32) []int32 {
	m := st.t.merges
	for len(w) > 1 {
		best, bi := noMerge, -1
		for i := 0; i+1 < len(w); i++ {
			if v := lookup(m, w[i], w[i+1]); v < best {
				best, bi = v, i
			}
		}
		if bi < 0 {
			break
		}
		w[bi] = int32(uint32(best))
		w = append(w[:bi+1], w[bi+2:]...)
	}
	return w
}

func TestDecodeRoundTrip(t *testing.T) {
	tok := tinyTokenizer(t)
	for _, s := range []string{"", "plain", "  spaced  out  ", "tabs\tand\nnewlines\r\n", "ünïcödé 東京 👩‍💻",
		"<|end|><|end|>x<|end", genText(9, 20_000, []string{"<|end|>"})} {
		got, err := tok.Decode(tok.Encode(s))
		if err != nil || got != s {
			t.Errorf("round trip of %.40q: got %.40q, %v", s, got, err)
		}
	}
	// Invalid UTF-8 decodes the way Rust's from_utf8_lossy does: one U+FFFD per maximal subpart.
	ids := tok.Encode("a\xe2\x82b\xf0\x9f\x98\xff")
	got, _ := tok.Decode(ids)
	if want := "a\uFFFDb\uFFFD\uFFFD"; got != want {
		t.Errorf("lossy decode = %q, want %q", got, want)
	}
}

func TestEncodeBatchMatchesEncode(t *testing.T) {
	tok := tinyTokenizer(t)
	texts := splitDocs(genText(4, 30_000, []string{"<|end|>"}), 4)
	got := tok.EncodeBatch(texts)
	for i, s := range texts {
		if !equalIDs(got[i], tok.Encode(s)) {
			t.Fatalf("document %d differs between EncodeBatch and Encode", i)
		}
	}
}

// TestLoadErrors: each broken file is rejected with a message naming the file and the problem.
func TestLoadErrors(t *testing.T) {
	type edit func(j map[string]any)
	model := func(j map[string]any) map[string]any { return j["model"].(map[string]any) }
	vocab := func(j map[string]any) map[string]any { return model(j)["vocab"].(map[string]any) }
	cases := []struct {
		name string
		raw  string // used instead of the edited tiny file when set
		edit edit
		want string
	}{
		{name: "malformed JSON", raw: `{"model": {`, want: "malformed JSON"},
		{name: "not an object", raw: `[1, 2]`, want: "malformed JSON"},
		{name: "missing model", edit: func(j map[string]any) { delete(j, "model") }, want: "missing model"},
		{name: "unsupported model", edit: func(j map[string]any) { model(j)["type"] = "WordPiece" }, want: `unsupported model type "WordPiece"`},
		{name: "byte fallback", edit: func(j map[string]any) { model(j)["byte_fallback"] = true }, want: "byte_fallback"},
		{name: "dropout", edit: func(j map[string]any) { model(j)["dropout"] = 0.1 }, want: "dropout"},
		{name: "unknown merge token", edit: func(j map[string]any) {
			model(j)["merges"] = append(model(j)["merges"].([][]string), []string{"zz", "q"})
		}, want: `uses "zz", which is not in the vocab`},
		{name: "merge result missing", edit: func(j map[string]any) {
			model(j)["merges"] = append(model(j)["merges"].([][]string), []string{"q", "q"})
		}, want: `produces "qq", which is not in the vocab`},
		{name: "bad merge string", edit: func(j map[string]any) { model(j)["merges"] = []string{"h e x"} }, want: "not two tokens"},
		{name: "unsupported pre-tokenizer", edit: func(j map[string]any) {
			j["pre_tokenizer"] = map[string]any{"type": "Whitespace"}
		}, want: `unsupported pre-tokenizer "Whitespace"`},
		{name: "null pre-tokenizer", edit: func(j map[string]any) { j["pre_tokenizer"] = nil }, want: "pre-tokenizer null"},
		{name: "ByteLevel not last", edit: func(j map[string]any) {
			j["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
				map[string]any{"type": "ByteLevel"}, map[string]any{"type": "Digits"}}}
		}, want: "ByteLevel"},
		{name: "normalizer", edit: func(j map[string]any) { j["normalizer"] = map[string]any{"type": "Lowercase"} }, want: `unsupported normalizer "Lowercase"`},
		{name: "regex Replace normalizer", edit: func(j map[string]any) {
			j["normalizer"] = map[string]any{"type": "Replace", "pattern": map[string]any{"Regex": " +"}, "content": " "}
		}, want: "unsupported Replace"},
		{name: "Metaspace with ByteLevel decoder", edit: func(j map[string]any) {
			j["pre_tokenizer"] = map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true}
		}, want: `pre-tokenizer "Metaspace" with a ByteLevel decoder`},
		{name: "Metaspace and ByteLevel", edit: func(j map[string]any) {
			j["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
				map[string]any{"type": "Metaspace", "replacement": "▁"}, map[string]any{"type": "ByteLevel"}}}
		}, want: "one ByteLevel"},
		{name: "character-level decoder", edit: func(j map[string]any) {
			j["pre_tokenizer"] = map[string]any{"type": "Metaspace", "replacement": "▁"}
			j["decoder"] = map[string]any{"type": "WordPiece"}
		}, want: `unsupported decoder "WordPiece"`},
		{name: "decoder", edit: func(j map[string]any) { j["decoder"] = map[string]any{"type": "WordPiece"} }, want: `unsupported decoder "WordPiece"`},
		{name: "post-processor", edit: func(j map[string]any) { j["post_processor"] = map[string]any{"type": "BertProcessing"} }, want: `unsupported post-processor "BertProcessing"`},
		{name: "truncation", edit: func(j map[string]any) { j["truncation"] = map[string]any{"max_length": 5} }, want: "truncation"},
		{name: "duplicate vocab id", edit: func(j map[string]any) { vocab(j)["he"] = 0 }, want: "vocab id 0 is given to both"},
		{name: "vocab id gap", edit: func(j map[string]any) { vocab(j)["he"] = 5000 }, want: "not contiguous"},
		{name: "negative id", edit: func(j map[string]any) { vocab(j)["he"] = -3 }, want: "out of range"},
		{name: "added id collides", edit: func(j map[string]any) {
			j["added_tokens"].([]any)[0].(map[string]any)["id"] = 3
		}, want: "already belongs to"},
		{name: "added token contradicts vocab", edit: func(j map[string]any) {
			j["added_tokens"] = append(j["added_tokens"].([]any), map[string]any{"id": 999, "content": "he"})
		}, want: `added token "he" has id 999 but the vocab gives it id`},
		{name: "unk not in vocab", edit: func(j map[string]any) { model(j)["unk_token"] = "<unk>" }, want: `unk_token "<unk>"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var path string
			if c.raw != "" {
				path = filepath.Join(t.TempDir(), "tokenizer.json")
				if err := os.WriteFile(path, []byte(c.raw), 0o644); err != nil {
					t.Fatal(err)
				}
			} else {
				j := tinyJSON()
				c.edit(j)
				path = writeJSON(t, j)
			}
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q should name %s and say %q", err, path, c.want)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "absent.json")); err == nil || !strings.Contains(err.Error(), "absent.json") {
		t.Errorf("missing file: %v", err)
	}
}

func TestFromGGUFErrors(t *testing.T) {
	base := func() GGUFVocab {
		var toks []string
		for b := range 256 {
			toks = append(toks, string(byteRune[b]))
		}
		return GGUFVocab{Model: "gpt2", Pre: "smollm", Tokens: append(toks, "he"), Merges: []string{"h e"},
			BOS: -1, EOS: -1, UNK: -1, PAD: -1}
	}
	if _, err := FromGGUF(base()); err != nil {
		t.Fatalf("valid metadata rejected: %v", err)
	}
	cases := []struct {
		name string
		edit func(v *GGUFVocab)
		want string
	}{
		{"model", func(v *GGUFVocab) { v.Model = "llama" }, `unsupported tokenizer.ggml.model "llama"`},
		{"pre", func(v *GGUFVocab) { v.Pre = "tekken" }, `unsupported tokenizer.ggml.pre "tekken"`},
		{"merge", func(v *GGUFVocab) { v.Merges = []string{"x y"} }, `produces "xy"`},
		{"merge format", func(v *GGUFVocab) { v.Merges = []string{"xy"} }, "not two tokens"},
		{"dup token", func(v *GGUFVocab) { v.Tokens = append(v.Tokens, "he") }, `both "he"`},
		{"types", func(v *GGUFVocab) { v.TokenTypes = []int32{1} }, "token types"},
		{"bos", func(v *GGUFVocab) { v.BOS = 100000 }, "out of range"},
		{"add bos", func(v *GGUFVocab) { v.AddBOS = true }, "out of range"},
		{"empty", func(v *GGUFVocab) { v.Tokens = nil }, "no tokens"},
	}
	for _, c := range cases {
		v := base()
		c.edit(&v)
		_, err := FromGGUF(v)
		if err == nil || !strings.Contains(err.Error(), "GGUF") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning GGUF and %q", c.name, err, c.want)
		}
	}
}
