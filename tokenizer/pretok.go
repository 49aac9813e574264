package tokenizer

import (
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// preStep is one pre-tokenization stage: it cuts s into pieces and hands each to emit, in order.
type preStep interface {
	split(s string, emit func(string))
}

// byteLevelStep is HF's ByteLevel pre-tokenizer. The byte-to-alphabet mapping itself is folded
// into the BPE stage (each byte indexes its initial symbol), so here only the optional prefix
// space and the GPT-2 split remain.
type byteLevelStep struct {
	addPrefixSpace bool
	useRegex       bool
}

func (b byteLevelStep) split(s string, emit func(string)) {
	// HF prepends the space to every piece that reaches this stage (each chunk between added
	// tokens, each chunk an earlier Split/Digits produced), not just to the start of the text.
	if s == "" {
		return // HF has no empty pieces, so an empty text gets no prefix space either
	}
	if b.addPrefixSpace && s[0] != ' ' {
		s = " " + s
	}
	if !b.useRegex {
		if len(s) > 0 {
			emit(s)
		}
		return
	}
	splitGPT2(s, emit)
}

// splitGPT2 cuts s exactly like the GPT-2 pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// without a regex engine: Go's regexp has no look-ahead, and a direct scan over character classes
// is several times faster than a backtracking engine. Alternatives are tried in pattern order at
// each position, which for this pattern reduces to the cases below.
func splitGPT2(s string, emit func(string)) {
	i := 0
	for i < len(s) {
		c := s[i]
		if c == '\'' && i+1 < len(s) {
			switch s[i+1] {
			case 's', 't', 'm', 'd':
				emit(s[i : i+2])
				i += 2
				continue
			case 'r', 'v':
				if i+2 < len(s) && s[i+2] == 'e' {
					emit(s[i : i+3])
					i += 3
					continue
				}
			case 'l':
				if i+2 < len(s) && s[i+2] == 'l' {
					emit(s[i : i+3])
					i += 3
					continue
				}
			}
		}
		cls, w := classAt(s, i)
		start := i
		if c == ' ' && i+1 < len(s) {
			// " ?X+" takes precedence over the whitespace alternatives when the space is
			// followed by a letter, number or other character.
			if nc, nw := classAt(s, i+1); nc != clsSpace {
				cls, w = nc, 1+nw
			}
		}
		if cls != clsSpace {
			j := i + w
			for j < len(s) {
				k, kw := classAt(s, j)
				if k != cls {
					break
				}
				j += kw
			}
			emit(s[start:j])
			i = j
			continue
		}
		// Whitespace run: \s+(?!\S) backtracks so the last whitespace character is left for the
		// next token when the run is followed by a non-space (so " word" keeps its space);
		// a single whitespace character before a non-space falls through to \s+.
		j, last := i+w, i
		for j < len(s) {
			k, kw := classAt(s, j)
			if k != clsSpace {
				break
			}
			last = j
			j += kw
		}
		if j < len(s) && last > i {
			j = last
		}
		emit(s[i:j])
		i = j
	}
}

// digitsStep is HF's Digits pre-tokenizer: numeric characters (Unicode N, as Rust's
// char::is_numeric) are isolated one by one, or as contiguous runs.
type digitsStep struct {
	individual bool
}

func (d digitsStep) split(s string, emit func(string)) {
	start := 0
	for i := 0; i < len(s); {
		r, w := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, w = utf8.DecodeRuneInString(s[i:])
		}
		if !isNumber(r) || (r == utf8.RuneError && w == 1) {
			i += w
			continue
		}
		if start < i {
			emit(s[start:i])
		}
		j := i + w
		if !d.individual {
			for j < len(s) {
				r2, w2 := utf8.DecodeRuneInString(s[j:])
				if !isNumber(r2) {
					break
				}
				j += w2
			}
		}
		emit(s[i:j])
		start, i = j, j
	}
	if start < len(s) {
		emit(s[start:])
	}
}

// splitBehavior is HF's SplitDelimiterBehavior.
type splitBehavior int

const (
	behRemoved splitBehavior = iota
	behIsolated
	behMergedWithPrevious
	behMergedWithNext
	behContiguous
)

var behaviorNames = map[string]splitBehavior{
	"Removed": behRemoved, "Isolated": behIsolated, "MergedWithPrevious": behMergedWithPrevious,
	"MergedWithNext": behMergedWithNext, "Contiguous": behContiguous,
}

// regexSplitStep is HF's Split pre-tokenizer. It uses regexp2 (a .NET-style backtracking engine)
// because the patterns shipped in tokenizer.json files use look-ahead. regexp2's \s is the same
// White_Space set as Oniguruma's; its \p{L} follows Go's Unicode 15 tables, so the handful of
// letters new in Unicode 16 may split differently here.
type regexSplitStep struct {
	re       *regexp2.Regexp
	behavior splitBehavior
	invert   bool
}

type span struct {
	start, end int
	match      bool
}

func (r regexSplitStep) split(s string, emit func(string)) {
	if s == "" {
		return
	}
	// regexp2 reports rune offsets; map them back to byte offsets.
	var byteAt []int
	for i := range s {
		byteAt = append(byteAt, i)
	}
	byteAt = append(byteAt, len(s))
	var spans []span
	prev := 0
	m, err := r.re.FindStringMatch(s)
	for err == nil && m != nil {
		a, b := byteAt[m.Index], byteAt[m.Index+m.Length]
		if b > a {
			if prev < a {
				spans = append(spans, span{prev, a, false})
			}
			spans = append(spans, span{a, b, true})
			prev = b
		}
		m, err = r.re.FindNextMatch(m)
	}
	if prev < len(s) {
		spans = append(spans, span{prev, len(s), false})
	}
	if r.invert {
		for i := range spans {
			spans[i].match = !spans[i].match
		}
	}
	switch r.behavior {
	case behIsolated:
		for _, sp := range spans {
			emit(s[sp.start:sp.end])
		}
	case behRemoved:
		for _, sp := range spans {
			if !sp.match {
				emit(s[sp.start:sp.end])
			}
		}
	case behMergedWithPrevious:
		// A delimiter joins the piece before it, unless that piece is itself a delimiter.
		var out []span
		prevMatch := false
		for _, sp := range spans {
			if sp.match && !prevMatch && len(out) > 0 {
				out[len(out)-1].end = sp.end
			} else {
				out = append(out, sp)
			}
			prevMatch = sp.match
		}
		emitSpans(s, out, emit)
	case behMergedWithNext:
		// Mirror image: a delimiter joins the piece after it, unless that one is a delimiter.
		var out []span
		prevMatch := false
		for i := len(spans) - 1; i >= 0; i-- {
			sp := spans[i]
			if sp.match && !prevMatch && len(out) > 0 {
				out[len(out)-1].start = sp.start
			} else {
				out = append(out, sp)
			}
			prevMatch = sp.match
		}
		for i := len(out) - 1; i >= 0; i-- {
			emit(s[out[i].start:out[i].end])
		}
	case behContiguous:
		// Neighbouring spans of the same kind (adjacent delimiters) become one piece.
		var out []span
		for i, sp := range spans {
			if i > 0 && sp.match == spans[i-1].match {
				out[len(out)-1].end = sp.end
			} else {
				out = append(out, sp)
			}
		}
		emitSpans(s, out, emit)
	}
}

func emitSpans(s string, spans []span, emit func(string)) {
	for _, sp := range spans {
		emit(s[sp.start:sp.end])
	}
}
