package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
)

// GGUFVocab is the tokenizer described by a GGUF file's tokenizer.ggml.* metadata.
type GGUFVocab struct {
	Model          string   // tokenizer.ggml.model; only "gpt2" (byte-level BPE) is supported
	Pre            string   // tokenizer.ggml.pre, e.g. "smollm"
	Tokens         []string // tokenizer.ggml.tokens, indexed by id
	TokenTypes     []int32  // tokenizer.ggml.token_type (1 normal, 3 control, 4 user-defined, ...); may be empty
	Merges         []string // tokenizer.ggml.merges, "a b" in rank order
	BOS            int64    // tokenizer.ggml.bos_token_id, -1 when absent
	EOS            int64    // tokenizer.ggml.eos_token_id, -1 when absent
	UNK            int64    // tokenizer.ggml.unknown_token_id, -1 when absent
	PAD            int64    // tokenizer.ggml.padding_token_id, -1 when absent
	AddBOS         bool     // tokenizer.ggml.add_bos_token
	AddEOS         bool     // tokenizer.ggml.add_eos_token
	AddSpacePrefix bool     // tokenizer.ggml.add_space_prefix (false when absent)
}

// GGUF token types, as llama.cpp writes them.
const (
	ggufControl     = 3
	ggufUserDefined = 4
)

// Split patterns transformers uses for the GGUF pre-tokenizer types it knows
// (transformers/integrations/gguf/gguf_tokenizer_mapping.py, GGUF_PRE_TOKENIZER_SPLITS).
const (
	llama3Split = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}` +
		`| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	qwen2Split = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}` +
		`| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

var ggufSplits = map[string]string{
	"llama3": llama3Split, "llama-v3": llama3Split, "llama-bpe": llama3Split, "falcon3": llama3Split,
	"falcon-h1": llama3Split, "pixtral": llama3Split, "midm-2.0": llama3Split, "lfm2": llama3Split,
	"jina-v5-nano": llama3Split, "dbrx": llama3Split, "smaug-bpe": llama3Split,
	"qwen2": qwen2Split, "deepseek-r1-qwen": qwen2Split, "kormo": qwen2Split, "f2llmv2": qwen2Split,
	"megrez": qwen2Split,
}

// ggufUnsupportedSplits are pre types transformers maps to patterns this package has not
// verified (Unicode mark/case classes that regexp2 and Oniguruma may disagree on).
var ggufUnsupportedSplits = map[string]bool{
	"tekken": true, "qwen35": true, "gpt-4o": true, "llama4": true, "kanana2": true, "talkie": true, "minimax-m2": true,
}

