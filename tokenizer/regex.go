package tokenizer

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dlclark/regexp2"
)

// Split patterns come from tokenizer.json files, which arrive with downloaded models, and regexp2
// is a backtracking engine: a pattern such as (a+)+$ takes time exponential in the input on a
// long run of a's that ends in something else. Two defences (docs/limits.md):
//
//   - at load, checkPattern rejects the nested-quantifier shapes that backtrack exponentially;
//   - at encode, every Split step has a time budget of RegexTimeBase + RegexTimePerByte per byte of
//     the piece it splits, enforced by regexp2's MatchTimeout on each match and by a deadline
//     over the whole piece. Running out is an error wrapping ErrRegexTimeout (TryEncode).
const (
	// RegexTimeBase is the time any Split step may take on a piece, however short.
	RegexTimeBase = time.Second
	// RegexTimePerByte is added per byte of the piece. The llama3 pattern splits ~2.5 MB/s
	// (0.4 µs/byte) on a loaded 2-core VM, so this leaves more than 10x headroom for slower
	// machines and heavier real patterns; a 1 MB piece gets 6 s, a 200 MB one ~17 minutes.
	RegexTimePerByte = 5 * time.Microsecond
	// MaxPatternLen bounds a Split pattern (real ones are a few hundred bytes).
	MaxPatternLen = 1 << 16
)

// ErrRegexTimeout matches (errors.Is) the error of an encode whose Split regex ran out of time.
var ErrRegexTimeout = errors.New("Split regex ran out of time")

// regexBudget is the budget actually used, a variable so that tests can shorten it.
var regexBudget = struct{ base, perByte time.Duration }{RegexTimeBase, RegexTimePerByte}

// budgetFor returns the time a Split step may spend on a piece of n bytes.
func budgetFor(n int) time.Duration {
	return regexBudget.base + time.Duration(n)*regexBudget.perByte
}

// splitRegex is a compiled Split pattern. regexp2's MatchTimeout is a field of the compiled
// expression, shared by every goroutine using it, so instead of changing it per call there is one
// compiled copy per timeout tier (base, 2 x base, 4 x base, ...), compiled when first needed; a
// piece uses the smallest tier that covers its budget.
type splitRegex struct {
	pattern string
	tiers   [maxTiers]struct {
		once sync.Once
		re   *regexp2.Regexp
	}
}

// maxTiers covers budgets up to base x 2^39, far beyond any piece that fits in memory.
const maxTiers = 40

// compileSplit checks and compiles a Split pattern.
func compileSplit(pattern string) (*splitRegex, error) {
	if len(pattern) > MaxPatternLen {
		return nil, fmt.Errorf("Split regex of %d bytes exceeds the %d-byte limit", len(pattern), MaxPatternLen)
	}
	re, err := regexp2.Compile(pattern, regexp2.None)
	if err != nil {
		return nil, fmt.Errorf("Split regex %s: %w", quotePattern(pattern), err)
	}
	if err := checkPattern(pattern); err != nil {
		return nil, fmt.Errorf("Split regex %s: %w", quotePattern(pattern), err)
	}
	sr := &splitRegex{pattern: pattern}
	sr.tiers[0].once.Do(func() {
		re.MatchTimeout = regexBudget.base
		sr.tiers[0].re = re
	})
	return sr, nil
}

// forPiece returns the compiled copy whose match timeout covers the budget of an n-byte piece.
func (sr *splitRegex) forPiece(n int) *regexp2.Regexp {
	b := budgetFor(n)
	i, d := 0, regexBudget.base
	for d < b && i < maxTiers-1 {
		i, d = i+1, 2*d
	}
	t := &sr.tiers[i]
	t.once.Do(func() {
		// The pattern compiled at load; a failure here cannot happen, and would only mean the
		// piece gets tier 0's (shorter) timeout.
		re, err := regexp2.Compile(sr.pattern, regexp2.None)
		if err != nil {
			re = sr.tiers[0].re
		} else {
			re.MatchTimeout = d
		}
		t.re = re
	})
	return t.re
}

// quotePattern quotes a pattern for an error message, shortened if it is long.
func quotePattern(p string) string {
	const max = 120
	if len(p) <= max {
		return fmt.Sprintf("%q", p)
	}
	cut := max
	for cut > 0 && p[cut]&0xC0 == 0x80 {
		cut--
	}
	return fmt.Sprintf("%q... (%d bytes)", p[:cut], len(p))
}

