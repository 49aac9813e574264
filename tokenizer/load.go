package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dlclark/regexp2"

	"github.com/growthtrain/growthtrain/internal/inputfile"
)

// Size limits on the files Load reads (docs/limits.md): far above real files (the largest
// tokenizer.json files on the hub are ~35 MB; tokenizer_config.json files are kilobytes, a few
// MB with long chat templates), small enough that a hostile file cannot exhaust memory.
const (
	MaxJSONSize       = 128 << 20 // tokenizer.json
	MaxConfigJSONSize = 16 << 20  // tokenizer_config.json
)

// MaxVocabSize bounds the number of tokens, and of merges, a tokenizer may have (the largest
// real vocabularies have ~260K tokens). A GGUF file can list far more strings than that in a
// few gigabytes, and each token costs ~100 bytes of maps once built.
const MaxVocabSize = 1 << 24

// maxVocab is the limit in force; tests lower it.
var maxVocab = MaxVocabSize

// spec is everything needed to build a Tokenizer, gathered from tokenizer.json or GGUF metadata
// before the cross-checks in build.
type spec struct {
	source       string
	vocab        map[string]int32
	merges       [][2]string
	unkToken     string
	fuseUnk      bool
	ignoreMerges bool
	added        []AddedToken
	steps        []preStep
	norm         normalizer
	normJSON     json.RawMessage
	byteFallback bool
	charMode     bool // no ByteLevel: a SentencePiece-style vocabulary of characters
	charDec      charDecoder
	preJSON      json.RawMessage
	postJSON     json.RawMessage
	decJSON      json.RawMessage
	prefix       []int64
	suffix       []int64
	bos, eos     int64
}

// Load reads a HuggingFace tokenizer.json holding a byte-level BPE model. Components it cannot
// reproduce exactly (another model type, a normalizer other than those parseNormalizer lists, dropout, truncation,
// padding, a pre-tokenizer other than ByteLevel/Digits/Split, ...) are rejected with an error
// naming the file and the component, as are inconsistent files (ids duplicated or with gaps,
// merges of unknown tokens, added tokens that contradict the vocabulary).
//
// If a tokenizer_config.json sits next to the file, its bos_token and eos_token give BOS/EOS.
func Load(path string) (*Tokenizer, error) {
	data, err := inputfile.ReadFile(path, MaxJSONSize, "tokenizer.json")
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	sp, err := parseJSON(path, data)
	if err != nil {
		return nil, err
	}
	t, err := build(sp)
	if err != nil {
		return nil, err
	}
	t.readConfig(filepath.Join(filepath.Dir(path), "tokenizer_config.json"))
	return t, nil
}

// readConfig picks BOS/EOS out of a tokenizer_config.json; a missing or odd file (not a
// regular file, over MaxConfigJSONSize, not JSON) just leaves them unknown, since
// tokenizer.json alone is a complete tokenizer.
func (t *Tokenizer) readConfig(path string) {
	data, err := inputfile.ReadFile(path, MaxConfigJSONSize, "tokenizer_config.json")
	if err != nil {
		return
	}
	var cfg map[string]json.RawMessage
	if json.Unmarshal(data, &cfg) != nil {
		return
	}
	name := func(raw json.RawMessage) string {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		var o struct{ Content string }
		if json.Unmarshal(raw, &o) == nil {
			return o.Content
		}
		return ""
	}
	if id, ok := t.TokenID(name(cfg["bos_token"])); ok {
		t.bos = id
	}
	if id, ok := t.TokenID(name(cfg["eos_token"])); ok {
		t.eos = id
	}
}