// FromGGUF builds the tokenizer HF transformers builds from the same GGUF metadata
// (AutoTokenizer.from_pretrained(dir, gguf_file=...)), so ids match what a transformers user of
// the GGUF sees.
//
// The pre-tokenizer follows transformers, not llama.cpp. transformers replaces the pre-tokenizer
// only for the pre types in its split table (llama3, qwen2, ... families: Split(regex, Isolated)
// then ByteLevel without regex); every other pre type, "smollm" included, keeps GPT2Tokenizer's
// plain ByteLevel(add_prefix_space=tokenizer.ggml.add_space_prefix) with the GPT-2 regex.
// llama.cpp's "smollm" instead isolates every digit first (\p{N}, then the GPT-2 regex), as
// SmolLM2's original tokenizer.json does (Digits(individual_digits=true) + ByteLevel). The ids
// really differ: "\n 182" is ["\n", "Ġ", "1", "8", "2"] via transformers but ["\nĠ", "1", "8", "2"]
// with digit isolation, and "½" after a space likewise. We match transformers because that is
// the reference the parity tests (and HF model directories written later) use; to get the
// original SmolLM2 behaviour, Load its own tokenizer.json instead.
//
// Tokens are re-spelled into the byte-level alphabet when they are not already (as transformers
// does), control tokens (type 3) become special added tokens, user-defined tokens (type 4)
// become non-special added tokens, and the post-processor adds BOS/EOS when AddBOS/AddEOS say so.
func FromGGUF(v GGUFVocab) (*Tokenizer, error) {
	const src = "GGUF tokenizer metadata"
	fail := func(format string, args ...any) (*Tokenizer, error) {
		return nil, fmt.Errorf("tokenizer: %s: "+format, append([]any{src}, args...)...)
	}
	if v.Model != "gpt2" {
		return fail("unsupported tokenizer.ggml.model %q (only gpt2, byte-level BPE, is supported)", v.Model)
	}
	if len(v.Tokens) == 0 {
		return fail("no tokens")
	}
	if len(v.Tokens) > maxVocab || len(v.Merges) > maxVocab {
		return fail("%d tokens and %d merges: more than the limit of %d", len(v.Tokens), len(v.Merges), maxVocab)
	}
	if len(v.TokenTypes) != 0 && len(v.TokenTypes) != len(v.Tokens) {
		return fail("%d token types for %d tokens", len(v.TokenTypes), len(v.Tokens))
	}
	sp := spec{source: src, vocab: make(map[string]int32, len(v.Tokens)), bos: -1, eos: -1}
	spelled := make([]string, len(v.Tokens))
	for i, tok := range v.Tokens {
		s := tok
		if !inAlphabet(s) {
			s = string(toByteLevel(nil, s))
		}
		if prev, dup := sp.vocab[s]; dup {
			return fail("tokens %d and %d are both %q", prev, i, s)
		}
		sp.vocab[s] = int32(i)
		spelled[i] = s
	}
	for i, m := range v.Merges {
		parts := strings.Split(m, " ")
		if len(parts) != 2 {
			return fail("merge %d %q is not two tokens separated by one space", i, m)
		}
		sp.merges = append(sp.merges, [2]string{parts[0], parts[1]})
	}
	inRange := func(id int64) bool { return id >= 0 && id < int64(len(v.Tokens)) }
	special := map[int64]bool{}
	for i := range v.TokenTypes {
		// A control token spelled outside the byte alphabet is a llama.cpp mislabel;
		// transformers skips it, and so do we.
		if v.TokenTypes[i] == ggufControl && inAlphabet(v.Tokens[i]) {
			special[int64(i)] = true
		}
	}
	for i, typ := range v.TokenTypes {
		id := int64(i)
		switch {
		case special[id]:
			sp.added = append(sp.added, AddedToken{ID: id, Content: spelled[i], Special: true})
		case typ == ggufUserDefined:
			if _, ok := sp.vocab[v.Tokens[i]]; ok {
				sp.added = append(sp.added, AddedToken{ID: id, Content: v.Tokens[i]})
			}
		}
	}
	for _, id := range []int64{v.BOS, v.EOS} {
		if id != -1 && !inRange(id) {
			return fail("special token id %d out of range [0, %d)", id, len(v.Tokens))
		}
	}
	for _, id := range []int64{v.UNK, v.PAD} {
		if id != -1 && !inRange(id) {
			return fail("special token id %d out of range [0, %d)", id, len(v.Tokens))
		}
	}
	sp.bos, sp.eos = v.BOS, v.EOS

	var pre any
	if pat, ok := ggufSplits[v.Pre]; ok {
		re, err := compileSplit(pat)
		if err != nil {
			return fail("split regex for pre %q: %v", v.Pre, err)
		}
		sp.steps = []preStep{regexSplitStep{re: re, behavior: behIsolated}, byteLevelStep{useRegex: false}}
		pre = map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]string{"Regex": pat}, "behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
		}}
	} else if ggufUnsupportedSplits[v.Pre] {
		return fail("unsupported tokenizer.ggml.pre %q", v.Pre)
	} else {
		sp.steps = []preStep{byteLevelStep{addPrefixSpace: v.AddSpacePrefix, useRegex: true}}
		pre = map[string]any{"type": "ByteLevel", "add_prefix_space": v.AddSpacePrefix, "trim_offsets": true, "use_regex": true}
	}
	single := []any{}
	specials := map[string]any{}
	addTpl := func(id int64) error {
		if !inRange(id) {
			return fmt.Errorf("add_bos/add_eos set but the token id %d is out of range", id)
		}
		name := spelled[id]
		single = append(single, map[string]any{"SpecialToken": map[string]any{"id": name, "type_id": 0}})
		specials[name] = map[string]any{"id": name, "ids": []int64{id}, "tokens": []string{name}}
		return nil
	}
	if v.AddBOS {
		if err := addTpl(v.BOS); err != nil {
			return fail("%v", err)
		}
		sp.prefix = []int64{v.BOS}
	}
	single = append(single, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}})
	if v.AddEOS {
		if err := addTpl(v.EOS); err != nil {
			return fail("%v", err)
		}
		sp.suffix = []int64{v.EOS}
	}
	pair := append([]any(nil), single...)
	pair = append(pair, map[string]any{"Sequence": map[string]any{"id": "B", "type_id": 1}})
	post := map[string]any{"type": "TemplateProcessing", "single": single, "pair": pair, "special_tokens": specials}
	dec := map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true}
	sp.preJSON, _ = json.Marshal(pre)
	sp.postJSON, _ = json.Marshal(post)
	sp.decJSON, _ = json.Marshal(dec)
	return build(sp)
}
