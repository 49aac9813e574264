package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// Character classes of the GPT-2 split pattern. HF tokenizers evaluates \p{L}, \p{N} and \s with
// Oniguruma, whose tables are Unicode 16.0, while Go 1.26's unicode package is Unicode 15.0. The
// extra tables below hold the code points Unicode 16 added to L and N (nothing was removed); they
// were derived by probing HF's regex over every code point, and TestCharClassesMatchHF re-checks
// all 1.1M code points against HF so a version bump on either side is caught.
const (
	clsOther uint8 = iota
	clsLetter
	clsNumber
	clsSpace
)

var letters16 = &unicode.RangeTable{
	R16: []unicode.Range16{
		{0x1C89, 0x1C8A, 1}, {0xA7CB, 0xA7CD, 1}, {0xA7DA, 0xA7DC, 1},
	},
	R32: []unicode.Range32{
		{0x105C0, 0x105F3, 1}, {0x10D4A, 0x10D65, 1}, {0x10D6F, 0x10D85, 1}, {0x10EC2, 0x10EC4, 1},
		{0x11380, 0x11389, 1}, {0x1138B, 0x1138B, 1}, {0x1138E, 0x1138E, 1}, {0x11390, 0x113B5, 1},
		{0x113B7, 0x113B7, 1}, {0x113D1, 0x113D1, 1}, {0x113D3, 0x113D3, 1}, {0x11BC0, 0x11BE0, 1},
		{0x13460, 0x143FA, 1}, {0x16100, 0x1611D, 1}, {0x16D40, 0x16D6C, 1}, {0x18CFF, 0x18CFF, 1},
		{0x1E5D0, 0x1E5ED, 1}, {0x1E5F0, 0x1E5F0, 1}, {0x2EBF0, 0x2EE5D, 1},
	},
}

var numbers16 = &unicode.RangeTable{
	R32: []unicode.Range32{
		{0x10D40, 0x10D49, 1}, {0x116D0, 0x116E3, 1}, {0x11BF0, 0x11BF9, 1}, {0x16130, 0x16139, 1},
		{0x16D70, 0x16D79, 1}, {0x1CCF0, 0x1CCF9, 1}, {0x1E5F1, 0x1E5FA, 1},
	},
}

// asciiClass caches classOf for ASCII, the overwhelmingly common case.
var asciiClass [utf8.RuneSelf]uint8

func init() {
	for r := rune(0); r < utf8.RuneSelf; r++ {
		asciiClass[r] = slowClass(r)
	}
}

// isWhiteSpace is Unicode's White_Space property, which is what Oniguruma's \s matches (25 code
// points). Go's unicode.IsSpace agrees on this set.
func isWhiteSpace(r rune) bool { return unicode.IsSpace(r) }

func isLetter(r rune) bool { return unicode.IsLetter(r) || unicode.Is(letters16, r) }

// isNumber is \p{N}; Rust's char::is_numeric (used by the Digits pre-tokenizer) is the same set.
func isNumber(r rune) bool { return unicode.IsNumber(r) || unicode.Is(numbers16, r) }

func slowClass(r rune) uint8 {
	switch {
	case isWhiteSpace(r):
		return clsSpace
	case isLetter(r):
		return clsLetter
	case isNumber(r):
		return clsNumber
	}
	return clsOther
}

// classAt decodes the rune at s[i:] and returns its class and width. Invalid UTF-8 bytes count as
// one-byte "other" characters, so arbitrary Go strings pre-tokenize without loss.
func classAt(s string, i int) (uint8, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return asciiClass[c], 1
	}
	r, w := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && w == 1 {
		return clsOther, 1
	}
	return slowClass(r), w
}

// isWordRune approximates \w of Rust's regex crate (alphabetic, marks, decimal digits, connector
// punctuation, joiners); only the single_word flag of added tokens uses it.
func isWordRune(r rune) bool {
	return isLetter(r) || unicode.IsMark(r) || unicode.Is(unicode.Nd, r) || unicode.Is(unicode.Nl, r) ||
		unicode.Is(unicode.Pc, r) || r == 0x200C || r == 0x200D
}
