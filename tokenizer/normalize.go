package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// normalizer is HF's normalizer stage: it rewrites each piece of text left between added tokens
// (normalized=false ones) before normalized added tokens are matched and pre-tokenization runs.
type normalizer func(string) string

type normJSON struct {
	Type        string            `json:"type"`
	Normalizers []json.RawMessage `json:"normalizers"`
	Prepend     *string           `json:"prepend"`
	Pattern     map[string]string `json:"pattern"`
	Content     *string           `json:"content"`
}

// parseNormalizer builds the normalizers this package reproduces exactly: the Unicode forms
// NFC, NFD, NFKC and NFKD, Prepend, Replace of a literal string, and Sequence of those. Others
// (Lowercase, whose Rust full case mapping Go's does not match for all characters, regex
// Replace, BertNormalizer, Strip, Precompiled, ...) are refused by name. null gives nil.
func parseNormalizer(raw json.RawMessage) (normalizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	var n normJSON
	if err := json.Unmarshal(raw, &n); err != nil {
		return nil, err
	}
	switch n.Type {
	case "NFC":
		return norm.NFC.String, nil
	case "NFD":
		return norm.NFD.String, nil
	case "NFKC":
		return norm.NFKC.String, nil
	case "NFKD":
		return norm.NFKD.String, nil
	case "Prepend":
		if n.Prepend == nil {
			return nil, errors.New("Prepend without prepend")
		}
		p := *n.Prepend
		return func(s string) string {
			if s == "" { // HF prepends only to non-empty text
				return s
			}
			return p + s
		}, nil
	case "Replace":
		pat, ok := n.Pattern["String"]
		if !ok || n.Content == nil {
			return nil, fmt.Errorf("unsupported Replace %s (only a String pattern with content)", raw)
		}
		if pat == "" {
			return nil, errors.New("Replace with an empty pattern")
		}
		content := *n.Content
		return func(s string) string { return strings.ReplaceAll(s, pat, content) }, nil
	case "Sequence":
		var fs []normalizer
		for _, sub := range n.Normalizers {
			f, err := parseNormalizer(sub)
			if err != nil {
				return nil, err
			}
			if f != nil {
				fs = append(fs, f)
			}
		}
		return func(s string) string {
			for _, f := range fs {
				s = f(s)
			}
			return s
		}, nil
	}
	return nil, fmt.Errorf("unsupported normalizer %q (supported: NFC, NFD, NFKC, NFKD, Prepend, Replace of a string, Sequence)", n.Type)
}