// regexError is a Split step that failed on a piece; TryEncode adds the tokenizer's source.
type regexError struct {
	pattern string
	n       int
	budget  time.Duration
	err     error // regexp2's error, for anything other than a timeout (not expected)
}

func (e *regexError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("Split regex %s failed on a %d-byte piece: %v", quotePattern(e.pattern), e.n, e.err)
	}
	return fmt.Sprintf("Split regex %s found no result within its %v budget on a %d-byte piece "+
		"(the pattern backtracks too much on this text)", quotePattern(e.pattern), e.budget.Round(time.Millisecond), e.n)
}

func (e *regexError) Unwrap() error {
	if e.err != nil {
		return e.err
	}
	return ErrRegexTimeout
}

// checkPattern rejects the shape of pattern that makes a backtracking engine take exponential
// time: a group repeated without bound whose body, by itself, can match a repetition of an inner
// unbounded repeat, so that a run of n copies can be divided between the two loops in 2^n ways,
// all of which the engine tries when what follows fails. Examples: (a+)+, (a*)*, (\w+\s?)*,
// (?:\s*\w+)+, ((ab)+)*, (x+x+)+. It only rejects what it has parsed and recognised; patterns it
// does not fully understand (conditionals, (?x) mode, ...) are left to the match-time budget.
func checkPattern(pattern string) error {
	p := &patParser{s: pattern}
	n, ok := p.parseAlt(0)
	if !ok || p.i != len(p.s) {
		return nil
	}
	if bad := findNested(n); bad != nil {
		return fmt.Errorf("the repeated group %q contains the unbounded repeat %q with nothing else required "+
			"around it, which backtracks exponentially (nested quantifier); rewrite it without the nesting",
			pattern[bad.outer.start:bad.outer.end], pattern[bad.inner.start:bad.inner.end])
	}
	return nil
}

// pnode is a parsed pattern element. Only the structure matters here: atoms (one character of
// some set), zero-width assertions, concatenation, alternation, repetition.
type pnode struct {
	kind       pkind
	atom       string // atoms: the source text, to compare atoms syntactically
	kids       []*pnode
	min, max   int // repeats; max < 0 means unbounded
	start, end int // source span
}

type pkind int

const (
	pAtom  pkind = iota // one character (literal, class, escape, .)
	pZero               // zero-width: anchors, look-arounds (their content is in kids)
	pCat                // concatenation
	pAlt                // alternation
	pRep                // repetition of kids[0]
	pGroup              // (capturing or not) group around kids[0]
)

type patParser struct {
	s string
	i int
}

const maxPatDepth = 200

func (p *patParser) parseAlt(depth int) (*pnode, bool) {
	if depth > maxPatDepth {
		return nil, false
	}
	start := p.i
	var alts []*pnode
	for {
		c, ok := p.parseCat(depth)
		if !ok {
			return nil, false
		}
		alts = append(alts, c)
		if p.i < len(p.s) && p.s[p.i] == '|' {
			p.i++
			continue
		}
		break
	}
	if len(alts) == 1 {
		return alts[0], true
	}
	return &pnode{kind: pAlt, kids: alts, start: start, end: p.i}, true
}

func (p *patParser) parseCat(depth int) (*pnode, bool) {
	start := p.i
	cat := &pnode{kind: pCat, start: start}
	for p.i < len(p.s) && p.s[p.i] != '|' && p.s[p.i] != ')' {
		a, ok := p.parseAtom(depth)
		if !ok {
			return nil, false
		}
		if a == nil { // an inline option or comment: matches nothing, changes nothing here
			continue
		}
		a, ok = p.parseQuant(a)
		if !ok {
			return nil, false
		}
		cat.kids = append(cat.kids, a)
	}
	cat.end = p.i
	return cat, true
}

// parseQuant wraps a in a repeat if a quantifier follows.
func (p *patParser) parseQuant(a *pnode) (*pnode, bool) {
	for p.i < len(p.s) {
		min, max := -2, -2
		j := p.i
		switch p.s[j] {
		case '*':
			min, max, j = 0, -1, j+1
		case '+':
			min, max, j = 1, -1, j+1
		case '?':
			min, max, j = 0, 1, j+1
		case '{':
			var ok bool
			if min, max, j, ok = parseBraces(p.s, j); !ok {
				return a, true // a literal '{', read as an atom next
			}
		default:
			return a, true
		}
		if j < len(p.s) && p.s[j] == '?' { // lazy: the same backtracking, in another order
			j++
		} else if j < len(p.s) && p.s[j] == '+' { // possessive: not .NET syntax; give up
			return nil, false
		}
		p.i = j
		a = &pnode{kind: pRep, kids: []*pnode{a}, min: min, max: max, start: a.start, end: j}
	}
	return a, true
}