type fileJSON struct {
	AddedTokens   []AddedToken    `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         json.RawMessage `json:"model"`
	Truncation    json.RawMessage `json:"truncation"`
	Padding       json.RawMessage `json:"padding"`
}

type modelJSON struct {
	Type                    string          `json:"type"`
	Dropout                 *float64        `json:"dropout"`
	UnkToken                *string         `json:"unk_token"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
	FuseUnk                 bool            `json:"fuse_unk"`
	ByteFallback            bool            `json:"byte_fallback"`
	IgnoreMerges            bool            `json:"ignore_merges"`
	Vocab                   json.RawMessage `json:"vocab"`
	Merges                  json.RawMessage `json:"merges"`
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

// typeOf returns the "type" field of a component object.
func typeOf(raw json.RawMessage) string {
	var o struct{ Type string }
	if json.Unmarshal(raw, &o) != nil {
		return "?"
	}
	return o.Type
}

func parseJSON(path string, data []byte) (spec, error) {
	sp := spec{source: path, bos: -1, eos: -1}
	fail := func(format string, args ...any) (spec, error) {
		return sp, fmt.Errorf("tokenizer: %s: "+format, append([]any{path}, args...)...)
	}
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return fail("malformed JSON: %v", err)
	}
	if isNull(f.Model) {
		return fail("missing model")
	}
	if !isNull(f.Truncation) {
		return fail("unsupported truncation (only null is supported)")
	}
	if !isNull(f.Padding) {
		return fail("unsupported padding (only null is supported)")
	}
	var err error
	if sp.norm, err = parseNormalizer(f.Normalizer); err != nil {
		return fail("normalizer: %v", err)
	}
	sp.normJSON = f.Normalizer
	var m modelJSON
	if err := json.Unmarshal(f.Model, &m); err != nil {
		return fail("malformed model: %v", err)
	}
	if m.Type != "BPE" {
		return fail("unsupported model type %q (only BPE is supported)", m.Type)
	}
	if m.Dropout != nil && *m.Dropout != 0 {
		return fail("unsupported BPE dropout %v (only null is supported)", *m.Dropout)
	}
	sp.byteFallback = m.ByteFallback
	if m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "" {
		return fail("unsupported BPE continuing_subword_prefix %q", *m.ContinuingSubwordPrefix)
	}
	if m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "" {
		return fail("unsupported BPE end_of_word_suffix %q", *m.EndOfWordSuffix)
	}
	if m.UnkToken != nil {
		sp.unkToken = *m.UnkToken
	}
	sp.fuseUnk, sp.ignoreMerges = m.FuseUnk, m.IgnoreMerges
	if sp.vocab, err = parseVocab(m.Vocab); err != nil {
		return fail("model vocab: %v", err)
	}
	if sp.merges, err = parseMerges(m.Merges); err != nil {
		return fail("model merges: %v", err)
	}
	sp.added = f.AddedTokens
	if sp.steps, err = parsePre(f.PreTokenizer); err != nil {
		return fail("pre_tokenizer: %v", err)
	}
	sp.preJSON = f.PreTokenizer
	sp.charMode = true
	for _, st := range sp.steps {
		if _, ok := st.(byteLevelStep); ok {
			sp.charMode = false
		}
	}
	if sp.charMode {
		if typeOf(f.Decoder) == "ByteLevel" {
			return fail("unsupported pre-tokenizer %s with a ByteLevel decoder (byte-level BPE needs the ByteLevel pre-tokenizer)", describePre(f.PreTokenizer))
		}
		if sp.charDec, err = parseCharDecoder(f.Decoder); err != nil {
			return fail("decoder: %v", err)
		}
	} else {
		if isNull(f.Decoder) || typeOf(f.Decoder) != "ByteLevel" {
			return fail("unsupported decoder %s (a byte-level BPE needs ByteLevel)", describe(f.Decoder))
		}
		if sp.byteFallback {
			return fail("byte_fallback with a ByteLevel pre-tokenizer (every byte already has a token)")
		}
	}
	sp.decJSON = f.Decoder
	if sp.prefix, sp.suffix, err = parsePost(f.PostProcessor); err != nil {
		return fail("post_processor: %v", err)
	}
	sp.postJSON = f.PostProcessor
	return sp, nil
}

