package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// SentencePiece-style BPE (Llama-2, Mistral): the vocabulary is spelled in Unicode characters,
// not the byte-level alphabet; spaces become "▁" (the Metaspace pre-tokenizer, or the legacy
// Prepend + Replace normalizers); a character missing from the vocabulary becomes the tokens
// <0xXX> of its UTF-8 bytes (byte_fallback).

// metaspaceStep is HF's Metaspace pre-tokenizer: every " " becomes the replacement, which is
// prepended (prepend_scheme "always"; "first": only to the piece at the very start of the
// input) unless the piece already starts with it; with split, the piece is cut before every
// replacement (MergedWithNext).
type metaspaceStep struct {
	replacement string
	prepend     string // "always", "first" or "never"
	cut         bool   // the split option
}

// splitAt does the work; atStart says whether s begins at offset 0 of the input.
func (m metaspaceStep) splitAt(s string, atStart bool, emit func(string)) {
	if s == "" {
		return
	}
	s = strings.ReplaceAll(s, " ", m.replacement)
	if (m.prepend == "always" || (m.prepend == "first" && atStart)) && !strings.HasPrefix(s, m.replacement) {
		s = m.replacement + s
	}
	if !m.cut {
		emit(s)
		return
	}
	start := 0
	for i := len(m.replacement); i <= len(s)-len(m.replacement); {
		j := strings.Index(s[i:], m.replacement)
		if j < 0 {
			break
		}
		i += j
		if i > start {
			emit(s[start:i])
			start = i
		}
		i += len(m.replacement)
	}
	if start < len(s) {
		emit(s[start:])
	}
}

// split without position information treats s as not at the start (only used through
// splitAt by the encoder; kept so metaspaceStep is a preStep).
func (m metaspaceStep) split(s string, emit func(string)) error {
	m.splitAt(s, false, emit)
	return nil
}

type metaspaceJSON struct {
	Replacement    string  `json:"replacement"`
	PrependScheme  *string `json:"prepend_scheme"`
	AddPrefixSpace *bool   `json:"add_prefix_space"`
	Split          *bool   `json:"split"`
}

func parseMetaspace(raw json.RawMessage) (metaspaceStep, error) {
	var p metaspaceJSON
	if err := json.Unmarshal(raw, &p); err != nil {
		return metaspaceStep{}, err
	}
	if utf8.RuneCountInString(p.Replacement) != 1 {
		return metaspaceStep{}, fmt.Errorf("Metaspace replacement %q is not one character", p.Replacement)
	}
	m := metaspaceStep{replacement: p.Replacement, prepend: "always", cut: true}
	if p.Split != nil {
		m.cut = *p.Split
	}
	switch {
	case p.PrependScheme != nil:
		m.prepend = *p.PrependScheme
	case p.AddPrefixSpace != nil && !*p.AddPrefixSpace: // tokenizers < 0.19
		m.prepend = "never"
	}
	if m.prepend != "always" && m.prepend != "first" && m.prepend != "never" {
		return metaspaceStep{}, fmt.Errorf("Metaspace prepend_scheme %q (always, first or never)", m.prepend)
	}
	return m, nil
}

// charDecoder is the decoder of a character-level (SentencePiece-style) tokenizer: a list of
// HF decoder steps over the token strings.
type charDecoder []func(toks []string) []string

type decJSON struct {
	Type     string            `json:"type"`
	Decoders []json.RawMessage `json:"decoders"`
	Pattern  map[string]string `json:"pattern"`
	Content  string            `json:"content"`
	Start    int               `json:"start"`
	Stop     int               `json:"stop"`
	metaspaceJSON
}

// parseCharDecoder accepts Metaspace, and Sequence of Replace (a string pattern), ByteFallback,
// Fuse and Strip: the decoders HF writes for SentencePiece BPE.
func parseCharDecoder(raw json.RawMessage) (charDecoder, error) {
	if isNull(raw) {
		return nil, errors.New("unsupported decoder null")
	}
	var d decJSON
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	switch d.Type {
	case "Sequence":
		var out charDecoder
		for _, sub := range d.Decoders {
			s, err := parseCharDecoder(sub)
			if err != nil {
				return nil, err
			}
			out = append(out, s...)
		}
		return out, nil
	case "Metaspace":
		m, err := parseMetaspace(raw)
		if err != nil {
			return nil, err
		}
		return charDecoder{func(toks []string) []string {
			out := make([]string, len(toks))
			for i, t := range toks {
				t = strings.ReplaceAll(t, m.replacement, " ")
				if i == 0 && m.prepend != "never" {
					t = strings.TrimPrefix(t, " ")
				}
				out[i] = t
			}
			return out
		}}, nil
	case "Replace":
		pat, ok := d.Pattern["String"]
		if !ok || pat == "" {
			return nil, fmt.Errorf("unsupported Replace decoder %s (only a String pattern)", raw)
		}
		return charDecoder{func(toks []string) []string {
			out := make([]string, len(toks))
			for i, t := range toks {
				out[i] = strings.ReplaceAll(t, pat, d.Content)
			}
			return out
		}}, nil
	case "ByteFallback":
		return charDecoder{byteFallbackDecode}, nil
	case "Fuse":
		return charDecoder{func(toks []string) []string { return []string{strings.Join(toks, "")} }}, nil
	case "Strip":
		if d.Content == "" || utf8.RuneCountInString(d.Content) != 1 || d.Start < 0 || d.Stop < 0 {
			return nil, fmt.Errorf("unsupported Strip decoder %s", raw)
		}
		c := d.Content
		return charDecoder{func(toks []string) []string {
			out := make([]string, len(toks))
			for i, t := range toks {
				for n := 0; n < d.Start && strings.HasPrefix(t, c); n++ {
					t = t[len(c):]
				}
				for n := 0; n < d.Stop && strings.HasSuffix(t, c); n++ {
					t = t[:len(t)-len(c)]
				}
				out[i] = t
			}
			return out
		}}, nil
	}
	return nil, fmt.Errorf("unsupported decoder %q for a character-level BPE (supported: Metaspace, Sequence of Replace, ByteFallback, Fuse, Strip)", d.Type)
}

// byteFallbackToken returns the byte of a "<0xXX>" token.
func byteFallbackToken(t string) (byte, bool) {
	if len(t) != 6 || !strings.HasPrefix(t, "<0x") || t[5] != '>' {
		return 0, false
	}
	v, err := strconv.ParseUint(t[3:5], 16, 8)
	return byte(v), err == nil
}

// byteFallbackDecode joins runs of <0xXX> tokens into the string of their bytes, or, when they
// are not valid UTF-8, one U+FFFD per byte, as HF's ByteFallback decoder does.
func byteFallbackDecode(toks []string) []string {
	var out []string
	var run []byte
	n := 0
	flush := func() {
		if n == 0 {
			return
		}
		if utf8.Valid(run) {
			out = append(out, string(run))
		} else {
			for range n {
				out = append(out, "\uFFFD")
			}
		}
		run, n = run[:0], 0
	}
	for _, t := range toks {
		if b, ok := byteFallbackToken(t); ok {
			run = append(run, b)
			n++
			continue
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}