// parseBraces reads {n}, {n,} or {n,m} at s[j]; ok is false when the brace is a literal.
func parseBraces(s string, j int) (min, max, next int, ok bool) {
	k := j + 1
	num := func() (int, bool) {
		st := k
		v := 0
		for k < len(s) && s[k] >= '0' && s[k] <= '9' {
			if v < 1<<20 {
				v = v*10 + int(s[k]-'0')
			}
			k++
		}
		return v, k > st
	}
	min, ok = num()
	if !ok {
		return 0, 0, j, false
	}
	max = min
	if k < len(s) && s[k] == ',' {
		k++
		if max, ok = num(); !ok {
			max = -1
		}
	}
	if k >= len(s) || s[k] != '}' {
		return 0, 0, j, false
	}
	return min, max, k + 1, true
}

// parseAtom reads one element; nil, true for constructs that match nothing and can be skipped.
func (p *patParser) parseAtom(depth int) (*pnode, bool) {
	start := p.i
	atom := func() (*pnode, bool) {
		return &pnode{kind: pAtom, atom: p.s[start:p.i], start: start, end: p.i}, true
	}
	switch c := p.s[p.i]; c {
	case '(':
		return p.parseGroup(depth)
	case '[':
		if !p.skipClass() {
			return nil, false
		}
		return atom()
	case '\\':
		if p.i+1 >= len(p.s) {
			return nil, false
		}
		e := p.s[p.i+1]
		p.i += 2
		switch {
		case e == 'b' || e == 'B' || e == 'A' || e == 'z' || e == 'Z' || e == 'G':
			return &pnode{kind: pZero, start: start, end: p.i}, true
		case e >= '1' && e <= '9' || e == 'k':
			return nil, false // back-references: leave such patterns to the time budget
		case e == 'p' || e == 'P':
			if p.i < len(p.s) && p.s[p.i] == '{' {
				for p.i < len(p.s) && p.s[p.i] != '}' {
					p.i++
				}
				if p.i >= len(p.s) {
					return nil, false
				}
				p.i++
			}
		case e == 'x':
			p.skipHex(2)
		case e == 'u':
			p.skipHex(4)
		case e == 'c':
			if p.i < len(p.s) {
				p.i++
			}
		case e == '0':
			p.skipOctal()
		default:
			// A one-character escape (\s, \d, \w, \n, \., ...). Multi-byte UTF-8 is kept whole.
			for p.i < len(p.s) && p.s[p.i]&0xC0 == 0x80 {
				p.i++
			}
		}
		return atom()
	case '^', '$':
		p.i++
		return &pnode{kind: pZero, start: start, end: p.i}, true
	case '*', '+', '?':
		return nil, false // a quantifier with nothing to repeat: regexp2 rejected it already
	default:
		p.i++
		for p.i < len(p.s) && p.s[p.i]&0xC0 == 0x80 {
			p.i++
		}
		return atom()
	}
}

func (p *patParser) skipHex(n int) {
	for k := 0; k < n && p.i < len(p.s) && isHex(p.s[p.i]); k++ {
		p.i++
	}
}

func (p *patParser) skipOctal() {
	for k := 0; k < 2 && p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '7'; k++ {
		p.i++
	}
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || (c|0x20) >= 'a' && (c|0x20) <= 'f' }

// skipClass moves past a character class [...], including .NET class subtraction [a-z-[aeiou]].
func (p *patParser) skipClass() bool {
	p.i++ // '['
	if p.i < len(p.s) && p.s[p.i] == '^' {
		p.i++
	}
	if p.i < len(p.s) && p.s[p.i] == ']' { // a leading ']' is a literal
		p.i++
	}
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '\\':
			p.i += 2
		case '[':
			if p.i > 0 && p.s[p.i-1] == '-' {
				if !p.skipClass() {
					return false
				}
				continue
			}
			p.i++
		case ']':
			p.i++
			return true
		default:
			p.i++
		}
	}
	return false
}

