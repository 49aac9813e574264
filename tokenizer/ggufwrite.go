package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/growthtrain/growthtrain/model/gguf"
)

// GGUFMetadata returns the tokenizer.ggml.* metadata llama.cpp reads for this tokenizer, for
// a model whose embedding has vocabSize rows: ids the tokenizer does not use are filled with
// "[PADn]" tokens of type unused (5), as llama.cpp's converter does. Special added tokens are
// control tokens (3), other added tokens user-defined (4).
//
// tokenizer.ggml.pre is chosen from the pre-tokenizer so that transformers' GGUF loader (and
// FromGGUF, which follows it) rebuild the same one: a plain ByteLevel is "gpt2" (with
// add_space_prefix as its add_prefix_space), the llama-3 and qwen2 Split patterns are
// "llama-bpe" and "qwen2". Digits(individual) + ByteLevel, SmolLM2's, is "smollm": llama.cpp
// splits digits for it, transformers' loader does not (see FromGGUF). Any other
// pre-tokenizer, or a tokenizer this package would not write as GGUF, is an error.
func (t *Tokenizer) GGUFMetadata(vocabSize int) ([]gguf.KV, error) {
	if vocabSize < len(t.tokens) {
		return nil, fmt.Errorf("tokenizer %s: %d tokens do not fit a vocabulary of %d", t.source, len(t.tokens), vocabSize)
	}
	if t.charMode || t.normalize != nil {
		return nil, fmt.Errorf("tokenizer %s: GGUF export of a SentencePiece-style (Metaspace/byte_fallback) tokenizer or one with a normalizer is not implemented", t.source)
	}
	if t.unkToken != "" || t.fuseUnk || t.ignoreMerges {
		return nil, fmt.Errorf("tokenizer %s: unk_token, fuse_unk and ignore_merges have no GGUF gpt2 equivalent", t.source)
	}
	pre, addSpace, err := ggufPre(t.preJSON)
	if err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", t.source, err)
	}
	tokens := make([]string, vocabSize)
	types := make([]int32, vocabSize)
	for i := range tokens {
		if i < len(t.tokens) {
			tokens[i], types[i] = t.tokens[i], 1
		} else {
			tokens[i], types[i] = fmt.Sprintf("[PAD%d]", i), 5
		}
	}
	for _, a := range t.added {
		if a.Special {
			types[a.ID] = 3
		} else {
			types[a.ID] = 4
		}
	}
	merges := make([]string, len(t.mergeList))
	for i, m := range t.mergeList {
		if strings.Contains(m[0], " ") || strings.Contains(m[1], " ") {
			return nil, fmt.Errorf("tokenizer %s: merge %d %q has a space, which GGUF's \"a b\" merges cannot hold", t.source, i, m)
		}
		merges[i] = m[0] + " " + m[1]
	}
	kvs := []gguf.KV{
		{Key: "tokenizer.ggml.model", Value: "gpt2"},
		{Key: "tokenizer.ggml.pre", Value: pre},
		{Key: "tokenizer.ggml.tokens", Value: tokens},
		{Key: "tokenizer.ggml.token_type", Value: types},
		{Key: "tokenizer.ggml.merges", Value: merges},
	}
	if id, ok := t.BOS(); ok {
		kvs = append(kvs, gguf.KV{Key: "tokenizer.ggml.bos_token_id", Value: uint32(id)})
	}
	if id, ok := t.EOS(); ok {
		kvs = append(kvs, gguf.KV{Key: "tokenizer.ggml.eos_token_id", Value: uint32(id)})
	}
	addBOS := len(t.prefix) == 1 && t.prefix[0] == t.bos && t.bos >= 0
	addEOS := len(t.suffix) == 1 && t.suffix[0] == t.eos && t.eos >= 0
	if (len(t.prefix) > 0 && !addBOS) || (len(t.suffix) > 0 && !addEOS) {
		return nil, fmt.Errorf("tokenizer %s: its post-processor adds tokens other than BOS/EOS, which GGUF cannot say", t.source)
	}
	kvs = append(kvs,
		gguf.KV{Key: "tokenizer.ggml.add_bos_token", Value: addBOS},
		gguf.KV{Key: "tokenizer.ggml.add_eos_token", Value: addEOS},
		gguf.KV{Key: "tokenizer.ggml.add_space_prefix", Value: addSpace})
	return kvs, nil
}

// ggufPre maps a pre_tokenizer JSON to tokenizer.ggml.pre and add_space_prefix.
func ggufPre(raw json.RawMessage) (string, bool, error) {
	type step struct {
		Type           string `json:"type"`
		AddPrefixSpace bool   `json:"add_prefix_space"`
		UseRegex       *bool  `json:"use_regex"`
		Individual     bool   `json:"individual_digits"`
		Pattern        struct {
			Regex string `json:"Regex"`
		} `json:"pattern"`
		Behavior      string `json:"behavior"`
		Invert        bool   `json:"invert"`
		PreTokenizers []step `json:"pretokenizers"`
	}
	var s step
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, fmt.Errorf("pre_tokenizer: %v", err)
	}
	regex := func(st step) bool { return st.UseRegex == nil || *st.UseRegex }
	switch {
	case s.Type == "ByteLevel" && regex(s):
		return "gpt2", s.AddPrefixSpace, nil
	case s.Type == "Sequence" && len(s.PreTokenizers) == 2:
		a, b := s.PreTokenizers[0], s.PreTokenizers[1]
		if a.Type == "Split" && a.Behavior == "Isolated" && !a.Invert && b.Type == "ByteLevel" && !regex(b) && !b.AddPrefixSpace {
			switch a.Pattern.Regex {
			case llama3Split:
				return "llama-bpe", false, nil
			case qwen2Split:
				return "qwen2", false, nil
			}
		}
		if a.Type == "Digits" && a.Individual && b.Type == "ByteLevel" && regex(b) && !b.AddPrefixSpace {
			return "smollm", false, nil
		}
	}
	return "", false, fmt.Errorf("pre_tokenizer %s has no tokenizer.ggml.pre that transformers and llama.cpp rebuild the same way", raw)
}
