package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/internal/testref"
)

// TestTrainedParity checks GPT-2-style tokenizer.json files trained by HF tokenizers itself, in
// both merge spellings and with the pre-tokenizer variants the package supports, against HF on
// the generated corpus; then Save → Load and Save → HF must give the same ids again.
func TestTrainedParity(t *testing.T) {
	c := writeCorpus(t, "trained", 3, 110_000, trainedSpecials)
	for _, variant := range []string{"pairs", "strings", "prefix", "digits", "digitruns", "split"} {
		t.Run(variant, func(t *testing.T) {
			path := trained(t, variant)
			tok, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			hf := hfEncode(t, path, c)
			checkParity(t, tok, c, hf)
			if variant == "prefix" {
				pre, suf := tok.SpecialTokensAdded()
				if len(pre) != 1 || len(suf) != 1 {
					t.Errorf("SpecialTokensAdded() = %v, %v; want one token each side", pre, suf)
				}
			}
			if variant != "prefix" {
				// "<tag>" strips the whitespace around it (lstrip/rstrip), which cannot come back.
				text := strings.ReplaceAll(c.text, "<tag>", "")
				if dec, _ := tok.Decode(tok.Encode(text)); dec != text {
					t.Errorf("Decode(Encode(text)) does not round-trip")
				}
			}
			// Save, then both we and HF must read the saved file back to the same ids.
			saved := filepath.Join(t.TempDir(), "tokenizer.json")
			if err := tok.Save(saved); err != nil {
				t.Fatal(err)
			}
			again, err := Load(saved)
			if err != nil {
				t.Fatalf("Load(saved): %v", err)
			}
			compareIDs(t, again, "saved then loaded", again.Encode(c.text), hf.Whole)
			if variant == "pairs" || variant == "split" {
				checkParity(t, again, c, hfEncode(t, saved, c))
			}
		})
	}
	if trainFormats["pairs"] != "list" || trainFormats["strings"] != "str" {
		t.Errorf("merge formats of the trained files = %v; want tokenizers to write pair lists and the rewrite strings", trainFormats)
	}
}

// TestSmolLM2GGUFParity builds SmolLM2's tokenizer from its GGUF metadata and compares it with
// the tokenizer HF transformers builds from the same GGUF.
func TestSmolLM2GGUFParity(t *testing.T) {
	r := smollm2(t)
	tok, err := FromGGUF(r.vocab)
	if err != nil {
		t.Fatal(err)
	}
	checkParity(t, tok, r.c, r.hf)
	if id, ok := tok.BOS(); !ok || id != r.vocab.BOS {
		t.Errorf("BOS() = %d, %v", id, ok)
	}
	if id, ok := tok.EOS(); !ok || id != r.vocab.EOS {
		t.Errorf("EOS() = %d, %v", id, ok)
	}
	if id, ok := tok.TokenID("<|im_start|>"); !ok || id != 1 {
		t.Errorf(`TokenID("<|im_start|>") = %d, %v`, id, ok)
	}
	if dec, _ := tok.Decode(tok.Encode(r.c.text)); dec != r.c.text {
		t.Errorf("Decode(Encode(text)) does not round-trip")
	}
	// The saved file must load in HF tokenizers and encode identically.
	saved := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := tok.Save(saved); err != nil {
		t.Fatal(err)
	}
	checkParity(t, tok, r.c, hfEncode(t, saved, r.c))
}

// TestSmolLM2TokenizerJSONParity loads the tokenizer.json that transformers wrote for the GGUF.
func TestSmolLM2TokenizerJSONParity(t *testing.T) {
	r := smollm2(t)
	tok, err := Load(r.tokJSON)
	if err != nil {
		t.Fatal(err)
	}
	checkParity(t, tok, r.c, r.hf)
}

// TestCharClassesMatchHF probes HF's regex engine for \p{L}, \p{N} and \s over every code point
// and checks the classes the hand-written splitter uses.
func TestCharClassesMatchHF(t *testing.T) {
	const script = `
import json, sys
from tokenizers import pre_tokenizers, Regex
chars = [c for c in range(0x110000) if not (0xD800 <= c < 0xE000)]
s = "".join(chr(c) for c in chars)
out = {}
for name, pat in [("L", r"\p{L}"), ("N", r"\p{N}"), ("S", r"\s")]:
    kept = bytearray(len(chars))
    for _, (a, b) in pre_tokenizers.Split(Regex(pat), behavior="removed").pre_tokenize_str(s):
        kept[a:b] = b"\x01" * (b - a)
    rs = []
    for i, c in enumerate(chars):
        if not kept[i]:
            if rs and rs[-1][1] == c - 1:
                rs[-1][1] = c
            else:
                rs.append([c, c])
    out[name] = rs
json.dump(out, sys.stdout)
`
	var classes map[string][][2]rune
	if err := json.Unmarshal(testref.RunPython(t, script), &classes); err != nil {
		t.Fatal(err)
	}
	want := map[rune]uint8{}
	for name, cls := range map[string]uint8{"L": clsLetter, "N": clsNumber, "S": clsSpace} {
		for _, r := range classes[name] {
			for c := r[0]; c <= r[1]; c++ {
				if prev, ok := want[c]; ok && prev != cls {
					t.Fatalf("HF puts %U in two classes", c)
				}
				want[c] = cls
			}
		}
	}
	bad := 0
	for c := rune(0); c < 0x110000; c++ {
		if c >= 0xD800 && c < 0xE000 {
			continue
		}
		if got := slowClass(c); got != want[c] {
			if bad++; bad <= 10 {
				t.Errorf("class of %U = %d, HF %d", c, got, want[c])
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d code points classified differently", bad)
	}
}

// TestSaveReadable: Save output is valid JSON that Load reads back to identical ids (HF reading
// saved files is covered by the parity tests).
func TestSaveReadable(t *testing.T) {
	tok := tinyTokenizer(t)
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := tok.Save(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil || !json.Valid(data) {
		t.Fatalf("saved file is not valid JSON: %v", err)
	}
	again, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"hello there", "the <|end|> thing", "  ünïcode 123\n\n"} {
		if a, b := tok.Encode(s), again.Encode(s); !equalIDs(a, b) {
			t.Errorf("%q: %v after Save/Load, %v before", s, b, a)
		}
	}
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