// describePre names a pre-tokenizer in an error ("null" or its type).
func describePre(raw json.RawMessage) string {
	if isNull(raw) {
		return "null"
	}
	return fmt.Sprintf("%q", typeOf(raw))
}

func describe(raw json.RawMessage) string {
	if isNull(raw) {
		return "null"
	}
	return fmt.Sprintf("%q", typeOf(raw))
}

// parseVocab reads the vocab object token by token, so that a key written twice (which a plain
// map decode would silently collapse) is reported.
func parseVocab(raw json.RawMessage) (map[string]int32, error) {
	if isNull(raw) {
		return nil, errors.New("missing")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	vocab := make(map[string]int32)
	for dec.More() {
		if len(vocab) >= maxVocab {
			return nil, fmt.Errorf("more than %d tokens", maxVocab)
		}
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key := tok.(string)
		var id int64
		if err := dec.Decode(&id); err != nil {
			return nil, fmt.Errorf("token %q: id is not an integer: %w", key, err)
		}
		if id < 0 || id >= 1<<31-1 {
			return nil, fmt.Errorf("token %q: id %d out of range", key, id)
		}
		if _, dup := vocab[key]; dup {
			return nil, fmt.Errorf("token %q listed twice", key)
		}
		vocab[key] = int32(id)
	}
	return vocab, nil
}

// parseMerges accepts both spellings HF has used: "a b" strings and ["a", "b"] pairs.
func parseMerges(raw json.RawMessage) ([][2]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	// The file's size limit bounds what decoding costs; the count is checked after.
	var strs []string
	if err := json.Unmarshal(raw, &strs); err == nil {
		if len(strs) > maxVocab {
			return nil, fmt.Errorf("%d merges, more than %d", len(strs), maxVocab)
		}
		out := make([][2]string, len(strs))
		for i, s := range strs {
			a, b, ok := strings.Cut(s, " ")
			if !ok || strings.Contains(b, " ") {
				return nil, fmt.Errorf("merge %d %q is not two tokens separated by one space", i, s)
			}
			out[i] = [2]string{a, b}
		}
		return out, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, errors.New(`neither a list of "a b" strings nor a list of [a, b] pairs`)
	}
	if len(pairs) > maxVocab {
		return nil, fmt.Errorf("%d merges, more than %d", len(pairs), maxVocab)
	}
	out := make([][2]string, len(pairs))
	for i, p := range pairs {
		if len(p) != 2 {
			return nil, fmt.Errorf("merge %d has %d parts, want 2", i, len(p))
		}
		out[i] = [2]string{p[0], p[1]}
	}
	return out, nil
}

type preJSON struct {
	Type             string            `json:"type"`
	AddPrefixSpace   bool              `json:"add_prefix_space"`
	UseRegex         *bool             `json:"use_regex"`
	IndividualDigits bool              `json:"individual_digits"`
	Pretokenizers    []json.RawMessage `json:"pretokenizers"`
	Pattern          map[string]string `json:"pattern"`
	Behavior         string            `json:"behavior"`
	Invert           bool              `json:"invert"`
}

// parsePre flattens the pre-tokenizer into steps. ByteLevel must come last: it is where text
// turns into the byte alphabet the BPE vocabulary is spelled in.
func parsePre(raw json.RawMessage) ([]preStep, error) {
	if isNull(raw) {
		return nil, nil // a character-level BPE (legacy Llama-2: Prepend/Replace normalizers)
	}
	var steps []preStep
	var add func(raw json.RawMessage) error
	add = func(raw json.RawMessage) error {
		var p preJSON
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		switch p.Type {
		case "Sequence":
			for _, sub := range p.Pretokenizers {
				if err := add(sub); err != nil {
					return err
				}
			}
		case "ByteLevel":
			steps = append(steps, byteLevelStep{addPrefixSpace: p.AddPrefixSpace, useRegex: p.UseRegex == nil || *p.UseRegex})
		case "Metaspace":
			m, err := parseMetaspace(raw)
			if err != nil {
				return err
			}
			steps = append(steps, m)
		case "Digits":
			steps = append(steps, digitsStep{individual: p.IndividualDigits})
		case "Split":
			beh, ok := behaviorNames[p.Behavior]
			if !ok {
				return fmt.Errorf("unsupported Split behavior %q", p.Behavior)
			}
			var pat string
			if s, ok := p.Pattern["Regex"]; ok {
				pat = s
			} else if s, ok := p.Pattern["String"]; ok {
				pat = regexp2.Escape(s)
			} else {
				return errors.New("Split pattern is neither Regex nor String")
			}
			re, err := compileSplit(pat)
			if err != nil {
				return err
			}
			steps = append(steps, regexSplitStep{re: re, behavior: beh, invert: p.Invert})
		default:
			return fmt.Errorf("unsupported pre-tokenizer %q (supported: ByteLevel, Metaspace, Digits, Split, Sequence)", p.Type)
		}
		return nil
	}
	if err := add(raw); err != nil {
		return nil, err
	}
	levels, metas := 0, 0
	for i, s := range steps {
		switch s.(type) {
		case byteLevelStep:
			levels++
			if i != len(steps)-1 {
				return nil, errors.New("unsupported arrangement: ByteLevel must be the last step")
			}
		case metaspaceStep:
			metas++
		}
	}
	if levels > 1 || (levels == 1 && metas > 0) || metas > 1 {
		return nil, errors.New("unsupported arrangement: one ByteLevel (byte-level BPE) or at most one Metaspace (SentencePiece-style BPE)")
	}
	return steps, nil
}

type postJSON struct {
	Type       string            `json:"type"`
	Processors []json.RawMessage `json:"processors"`
	Single     []struct {
		SpecialToken *struct {
			ID string `json:"id"`
		} `json:"SpecialToken"`
		Sequence *struct {
			ID string `json:"id"`
		} `json:"Sequence"`
	} `json:"single"`
	SpecialTokens map[string]struct {
		IDs []int64 `json:"ids"`
	} `json:"special_tokens"`
}

// parsePost returns the ids TemplateProcessing adds around a single sequence. ByteLevel as a
// post-processor only adjusts offsets, so it adds nothing.
func parsePost(raw json.RawMessage) (prefix, suffix []int64, err error) {
	if isNull(raw) {
		return nil, nil, nil
	}
	var p postJSON
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, nil, err
	}
	switch p.Type {
	case "ByteLevel":
		return nil, nil, nil
	case "Sequence":
		for _, sub := range p.Processors {
			pre, suf, err := parsePost(sub)
			if err != nil {
				return nil, nil, err
			}
			prefix, suffix = append(prefix, pre...), append(suffix, suf...)
		}
		return prefix, suffix, nil
	case "TemplateProcessing":
		seen := false
		for _, item := range p.Single {
			switch {
			case item.Sequence != nil:
				seen = true
			case item.SpecialToken != nil:
				st, ok := p.SpecialTokens[item.SpecialToken.ID]
				if !ok {
					return nil, nil, fmt.Errorf("template uses special token %q missing from special_tokens", item.SpecialToken.ID)
				}
				if seen {
					suffix = append(suffix, st.IDs...)
				} else {
					prefix = append(prefix, st.IDs...)
				}
			default:
				return nil, nil, errors.New("template item is neither SpecialToken nor Sequence")
			}
		}
		return prefix, suffix, nil
	}
	return nil, nil, fmt.Errorf("unsupported post-processor %q (supported: null, ByteLevel, TemplateProcessing, Sequence)", p.Type)
}

