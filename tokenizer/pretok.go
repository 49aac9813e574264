package tokenizer

import (
	"strings"
	"time"
	"unicode/utf8"
)

// preStep is one pre-tokenization stage: it cuts s into pieces and hands each to emit, in order.
type preStep interface {
	split(s string, emit func(string)) error
}

// byteLevelStep is HF's ByteLevel pre-tokenizer. The byte-to-alphabet mapping itself is folded
// into the BPE stage (each byte indexes its initial symbol), so here only the optional prefix
// space and the GPT-2 split remain.
type byteLevelStep struct {
	addPrefixSpace bool
	useRegex       bool
}

func (b byteLevelStep) split(s string, emit func(string)) error {
	// HF prepends the space to every piece that reaches this stage (each chunk between added
	// tokens, each chunk an earlier Split/Digits produced), not just to the start of the text.
	if s == "" {
		return nil // HF has no empty pieces, so an empty text gets no prefix space either
	}
	if b.addPrefixSpace && s[0] != ' ' {
		s = " " + s
	}
	if !b.useRegex {
		emit(s)
		return nil
	}
	splitGPT2(s, emit)
	return nil
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

func (d digitsStep) split(s string, emit func(string)) error {
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
	return nil
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
// letters new in Unicode 16 may split differently here. Each piece gets a time budget (regex.go).
type regexSplitStep struct {
	re       *splitRegex
	behavior splitBehavior
	invert   bool
}

type span struct {
	start, end int
	match      bool
}

func (r regexSplitStep) split(s string, emit func(string)) error {
	if s == "" {
		return nil
	}
	budget := budgetFor(len(s))
	deadline := time.Now().Add(budget)
	fail := func(err error) error {
		if err == nil || strings.HasPrefix(err.Error(), "match timeout") {
			err = nil // regexp2's timeout message quotes the whole input: keep only the fact
		}
		return &regexError{pattern: r.re.pattern, n: len(s), budget: budget, err: err}
	}
	re := r.re.forPiece(len(s))
	out := behaviorWriter{s: s, b: r.behavior, emit: emit}
	// regexp2 reports rune offsets; walk a (rune, byte) cursor forward to map them to bytes,
	// since matches come in increasing order. Invalid UTF-8 bytes count as one rune each, as in
	// regexp2's []rune conversion.
	runeAt, byteAt := 0, 0
	toByte := func(ri int) int {
		for runeAt < ri {
			_, w := utf8.DecodeRuneInString(s[byteAt:])
			byteAt += w
			runeAt++
		}
		return byteAt
	}
	// As HF (Oniguruma's find_iter), an empty match is a delimiter of no width, except right at
	// the end of the previous match, where it is skipped.
	prev, lastEnd := 0, -1
	m, err := re.FindStringMatch(s)
	for err == nil && m != nil {
		a := toByte(m.Index)
		b := toByte(m.Index + m.Length)
		if b > a || a != lastEnd {
			if prev < a {
				out.span(span{prev, a, r.invert})
			}
			out.span(span{a, b, !r.invert})
			prev, lastEnd = b, b
		}
		if time.Now().After(deadline) {
			return fail(nil)
		}
		m, err = re.FindNextMatch(m)
	}
	if err != nil {
		return fail(err)
	}
	if prev < len(s) {
		out.span(span{prev, len(s), r.invert})
	}
	out.flush()
	return nil
}

// behaviorWriter applies a Split behaviour to the spans (delimiters and the text between them,
// in order, match meaning "delimiter" after invert) as they come, holding at most one back.
type behaviorWriter struct {
	s       string
	b       splitBehavior
	emit    func(string)
	pending span
	has     bool
	// prevMatch is whether the previous span was a delimiter (MergedWithPrevious).
	prevMatch bool
}

// put emits a piece; HF drops empty ones (left by empty delimiters).
func (w *behaviorWriter) put(sp span) {
	if sp.end > sp.start {
		w.emit(w.s[sp.start:sp.end])
	}
}

func (w *behaviorWriter) span(sp span) {
	switch w.b {
	case behIsolated:
		w.put(sp)
	case behRemoved:
		if !sp.match {
			w.put(sp)
		}
	case behMergedWithPrevious:
		// A delimiter joins the piece before it, unless that piece is itself a delimiter.
		if sp.match && !w.prevMatch && w.has {
			w.pending.end = sp.end
		} else {
			if w.has {
				w.put(w.pending)
			}
			w.pending, w.has = sp, true
		}
		w.prevMatch = sp.match
	case behMergedWithNext:
		// A delimiter joins the piece after it, unless that one is a delimiter too.
		if w.has {
			if !sp.match {
				w.put(span{w.pending.start, sp.end, false})
				w.has = false
				return
			}
			w.put(w.pending)
			w.has = false
		}
		if sp.match {
			w.pending, w.has = sp, true
		} else {
			w.put(sp)
		}
	case behContiguous:
		// Neighbouring spans of the same kind (adjacent delimiters) become one piece.
		if w.has && sp.match == w.pending.match {
			w.pending.end = sp.end
			return
		}
		if w.has {
			w.put(w.pending)
		}
		w.pending, w.has = sp, true
	}
}

func (w *behaviorWriter) flush() {
	if w.has {
		w.put(w.pending)
		w.has = false
	}
}
