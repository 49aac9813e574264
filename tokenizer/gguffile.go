package tokenizer

import (
	"fmt"

	"github.com/growthtrain/growthtrain/model/gguf"
)

// LoadGGUF builds the tokenizer stored in a GGUF file's tokenizer.ggml.* metadata.
func LoadGGUF(path string) (*Tokenizer, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	v, err := VocabFromGGUF(f.Metadata)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t, err := FromGGUF(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t.source = path // encode errors name the file
	return t, nil
}

// VocabFromGGUF reads the tokenizer.ggml.* keys. Required: model, tokens, merges; the rest
// default as llama.cpp does (ids -1 when absent, flags false).
func VocabFromGGUF(md *gguf.Metadata) (GGUFVocab, error) {
	var v GGUFVocab
	var err error
	if v.Model, err = md.String("tokenizer.ggml.model"); err != nil {
		return v, err
	}
	if v.Tokens, err = md.Strings("tokenizer.ggml.tokens"); err != nil {
		return v, err
	}
	if v.Merges, err = md.Strings("tokenizer.ggml.merges"); err != nil {
		return v, err
	}
	optional := func(key string) bool { _, ok := md.Value(key); return ok }
	if optional("tokenizer.ggml.pre") {
		if v.Pre, err = md.String("tokenizer.ggml.pre"); err != nil {
			return v, err
		}
	}
	if optional("tokenizer.ggml.token_type") {
		if v.TokenTypes, err = md.Int32s("tokenizer.ggml.token_type"); err != nil {
			return v, err
		}
	}
	for key, dst := range map[string]*int64{
		"tokenizer.ggml.bos_token_id": &v.BOS, "tokenizer.ggml.eos_token_id": &v.EOS,
		"tokenizer.ggml.unknown_token_id": &v.UNK, "tokenizer.ggml.padding_token_id": &v.PAD,
	} {
		*dst = -1
		if optional(key) {
			if *dst, err = md.Int(key); err != nil {
				return v, err
			}
		}
	}
	for key, dst := range map[string]*bool{
		"tokenizer.ggml.add_bos_token": &v.AddBOS, "tokenizer.ggml.add_eos_token": &v.AddEOS,
		"tokenizer.ggml.add_space_prefix": &v.AddSpacePrefix,
	} {
		if optional(key) {
			if *dst, err = md.Bool(key); err != nil {
				return v, err
			}
		}
	}
	return v, nil
}
