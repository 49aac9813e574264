package tokenizer

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/internal/testref"
)

// spmScript trains small BPE tokenizers with HF tokenizers in the configurations this package
// added beyond byte-level BPE, and saves each as <outdir>/<name>.json:
//   - nfkc, nfc: byte-level BPE behind an NFKC / NFC normalizer;
//   - meta-first: SentencePiece-style BPE as HF converts Llama-2/Mistral today (Metaspace
//     prepend_scheme first, split false, byte_fallback, <0xXX> tokens, unk);
//   - meta-always-split: Metaspace prepend_scheme always with split, NFKC normalizer;
//   - legacy: the older Llama-2 file (normalizers Prepend("▁") + Replace(" ", "▁"), no
//     pre-tokenizer).
//
// The character alphabet is limited, so CJK and emoji go through byte fallback.
const spmScript = `
import sys, json
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, decoders, trainers, AddedToken
text_path, outdir = sys.argv[1], sys.argv[2]
specials = ["<unk>", "<s>", "</s>"]

def byte_level(norm):
    tok = Tokenizer(models.BPE())
    tok.normalizer = norm
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train([text_path], trainers.BpeTrainer(vocab_size=1500, special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    tok.add_tokens([AddedToken("ﬁx", normalized=True), AddedToken("<raw>", normalized=False)])
    return tok

def spm(norm, pre, dec):
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    tok.normalizer = norm
    tok.pre_tokenizer = pre
    tok.decoder = dec
    tok.train([text_path], trainers.BpeTrainer(vocab_size=1200, special_tokens=specials,
        limit_alphabet=120, show_progress=False))
    # Put the 256 byte tokens right after the specials, as Llama-2's vocabulary has them.
    d = json.loads(tok.to_str())
    old = d["model"]["vocab"]
    vocab = {s: i for i, s in enumerate(specials)}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    for s, _ in sorted(old.items(), key=lambda kv: kv[1]):
        if s not in vocab:
            vocab[s] = len(vocab)
    d["model"]["vocab"] = vocab
    for a in d["added_tokens"]:
        a["id"] = vocab[a["content"]]
    return Tokenizer.from_str(json.dumps(d))

sp_dec = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
toks = {
    "nfkc": byte_level(normalizers.NFKC()),
    "nfc": byte_level(normalizers.NFC()),
    "meta-first": spm(None, pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False), sp_dec),
    "meta-always-split": spm(normalizers.NFKC(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True),
        decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)),
    "legacy": spm(normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")]), None, sp_dec),
}
for name, tok in toks.items():
    if name.startswith("meta") or name == "legacy":
        tok.add_special_tokens([AddedToken("<|sep|>", normalized=False)])
    tok.save(outdir + "/" + name + ".json")
`

// Normalizers (NFKC, NFC, Prepend, Replace), the Metaspace pre-tokenizer and byte_fallback give
// HF tokenizers' ids on the varied corpus (whitespace runs, CJK, emoji, code), each document
// alone, and decode back as HF does; a saved file reads back the same.
func TestNormalizerAndSentencePieceParity(t *testing.T) {
	specials := []string{"<|sep|>", "<raw>", "ﬁx", "<s>"}
	train := writeCorpus(t, "spm-train", 11, 120_000, nil)
	dir := t.TempDir()
	testref.RunPython(t, spmScript, train.textPath, dir)
	c := writeCorpus(t, "spm-eval", 12, 60_000, specials)
	for _, name := range []string{"nfkc", "nfc", "meta-first", "meta-always-split", "legacy"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name+".json")
			tok, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			hf := hfEncode(t, path, c)
			checkParity(t, tok, c, hf)
			if strings.HasPrefix(name, "meta") || name == "legacy" {
				fallback := 0
				for _, id := range hf.Whole {
					if s, _ := tok.Token(id); strings.HasPrefix(s, "<0x") {
						fallback++
					}
				}
				if fallback < 100 {
					t.Errorf("only %d byte-fallback tokens: the test does not exercise byte_fallback", fallback)
				}
			}
			saved := filepath.Join(t.TempDir(), "tokenizer.json")
			if err := tok.Save(saved); err != nil {
				t.Fatal(err)
			}
			again, err := Load(saved)
			if err != nil {
				t.Fatalf("Load(saved): %v", err)
			}
			compareIDs(t, again, "saved then loaded", again.Encode(c.text), hf.Whole)
		})
	}
}
