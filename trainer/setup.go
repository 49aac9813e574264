package trainer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/data"
	"github.com/growthtrain/growthtrain/model"
	"github.com/growthtrain/growthtrain/tokenizer"
)

// defaultTrainedVocab is the vocabulary "auto" trains when SmolLM2's tokenizer is absent.
const defaultTrainedVocab = 4096

func loadCorpus(b *Budget) ([]data.Document, error) {
	if len(b.Data.Corpus) == 1 && b.Data.Corpus[0] == "default" {
		return data.DefaultCorpus()
	}
	paths := make([]string, len(b.Data.Corpus))
	for i, p := range b.Data.Corpus {
		paths[i] = b.Resolve(p)
	}
	docs, err := data.LoadFiles(paths...)
	if err != nil {
		return nil, fmt.Errorf("[data] corpus: %w", err)
	}
	if len(docs) < 2 {
		return nil, fmt.Errorf("[data] corpus: %d document(s); a train/validation split needs at least 2", len(docs))
	}
	return docs, nil
}

// resolveTokenizer returns the tokenizer the budget asks for and where it came from. "auto"
// takes the tokenizer file auto names when it exists (the CLI passes SmolLM2's GGUF), else
// trains one. Trained tokenizers are cached in the data cache directory, keyed by the training
// documents and the vocabulary size.
func resolveTokenizer(b *Budget, train []data.Document, auto string) (*tokenizer.Tokenizer, string, error) {
	spec := b.Data.Tokenizer
	if spec == "" || spec == "auto" {
		if auto != "" {
			if _, err := os.Stat(auto); err == nil {
				t, err := loadTokenizerFile(auto)
				return t, auto, err
			}
		}
		spec = "train:" + strconv.Itoa(defaultTrainedVocab)
	}
	if rest, ok := strings.CutPrefix(spec, "train:"); ok {
		vocab, _ := strconv.Atoi(rest)
		// A directory (tokenizer.json and tokenizer_config.json), so the trained tokenizer's
		// end-of-text token survives the cache: checkpoints name it and it separates documents.
		cache := b.Resolve(b.Data.CacheDir)
		dir := filepath.Join(cache, fmt.Sprintf("tokenizer-%s-%d", data.CorpusHash(train)[:16], vocab))
		if t, err := tokenizer.Load(filepath.Join(dir, "tokenizer.json")); err == nil {
			return t, spec, nil
		}
		texts := make([]string, len(train))
		for i, d := range train {
			texts[i] = d.Text
		}
		t, err := tokenizer.Train(texts, tokenizer.TrainOptions{VocabSize: vocab, SpecialTokens: []string{"<|endoftext|>"}})
		if err != nil {
			return nil, "", fmt.Errorf("[data] tokenizer %s: %w", spec, err)
		}
		if err := t.SaveDir(dir); err != nil {
			return nil, "", err
		}
		return t, spec, nil
	}
	p := b.Resolve(spec)
	t, err := loadTokenizerFile(p)
	return t, p, err
}

func loadTokenizerFile(p string) (*tokenizer.Tokenizer, error) {
	if strings.HasSuffix(strings.ToLower(p), ".gguf") {
		return tokenizer.LoadGGUF(p)
	}
	return tokenizer.Load(p)
}

// fingerprint identifies a training trajectory: the budget's fingerprint and the tokenizer
// actually used ("auto" may resolve to different tokenizers on different machines).
func fingerprint(b *Budget, tokKey string) string {
	sum := sha256.Sum256([]byte(b.Fingerprint() + "\ntokenizer " + tokKey))
	return hex.EncodeToString(sum[:12])
}

// Separator is the token placed between documents when they are joined into one token stream
// (training, validation, and the recovery fine-tuning text of analyze, so that all see the
// same kind of stream): the tokenizer's end-of-sequence token, or, for a tokenizer that has
// none, id 0 (the first special token of a tokenizer trained with special tokens; otherwise a
// plain byte token, which then marks document boundaries like any fixed token would).
func Separator(t *tokenizer.Tokenizer) int64 {
	if eos, ok := t.EOS(); ok {
		return eos
	}
	return 0
}

// tokenizerKey identifies a tokenizer for the token cache: a hash of its tokenizer.json.
func tokenizerKey(t *tokenizer.Tokenizer) string {
	sum := sha256.Sum256(t.JSON())
	return hex.EncodeToString(sum[:8])
}

// modelConfig builds the architecture: an HF config.json if given, then the inline keys.
// vocab_size 0 takes the tokenizer's.
func modelConfig(b *Budget, vocab int) (model.Config, error) {
	var c model.Config
	mc := b.Model
	if mc.Config != "" {
		var err error
		if c, err = model.LoadConfig(b.Resolve(mc.Config)); err != nil {
			return c, fmt.Errorf("[model] config: %w", err)
		}
	} else {
		c = model.Config{RMSNormEps: 1e-5, RopeTheta: 10000, TieWordEmbeddings: true, HiddenAct: "silu", MaxPositionEmbeddings: max(2048, b.Data.SeqLen)}
	}
	set := func(dst *int, v int) {
		if v != 0 {
			*dst = v
		}
	}
	set(&c.VocabSize, mc.VocabSize)
	set(&c.HiddenSize, mc.HiddenSize)
	set(&c.IntermediateSize, mc.IntermediateSize)
	set(&c.NumHiddenLayers, mc.NumHiddenLayers)
	set(&c.NumAttentionHeads, mc.NumAttentionHeads)
	set(&c.NumKeyValueHeads, mc.NumKeyValueHeads)
	set(&c.MaxPositionEmbeddings, mc.MaxPositionEmbeddings)
	if mc.RopeTheta != 0 {
		c.RopeTheta = mc.RopeTheta
	}
	if mc.RMSNormEps != 0 {
		c.RMSNormEps = mc.RMSNormEps
	}
	if mc.TieWordEmbeddings != nil {
		c.TieWordEmbeddings = *mc.TieWordEmbeddings
	}
	if c.VocabSize == 0 {
		c.VocabSize = vocab
	}
	c.FillDefaults()
	if c.VocabSize < vocab {
		return c, fmt.Errorf("[model] vocab_size %d is smaller than the tokenizer's %d", c.VocabSize, vocab)
	}
	if c.MaxPositionEmbeddings < b.Data.SeqLen {
		return c, fmt.Errorf("[model] max_position_embeddings %d is shorter than [data] seq_len %d", c.MaxPositionEmbeddings, b.Data.SeqLen)
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("[model] %w", err)
	}
	return c, nil
}

// initModel creates the model from scratch (seeded) or loads initial weights.
func initModel(b *Budget, cfg model.Config) (*model.Model, error) {
	if b.Model.Init == "" || b.Model.Init == "scratch" {
		gen := torch.NewGenerator(b.Run.Seed, torch.CPU)
		defer gen.Close()
		return model.New(cfg, gen)
	}
	m, err := model.Load(b.Resolve(b.Model.Init), model.LoadOptions{})
	if err != nil {
		return nil, fmt.Errorf("[model] init: %w", err)
	}
	if m.Config.NumHiddenLayers != cfg.NumHiddenLayers || m.Config.HiddenSize != cfg.HiddenSize || m.Config.VocabSize != cfg.VocabSize {
		m.Close()
		return nil, fmt.Errorf("[model] init %s: %d layers, hidden %d, vocab %d; the budget says %d, %d, %d",
			b.Model.Init, m.Config.NumHiddenLayers, m.Config.HiddenSize, m.Config.VocabSize, cfg.NumHiddenLayers, cfg.HiddenSize, cfg.VocabSize)
	}
	return m, nil
}
