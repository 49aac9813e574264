package tokenizer

import "unicode/utf8"

// byteRune maps every byte to the printable rune GPT-2's byte-level alphabet spells it with. The
// alphabet keeps printable Latin-1 bytes as themselves and moves the rest (controls, space, DEL,
// NBSP, soft hyphen) to U+0100 onwards in byte order, so every token is a visible string.
var byteRune [256]rune

// runeByte is the inverse of byteRune, indexed by rune (all alphabet runes are below 0x144).
var runeByte [0x144]int16

func init() {
	for i := range runeByte {
		runeByte[i] = -1
	}
	next := rune(256)
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteRune[b] = rune(b)
		} else {
			byteRune[b] = next
			next++
		}
		runeByte[byteRune[b]] = int16(b)
	}
}

// inAlphabet reports whether every rune of s belongs to the byte-level alphabet, which is how HF
// decides whether a token is already spelled byte-level or must be re-spelled.
func inAlphabet(s string) bool {
	for _, r := range s {
		if r < 0 || int(r) >= len(runeByte) || runeByte[r] < 0 {
			return false
		}
	}
	return true
}

// toByteLevel appends the byte-level spelling of the bytes of s to dst.
func toByteLevel(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		dst = utf8.AppendRune(dst, byteRune[s[i]])
	}
	return dst
}

// fromByteLevel appends the bytes a byte-level token stands for. Like HF's ByteLevel decoder, a
// token holding any rune outside the alphabet (an added token such as "a b") is taken verbatim.
func fromByteLevel(dst []byte, tok string) []byte {
	if !inAlphabet(tok) {
		return append(dst, tok...)
	}
	for _, r := range tok {
		dst = append(dst, byte(runeByte[r]))
	}
	return dst
}

// appendLossy appends b to dst as valid UTF-8, replacing each maximal ill-formed subsequence with
// U+FFFD. This is the Unicode "substitution of maximal subparts" rule that Rust's
// String::from_utf8_lossy (and so HF decode) follows; Go's utf8 decoding would instead emit one
// U+FFFD per bad byte, so truncated multi-byte sequences would decode differently.
func appendLossy(dst []byte, b []byte) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		r, w := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || w > 1 {
			dst = append(dst, b[i:i+w]...)
			i += w
			continue
		}
		dst = append(dst, "\uFFFD"...)
		i += maximalSubpart(b[i:])
	}
	return dst
}

// maximalSubpart returns the length of the longest prefix of b (which does not start a valid
// sequence) that could still begin a well-formed UTF-8 sequence, at least 1.
func maximalSubpart(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(b); k++ {
		x := b[n]
		if k == 0 {
			if x < lo || x > hi {
				return n
			}
		} else if x < 0x80 || x > 0xBF {
			return n
		}
		n++
	}
	return n
}
