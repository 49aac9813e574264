package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/growthtrain/growthtrain/internal/fsutil"
)

// Save writes the tokenizer as a HF tokenizer.json (merges in the ["a", "b"] pair form that
// tokenizers 0.23 writes) that HF tokenizers loads and encodes identically. Pre-tokenizer,
// post-processor and decoder are written back as they were read (or as FromGGUF built them).
func (t *Tokenizer) Save(path string) error {
	if err := fsutil.WriteFile(path, t.JSON()); err != nil {
		return fmt.Errorf("tokenizer: save: %w", err)
	}
	return nil
}

// JSON returns the tokenizer.json text Save writes (deterministic: equal tokenizers give equal
// bytes, so its hash identifies a tokenizer).
func (t *Tokenizer) JSON() []byte {
	var b bytes.Buffer
	enc := func(v any) []byte {
		var buf bytes.Buffer
		e := json.NewEncoder(&buf)
		e.SetEscapeHTML(false) // keep "<|im_start|>" readable
		_ = e.Encode(v)        // strings, bools and numbers always encode
		return bytes.TrimRight(buf.Bytes(), "\n")
	}
	raw := func(r json.RawMessage) []byte {
		if isNull(r) {
			return []byte("null")
		}
		return r
	}
	b.WriteString("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [")
	for i, a := range t.added {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n    ")
		b.Write(enc(a))
	}
	b.WriteString("\n  ],\n  \"normalizer\": ")
	b.Write(raw(t.normJSON))
	b.WriteString(",\n  \"pre_tokenizer\": ")
	b.Write(raw(t.preJSON))
	b.WriteString(",\n  \"post_processor\": ")
	b.Write(raw(t.postJSON))
	b.WriteString(",\n  \"decoder\": ")
	b.Write(raw(t.decJSON))
	var unk any
	if t.unkToken != "" {
		unk = t.unkToken
	}
	fmt.Fprintf(&b, ",\n  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": %s,\n"+
		"    \"continuing_subword_prefix\": \"\",\n    \"end_of_word_suffix\": \"\",\n    \"fuse_unk\": %v,\n"+
		"    \"byte_fallback\": %v,\n    \"ignore_merges\": %v,\n    \"vocab\": {", enc(unk), t.fuseUnk, t.byteFallback, t.ignoreMerges)
	// Vocab in id order, model entries only (added tokens not in the model stay in added_tokens).
	first := true
	for id, s := range t.tokens {
		if vid, ok := t.vocab[s]; !ok || int(vid) != id {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString("\n      ")
		b.Write(enc(s))
		fmt.Fprintf(&b, ": %d", id)
	}
	b.WriteString("\n    },\n    \"merges\": [")
	for i, m := range t.mergeList {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n      ")
		b.Write(enc(m[:]))
	}
	b.WriteString("\n    ]\n  }\n}\n")
	return b.Bytes()
}

// SaveDir writes tokenizer.json and tokenizer_config.json (where transformers and Load look for
// the tokenizer class and BOS/EOS; those are named when known) into dir, each atomically. The
// config is written even when neither is known, so that a directory SaveDir made is always a
// complete HF tokenizer directory (transformers' AutoTokenizer wants the file).
func (t *Tokenizer) SaveDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("tokenizer: save: %w", err)
	}
	if err := t.Save(filepath.Join(dir, "tokenizer.json")); err != nil {
		return err
	}
	cfg := map[string]any{"tokenizer_class": "PreTrainedTokenizerFast"}
	if id, ok := t.BOS(); ok {
		cfg["bos_token"] = t.tokens[id]
	}
	if id, ok := t.EOS(); ok {
		cfg["eos_token"] = t.tokens[id]
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep "<|endoftext|>" readable
	enc.SetIndent("", "  ")
	_ = enc.Encode(cfg) // strings only: cannot fail
	if err := fsutil.WriteFile(filepath.Join(dir, "tokenizer_config.json"), buf.Bytes()); err != nil {
		return fmt.Errorf("tokenizer: save: %w", err)
	}
	return nil
}