func (p *patParser) parseGroup(depth int) (*pnode, bool) {
	start := p.i
	p.i++ // '('
	kind := pGroup
	if after := p.s[p.i:]; len(after) > 0 && after[0] == '?' {
		rest := after[1:]
		switch {
		case hasPrefix(rest, ":"), hasPrefix(rest, ">"):
			p.i += 2
		case hasPrefix(rest, "="), hasPrefix(rest, "!"):
			p.i += 2
			kind = pZero
		case hasPrefix(rest, "<="), hasPrefix(rest, "<!"):
			p.i += 3
			kind = pZero
		case hasPrefix(rest, "<"), hasPrefix(rest, "'"), hasPrefix(rest, "P<"):
			close := byte('>')
			if rest[0] == '\'' {
				close = '\''
			}
			for p.i < len(p.s) && p.s[p.i] != close {
				p.i++
			}
			if p.i >= len(p.s) {
				return nil, false
			}
			p.i++
		case hasPrefix(rest, "#"), hasPrefix(rest, "("):
			return nil, false // comments and conditionals: not analysed
		default:
			// Inline options: (?imsnx-imsnx) or (?imsnx-imsnx:...). 'x' changes how the pattern
			// reads (whitespace and comments ignored): not analysed.
			j := p.i + 1
			for j < len(p.s) && (p.s[j] == '-' || p.s[j] >= 'a' && p.s[j] <= 'z') {
				if p.s[j] == 'x' {
					return nil, false
				}
				j++
			}
			if j >= len(p.s) {
				return nil, false
			}
			switch p.s[j] {
			case ')':
				p.i = j + 1
				return nil, true
			case ':':
				p.i = j + 1
			default:
				return nil, false
			}
		}
	}
	body, ok := p.parseAlt(depth + 1)
	if !ok || p.i >= len(p.s) || p.s[p.i] != ')' {
		return nil, false
	}
	p.i++
	return &pnode{kind: kind, kids: []*pnode{body}, start: start, end: p.i}, true
}

func hasPrefix(s, pre string) bool { return len(s) >= len(pre) && s[:len(pre)] == pre }

// nullable reports whether n can match the empty string.
func nullable(n *pnode) bool {
	switch n.kind {
	case pAtom:
		return false
	case pZero:
		return true
	case pCat:
		for _, k := range n.kids {
			if !nullable(k) {
				return false
			}
		}
		return true
	case pAlt:
		for _, k := range n.kids {
			if nullable(k) {
				return true
			}
		}
		return false
	case pRep:
		return n.min == 0 || nullable(n.kids[0])
	case pGroup:
		return nullable(n.kids[0])
	}
	return false
}

type nesting struct{ outer, inner *pnode }

// findNested returns the first unbounded repeat whose body can match, alone, an inner unbounded
// repeat (or two adjacent unbounded repeats of the same atom), or nil.
func findNested(n *pnode) *nesting {
	if n.kind == pRep && n.max < 0 {
		if inner := loneRepeat(n.kids[0]); inner != nil {
			return &nesting{n, inner}
		}
	}
	for _, k := range n.kids {
		if bad := findNested(k); bad != nil {
			return bad
		}
	}
	return nil
}

// loneRepeat returns an unbounded repeat of a non-empty body that n can be reduced to: n is that
// repeat, or a group or alternative around it, or a concatenation in which everything else can
// match empty. Two adjacent unbounded repeats of the same atom (x+x+) count as one such repeat.
func loneRepeat(n *pnode) *pnode {
	switch n.kind {
	case pRep:
		if n.max < 0 && !nullable(n.kids[0]) {
			return n
		}
		if n.max != 0 && !nullable(n.kids[0]) {
			return loneRepeat(n.kids[0])
		}
	case pGroup:
		return loneRepeat(n.kids[0])
	case pAlt:
		for _, k := range n.kids {
			if r := loneRepeat(k); r != nil {
				return r
			}
		}
	case pCat:
		var required []int
		for i, k := range n.kids {
			if !nullable(k) {
				required = append(required, i)
			}
		}
		switch len(required) {
		case 0:
			for _, k := range n.kids {
				if r := loneRepeat(k); r != nil {
					return r
				}
			}
		case 1:
			return loneRepeat(n.kids[required[0]])
		case 2:
			a, b := n.kids[required[0]], n.kids[required[1]]
			// What lies between them can match empty, so x^k splits between the two in k-1 ways.
			if sameAtomRepeat(a, b) {
				return a
			}
		}
	}
	return nil
}

// sameAtomRepeat reports two unbounded repeats of the same single atom, such as x+ and x*.
func sameAtomRepeat(a, b *pnode) bool {
	return a.kind == pRep && b.kind == pRep && a.max < 0 && b.max < 0 &&
		a.kids[0].kind == pAtom && b.kids[0].kind == pAtom && a.kids[0].atom == b.kids[0].atom
}