// isTextByte reports bytes of ordinary UTF-8 text: printable ASCII, tab, newline, carriage
// return, and the bytes of assigned multi-byte characters: continuations 0x80-0xBF and the
// leads 0xC2-0xF0, 0xF3 (plane 14: tags, variation selectors) and 0xF4 (plane 16). 0xF1 and
// 0xF2 lead only planes 4-11, where Unicode 16 assigns nothing.
func isTextByte(b byte) bool {
	return b == '\t' || b == '\n' || b == '\r' || b >= 0x20 && b < 0x7F || b >= 0x80 && b <= 0xBF ||
		b >= 0xC2 && b <= 0xF0 || b == 0xF3 || b == 0xF4
}

// build cross-checks the parts and assembles the Tokenizer.
func build(sp spec) (*Tokenizer, error) {
	fail := func(format string, args ...any) (*Tokenizer, error) {
		return nil, fmt.Errorf("tokenizer: %s: "+format, append([]any{sp.source}, args...)...)
	}
	// Ids: vocabulary and added tokens together must cover 0..n-1, each id naming one string.
	byID := make(map[int64]string, len(sp.vocab)+len(sp.added))
	for tok, id := range sp.vocab {
		if other, dup := byID[int64(id)]; dup {
			a, b := min(tok, other), max(tok, other)
			return fail("vocab id %d is given to both %q and %q", id, a, b)
		}
		byID[int64(id)] = tok
	}
	added := append([]AddedToken(nil), sp.added...)
	sort.SliceStable(added, func(i, j int) bool { return added[i].ID < added[j].ID })
	seenContent := map[string]int64{}
	for _, a := range added {
		if a.Content == "" {
			return fail("added token %d has empty content", a.ID)
		}
		if a.ID < 0 || a.ID >= 1<<31-1 {
			return fail("added token %q has id %d out of range", a.Content, a.ID)
		}
		if prev, dup := seenContent[a.Content]; dup {
			return fail("added token %q listed twice (ids %d and %d)", a.Content, prev, a.ID)
		}
		seenContent[a.Content] = a.ID
		if vid, ok := sp.vocab[a.Content]; ok && int64(vid) != a.ID {
			return fail("added token %q has id %d but the vocab gives it id %d", a.Content, a.ID, vid)
		}
		if other, ok := byID[a.ID]; ok && other != a.Content {
			return fail("added token %q has id %d, which already belongs to %q", a.Content, a.ID, other)
		}
		byID[a.ID] = a.Content
	}
	n := int64(len(byID))
	for id := range byID {
		if id >= n {
			missing := int64(0)
			for ; missing < n; missing++ {
				if _, ok := byID[missing]; !ok {
					break
				}
			}
			return fail("ids are not contiguous: %d tokens but id %d is used and id %d is not", n, id, missing)
		}
	}
	t := &Tokenizer{
		source:       sp.source,
		vocab:        sp.vocab,
		tokens:       make([]string, n),
		merges:       make(map[uint64]uint64, len(sp.merges)),
		mergeList:    sp.merges,
		unk:          -1,
		unkToken:     sp.unkToken,
		fuseUnk:      sp.fuseUnk,
		ignoreMerges: sp.ignoreMerges,
		steps:        sp.steps,
		added:        added,
		prefix:       sp.prefix,
		suffix:       sp.suffix,
		bos:          sp.bos,
		eos:          sp.eos,
		normalize:    sp.norm,
		byteFallback: sp.byteFallback,
		charMode:     sp.charMode,
		charDec:      sp.charDec,
		normJSON:     sp.normJSON,
		preJSON:      sp.preJSON,
		postJSON:     sp.postJSON,
		decJSON:      sp.decJSON,
		cache:        newWordCache(),
	}
	for id, s := range byID {
		t.tokens[id] = s
	}
	if sp.unkToken != "" {
		id, ok := sp.vocab[sp.unkToken]
		if !ok {
			return fail("unk_token %q is not in the vocab", sp.unkToken)
		}
		t.unk = id
	}
	// HF drops a byte that has no token and no unk to stand for it, so text loses characters
	// without a word. A vocab lacking a byte of ordinary text (isTextByte) with no unk_token is
	// refused. Real vocabularies do lack rare control characters and bytes no assigned
	// character uses (SmolLM2 lacks 21: 0x04, 0x06, 0x13, 0x14, 0x16, 0x1D, 0xC0, 0xC1, 0xF1,
	// 0xF2, 0xF5-0xFF); those are dropped exactly as HF drops them (UnencodableBytes lists
	// them). With an unk_token, missing bytes encode to it, as in HF.
	var missing []string
	for b := range 256 {
		t.fallbackTok[b] = -1
		if id, ok := sp.vocab[fmt.Sprintf("<0x%02X>", b)]; ok && sp.byteFallback {
			t.fallbackTok[b] = id
		}
		t.byteTok[b] = -1
		if id, ok := sp.vocab[string(byteRune[b])]; ok {
			t.byteTok[b] = id
		} else if t.unk < 0 && isTextByte(byte(b)) && !sp.charMode {
			missing = append(missing, fmt.Sprintf("0x%02X", b))
		}
		// A character-level vocabulary without unk_token loses a character it lacks unless
		// byte_fallback has the tokens of its bytes.
		if sp.charMode && t.unk < 0 && isTextByte(byte(b)) && t.fallbackTok[b] < 0 {
			missing = append(missing, fmt.Sprintf("<0x%02X>", b))
		}
	}
	if len(missing) > 0 && sp.charMode {
		if len(missing) > 8 {
			missing = append(missing[:8], fmt.Sprintf("and %d more", len(missing)-8))
		}
		return fail("a character-level vocab without unk_token needs byte_fallback and its byte tokens, but %s are missing: "+
			"text with characters outside the vocab would lose them", strings.Join(missing, ", "))
	}
	if len(missing) > 0 {
		if len(missing) > 8 {
			missing = append(missing[:8], fmt.Sprintf("and %d more", len(missing)-8))
		}
		return fail("the vocab lacks the byte-level tokens of %s and there is no unk_token: "+
			"text holding those bytes would lose characters", strings.Join(missing, ", "))
	}
	for rank, m := range sp.merges {
		a, ok := sp.vocab[m[0]]
		if !ok {
			return fail("merge %d (%q %q) uses %q, which is not in the vocab", rank, m[0], m[1], m[0])
		}
		b, ok := sp.vocab[m[1]]
		if !ok {
			return fail("merge %d (%q %q) uses %q, which is not in the vocab", rank, m[0], m[1], m[1])
		}
		c, ok := sp.vocab[m[0]+m[1]]
		if !ok {
			return fail("merge %d (%q %q) produces %q, which is not in the vocab", rank, m[0], m[1], m[0]+m[1])
		}
		// A pair listed twice keeps its last rank, as HF's merge map does.
		t.merges[pairKey(a, b)] = uint64(rank)<<32 | uint64(uint32(c))
	}
	for _, p := range append(append([]int64(nil), sp.prefix...), sp.suffix...) {
		if p < 0 || p >= n {
			return fail("post_processor adds id %d, out of range [0, %d)", p, n)
		}
	}
	var raw, norm []*AddedToken
	for i := range t.added {
		if t.added[i].Normalized {
			// HF matches these in the normalized text, against their normalized content.
			a := &t.added[i]
			if t.normalize != nil {
				c := *a
				c.Content = t.normalize(a.Content)
				a = &c
				if c.Content != t.added[i].Content { // and decode them to it
					if t.decodeAs == nil {
						t.decodeAs = map[int64]string{}
					}
					t.decodeAs[c.ID] = c.Content
				}
			}
			norm = append(norm, a)
		} else {
			raw = append(raw, &t.added[i])
		}
	}
	t.rawM, t.normM = newMatcher(raw), newMatcher(norm)
	return t, nil
}
