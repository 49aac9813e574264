package tokenizer

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"unicode"
	"unicode/utf8"
)

// genText deterministically produces about size bytes of deliberately awkward text: prose with
// contractions, indented code, digit runs, many scripts, emoji (ZWJ sequences, flags, skin
// tones), whitespace oddities and punctuation clusters. specials are sprinkled in verbatim.
func genText(seed uint64, size int, specials []string) string {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	words := []string{"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "tokenizer", "model",
		"training", "gradient", "Hello", "World", "and", "of", "to", "in", "is", "it", "that", "was", "for",
		"on", "are", "with", "as", "I", "his", "they", "be", "at", "one", "have", "this", "from", "by",
		"hot", "word", "but", "what", "some", "we", "can", "out", "other", "were", "all", "there", "when",
		"up", "use", "your", "how", "said", "an", "each", "she", "which", "do", "their", "time", "if",
		"don't", "it's", "they're", "we've", "I'm", "you'll", "he'd", "O'Neil", "rock'n'roll", "DON'T",
		"isn't", "'quoted'", "can't", "y'all", "ma'am", "'s", "''", "it''s", "Schrödinger", "naïve",
		"café", "résumé", "Ångström", "façade", "coöperate", "straße", "e\u0301cole", "São", "Paulo"}
	unicodeBits := []string{"东京は日本の首都です。", "中文分词测试", "Привет, как дела?", "Москва 2024",
		"مرحبا بالعالم", "١٢٣ ٤٥٦", "नमस्ते दुनिया", "Γειά σου Κόσμε", "안녕하세요 세계", "สวัสดีชาวโลก",
		"שלום עולם", "Ελληνικά", "ｆｕｌｌｗｉｄｔｈ　１２３", "x² + y³ = z⁴", "½ ¼ ¾", "Ⅻ ⅻ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
		"\u00a0nbsp\u00a0", "ideo\u3000space", "line\u2028sep", "zero\u200bwidth", "soft\u00adhyphen",
		"\ufeffbom", "ᜀᜁ", "ꓚꓳ", "𐐀𐐨", "\U0001e5d0\U0001e5d1 new16", "Ꟛꟛ"}
	emoji := []string{"😀", "👍🏽", "👩‍💻", "👨‍👩‍👧‍👦", "🇯🇵", "🏳️‍🌈", "❤️", "🤖🤖🤖", "✨", "🙂 🙃", "🧑🏿‍🚀",
		"☕️", "🔥💯"}
	punct := []string{"?!", "...", "…", "--->", "(*&^%$#@!)", "«»", "“quoted”", "‘single’", "!!!",
		"::", "=>", "<=", "!=", "&&", "||", "/* */", "//", "#", "@user", "$100", "%d", "^_^", "~/.bashrc",
		"[x]", "{}", "\"\"", "'", "''", "'''", "''s", "''ll", "<tag>", "</tag>", "<|fake|>", "<|im", "im_end|>"}
	spaces := []string{" ", "  ", "   ", "    ", "        ", "\t", "\t\t", "\n", "\n\n", "\n\n\n", "\r\n",
		"\r\n\r\n", " \n", "\n ", " \n \n", "\t\n", "\v", "\f", " \t ", "\n    ", "\n\t\t", "  \n\n  "}
	goCode := []string{
		"func main() {\n\tfmt.Println(\"hello, world\")\n\tfor i := 0; i < 10; i++ {\n\t\tx += i * 2\n\t}\n}\n",
		"type Point struct {\n\tX, Y float64 // coordinates\n}\n\nfunc (p *Point) Norm() float64 { return math.Hypot(p.X, p.Y) }\n",
		"if err != nil {\n\t\treturn nil, fmt.Errorf(\"load %s: %w\", path, err)\n\t}\n",
	}
	pyCode := []string{
		"def f(x):\n    if x > 0:\n        return x ** 2\n    else:\n        return -x\n",
		"class Foo(Bar):\n    \"\"\"Docstring.\"\"\"\n\n    def __init__(self, *args, **kwargs):\n        super().__init__(*args, **kwargs)\n        self.items = [i for i in range(100) if i % 3 == 0]\n",
		"    # comment with trailing spaces   \n\tmixed\t indent\n",
		"x = {'a': 1, \"b\": [1, 2, 3], 'c': None}  # dict\n",
	}
	number := func() string {
		switch r.IntN(8) {
		case 0:
			n := 1 + r.IntN(40)
			var b strings.Builder
			for range n {
				b.WriteByte(byte('0' + r.IntN(10)))
			}
			return b.String()
		case 1:
			return fmt.Sprintf("%d.%0*d", r.IntN(1000), 1+r.IntN(6), r.IntN(100000))
		case 2:
			return fmt.Sprintf("%04d-%02d-%02d", 1900+r.IntN(200), 1+r.IntN(12), 1+r.IntN(28))
		case 3:
			return fmt.Sprintf("%02d:%02d:%02d", r.IntN(24), r.IntN(60), r.IntN(60))
		case 4:
			return fmt.Sprintf("%d,%03d,%03d", r.IntN(1000), r.IntN(1000), r.IntN(1000))
		case 5:
			return fmt.Sprintf("+1 (%03d) %03d-%04d", r.IntN(1000), r.IntN(1000), r.IntN(10000))
		case 6:
			return fmt.Sprintf("%de-%d", r.IntN(100), r.IntN(30))
		}
		return fmt.Sprintf("v%d.%d.%d", r.IntN(10), r.IntN(30), r.IntN(100))
	}
	var b strings.Builder
	for b.Len() < size {
		switch k := r.IntN(20); {
		case k < 7:
			n := 3 + r.IntN(15)
			for i := range n {
				w := pick(words)
				if i == 0 {
					r0, n := utf8.DecodeRuneInString(w)
					w = string(unicode.ToUpper(r0)) + w[n:]
				}
				b.WriteString(w)
				if r.IntN(8) == 0 {
					b.WriteString(pick([]string{",", ";", ":", " -", "'s", "'S", "'"}))
				}
				if i < n-1 {
					if r.IntN(10) == 0 {
						b.WriteString(pick(spaces))
					} else {
						b.WriteByte(' ')
					}
				}
			}
			b.WriteString(pick([]string{". ", "! ", "? ", ".\n", ".\n\n", "...", "?!", ". "}))
		case k < 9:
			b.WriteString(pick(goCode))
		case k < 11:
			b.WriteString(pick(pyCode))
		case k < 13:
			b.WriteString(number())
			b.WriteString(pick([]string{" ", "", "\n", "%", " kg", "th", "."}))
		case k < 15:
			b.WriteString(pick(unicodeBits))
			b.WriteString(pick(spaces))
		case k < 16:
			b.WriteString(pick(emoji))
			b.WriteString(pick([]string{"", " ", "  ", "\n"}))
		case k < 17:
			b.WriteString(pick(punct))
			b.WriteString(pick([]string{"", " ", "a", "\n"}))
		case k < 19:
			b.WriteString(pick(spaces))
		default:
			if len(specials) > 0 {
				b.WriteString(pick([]string{"", " ", "\n", "  ", "x"}))
				b.WriteString(pick(specials))
				b.WriteString(pick([]string{"", " ", "\n", "  ", "x", "user\n"}))
			}
		}
	}
	return b.String()
}

// splitDocs cuts text into documents of 1..20 lines (always at line ends, so "\r\n" stays whole
// in one document) plus every line on its own.
func splitDocs(text string, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 7))
	lines := strings.SplitAfter(text, "\n")
	var docs []string
	for i := 0; i < len(lines); {
		n := min(1+r.IntN(20), len(lines)-i)
		docs = append(docs, strings.Join(lines[i:i+n], ""))
		i += n
	}
	for _, l := range lines[:min(len(lines), 1500)] {
		if l != "" {
			docs = append(docs, l)
		}
	}
	return docs
}
