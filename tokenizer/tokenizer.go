// Package tokenizer is a byte-level BPE tokenizer that reproduces the token ids of HuggingFace
// `tokenizers` for GPT-2-style tokenizer.json files (and SmolLM2's), and can be built from the
// tokenizer.ggml.* metadata of a GGUF file the way HF transformers converts it.
//
// Encoding follows HF's pipeline: added tokens are cut out of the text first (longest match
// first), the rest is pre-tokenized (Digits / Split / ByteLevel), and each piece is merged by
// BPE rank. Anything the package cannot reproduce exactly is rejected at load time with an error
// naming the component, rather than silently producing different ids.
package tokenizer

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/growthtrain/growthtrain/internal/mmap"
)

// Tokenizer encodes text to token ids and back. It is immutable after construction and safe for
// concurrent use.
type Tokenizer struct {
	source string // file (or "GGUF metadata") named in error messages

	vocab        map[string]int32 // model vocabulary, byte-level spelling → id
	tokens       []string         // id → token content, model vocabulary and added tokens
	merges       map[uint64]uint64
	mergeList    [][2]string // in rank order, kept for Save
	byteTok      [256]int32  // initial BPE symbol of each byte, -1 if the vocabulary lacks it
	unk          int32       // -1 when the model has no unk_token
	unkToken     string
	fuseUnk      bool
	ignoreMerges bool

	steps  []preStep
	added  []AddedToken // sorted by id
	rawM   *matcher     // added tokens matched on the raw text (normalized=false)
	normM  *matcher     // added tokens matched after normalization (normalized=true)
	prefix []int64      // ids the post-processor puts before the sequence
	suffix []int64      // ... and after it
	bos    int64
	eos    int64

	normalize normalizer // nil: none
	// decodeAs: normalized added tokens whose content the normalizer changes decode to the
	// normalized content, as HF (which stores them so) does.
	decodeAs map[int64]string

	// A character-level (SentencePiece-style) BPE: no ByteLevel step, the vocabulary spelled in
	// Unicode characters, unknown characters as <0xXX> byte tokens when byteFallback.
	charMode     bool
	byteFallback bool
	fallbackTok  [256]int32 // id of <0xXX>, -1 if absent (or byte_fallback off)
	charDec      charDecoder

	// Components written back verbatim by Save, so a loaded file round-trips.
	normJSON, preJSON, postJSON, decJSON json.RawMessage

	cache *wordCache
	pool  sync.Pool
}

// AddedToken is an entry of tokenizer.json's added_tokens: a string matched whole in the input
// before pre-tokenization and mapped straight to its id.
type AddedToken struct {
	ID         int64  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// VocabSize returns the number of ids, added tokens included (HF's
// get_vocab_size(with_added_tokens=True)); valid ids are 0..VocabSize()-1.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// TokenID returns the id of a token given in its vocabulary spelling (byte-level, e.g. "Ġthe"),
// or of an added token given by its content.
func (t *Tokenizer) TokenID(s string) (int64, bool) {
	for _, a := range t.added {
		if a.Content == s {
			return a.ID, true
		}
	}
	id, ok := t.vocab[s]
	return int64(id), ok
}

// Token returns the vocabulary spelling of id (or the content of an added token).
func (t *Tokenizer) Token(id int64) (string, bool) {
	if id < 0 || id >= int64(len(t.tokens)) {
		return "", false
	}
	return t.tokens[id], true
}

// BOS returns the beginning-of-sequence id, when the source says which it is (GGUF metadata, or
// tokenizer_config.json next to a loaded tokenizer.json).
func (t *Tokenizer) BOS() (int64, bool) { return t.bos, t.bos >= 0 }

// EOS returns the end-of-sequence id, when known (see BOS).
func (t *Tokenizer) EOS() (int64, bool) { return t.eos, t.eos >= 0 }

// UnencodableBytes returns the bytes that have no token and no unk_token to stand for them, in
// increasing order: Encode drops them, as HF does. Load refuses a vocab where one of them can
// occur in ordinary text (see isTextByte), so these are rare control characters and bytes that
// never occur in UTF-8.
func (t *Tokenizer) UnencodableBytes() []byte {
	var out []byte
	if t.unk >= 0 {
		return nil
	}
	for b, id := range t.byteTok {
		if id < 0 {
			out = append(out, byte(b))
		}
	}
	return out
}

// AddedTokens returns a copy of the added tokens, sorted by id.
func (t *Tokenizer) AddedTokens() []AddedToken { return append([]AddedToken(nil), t.added...) }

// SpecialTokensAdded reports the ids the post-processor (TemplateProcessing) puts before and
// after a single sequence, i.e. what EncodeWithSpecialTokens adds over Encode.
func (t *Tokenizer) SpecialTokensAdded() (prefix, suffix []int64) {
	return append([]int64(nil), t.prefix...), append([]int64(nil), t.suffix...)
}

// TryEncode returns the ids of text without post-processor tokens, like HF
// `tokenizer.encode(text, add_special_tokens=False)`. Added/special tokens written in the text
// (such as "<|im_start|>") are still recognised, as in HF.
//
// The only error is a Split regex that ran out of its time budget on the text (see
// RegexTimeBase; errors.Is(err, ErrRegexTimeout)); it names the tokenizer file and the pattern.
// Tokenizers without a Split pre-tokenizer (GPT-2 split, Digits: both hand-written and linear)
// never fail. Use TryEncode for text a user supplies.
//
// The ids get len(text)/4 slots up front (8 bytes each, two bytes per byte of text). Above
// 64 MiB that allocation is first checked against the memory the system can give, so a text too
// large for the process is an error, not the Go runtime's fatal out-of-memory.
func (t *Tokenizer) TryEncode(text string) ([]int64, error) {
	want := len(text)/4 + 8
	if n := int64(want) * 8; n > 64<<20 {
		if err := mmap.CheckAlloc(n); err != nil {
			return nil, fmt.Errorf("tokenizer: %s: a %d-byte text needs %d bytes for its ids, which cannot be had: %w",
				t.source, len(text), n, err)
		}
	}
	st := t.state()
	st.out = make([]int64, 0, want)
	st.encode(text)
	out, err := st.out, st.err
	st.out, st.err = nil, nil
	t.pool.Put(st)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", t.source, err)
	}
	return out, nil
}

// Encode is TryEncode for tokenizers that cannot fail (no Split pre-tokenizer) or text already
// known to encode; it panics with TryEncode's error otherwise.
func (t *Tokenizer) Encode(text string) []int64 {
	ids, err := t.TryEncode(text)
	if err != nil {
		panic(err)
	}
	return ids
}

// EncodeWithSpecialTokens is Encode plus the post-processor's special tokens, like HF's default
// `tokenizer.encode(text)`.
func (t *Tokenizer) EncodeWithSpecialTokens(text string) []int64 {
	ids, err := t.TryEncodeWithSpecialTokens(text)
	if err != nil {
		panic(err)
	}
	return ids
}

// TryEncodeWithSpecialTokens is TryEncode plus the post-processor's special tokens.
func (t *Tokenizer) TryEncodeWithSpecialTokens(text string) ([]int64, error) {
	ids, err := t.TryEncode(text)
	if err != nil || len(t.prefix) == 0 && len(t.suffix) == 0 {
		return ids, err
	}
	out := make([]int64, 0, len(t.prefix)+len(ids)+len(t.suffix))
	out = append(out, t.prefix...)
	out = append(out, ids...)
	return append(out, t.suffix...), nil
}

// EncodeBatch is TryEncodeBatch for tokenizers that cannot fail; it panics with its error
// otherwise.
func (t *Tokenizer) EncodeBatch(texts []string) [][]int64 {
	out, err := t.TryEncodeBatch(texts)
	if err != nil {
		panic(err)
	}
	return out
}

// TryEncodeBatch encodes texts in parallel (one worker per CPU) and returns their ids in order,
// or the error of the first text (in order) that failed.
func (t *Tokenizer) TryEncodeBatch(texts []string) ([][]int64, error) {
	out := make([][]int64, len(texts))
	errs := make([]error, len(texts))
	workers := min(runtime.GOMAXPROCS(0), len(texts))
	if workers <= 1 {
		for i, s := range texts {
			if out[i], errs[i] = t.TryEncode(s); errs[i] != nil {
				return nil, errs[i]
			}
		}
		return out, nil
	}
	var next sync.Mutex
	idx := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				next.Lock()
				i := idx
				idx++
				next.Unlock()
				if i >= len(texts) {
					return
				}
				out[i], errs[i] = t.TryEncode(texts[i])
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Decode turns ids back into text like HF's ByteLevel decoder with skip_special_tokens=False:
// each token's byte-level runes become bytes (a token with runes outside the alphabet, such as an
// added "a b", is taken verbatim), and byte sequences that are not valid UTF-8 become U+FFFD.
func (t *Tokenizer) Decode(ids []int64) (string, error) {
	if t.charMode {
		toks := make([]string, len(ids))
		for i, id := range ids {
			if id < 0 || id >= int64(len(t.tokens)) {
				return "", fmt.Errorf("tokenizer: decode: id %d out of range [0, %d)", id, len(t.tokens))
			}
			toks[i] = t.tokens[id]
			if s, ok := t.decodeAs[id]; ok {
				toks[i] = s
			}
		}
		for _, step := range t.charDec {
			toks = step(toks)
		}
		return strings.Join(toks, ""), nil
	}
	buf := make([]byte, 0, len(ids)*4)
	for _, id := range ids {
		if id < 0 || id >= int64(len(t.tokens)) {
			return "", fmt.Errorf("tokenizer: decode: id %d out of range [0, %d)", id, len(t.tokens))
		}
		tok := t.tokens[id]
		if s, ok := t.decodeAs[id]; ok {
			tok = s
		}
		buf = fromByteLevel(buf, tok)
	}
	if utf8.Valid(buf) {
		return string(buf), nil
	}
	return string(appendLossy(nil, buf)), nil
}

// encState is the per-call scratch space, pooled so the hot path does not allocate.
type encState struct {
	t      *Tokenizer
	out    []int64
	emits  []func(string)
	onText func(string)
	onNorm func(string)
	onID   func(int64)
	word   []int32
	ranks  []uint64
	buf    []byte
	err    error // the first pre-tokenizer error; the rest of the text is then skipped
	// mergeLong's scratch space, at most MaxBPEPiece symbols long.
	next, prev []int32
	alive      []bool
	heap       []heapEntry
	// atStart: the piece being pre-tokenized begins at offset 0 of the input (Metaspace's
	// prepend_scheme "first" needs it).
	atStart bool
}

func (t *Tokenizer) state() *encState {
	if v := t.pool.Get(); v != nil {
		return v.(*encState)
	}
	st := &encState{t: t}
	st.emits = make([]func(string), len(t.steps))
	for i := range t.steps {
		st.emits[i] = func(p string) { st.run(i+1, p) }
	}
	st.onText = func(s string) { st.normPhase(s) }
	st.onNorm = func(s string) {
		st.run(0, s)
		st.atStart = false
	}
	st.onID = func(id int64) {
		st.out = append(st.out, id)
		st.atStart = false
	}
	return st
}

func (st *encState) encode(text string) {
	st.atStart = true
	if st.t.rawM == nil {
		st.normPhase(text)
		return
	}
	st.t.rawM.split(text, st.onText, st.onID)
}

// normPhase runs on the pieces left between raw-matched added tokens: the normalizer rewrites
// each, then normalized=true added tokens are matched (HF matches them only at this stage,
// normalizer or not).
func (st *encState) normPhase(s string) {
	if st.t.normalize != nil {
		s = st.t.normalize(s)
	}
	if st.t.normM == nil {
		st.onNorm(s)
		return
	}
	st.t.normM.split(s, st.onNorm, st.onID)
}

func (st *encState) run(level int, s string) {
	if st.err != nil {
		return
	}
	if level == len(st.t.steps) {
		st.bpe(s)
		return
	}
	if m, ok := st.t.steps[level].(metaspaceStep); ok {
		m.splitAt(s, st.atStart, st.emits[level])
		return
	}
	if err := st.t.steps[level].split(s, st.emits[level]); err != nil && st.err == nil {
		st.err = err
	}
}

// MaxBPEPiece is the longest pre-token merged in one go. A longer one (a text of hundreds of
// megabytes without a space is one pre-token) is merged in consecutive chunks of at most this
// many bytes, cut between UTF-8 characters: BPE's scratch space costs ~75 bytes per byte of the
// piece, so this keeps it at a few megabytes whatever the input. Real pre-tokens (words, runs of
// spaces or punctuation, indentation) are far shorter, so their ids are exactly HF's; HF merges
// a longer piece whole, and ids may differ from HF's around the cuts.
const MaxBPEPiece = 64 << 10

// bpe appends the ids of one pre-token, chunk by chunk when it is longer than MaxBPEPiece.
func (st *encState) bpe(p string) {
	for len(p) > MaxBPEPiece {
		cut := MaxBPEPiece
		for k := 0; k < utf8.UTFMax && cut > 1 && !utf8.RuneStart(p[cut]); k++ {
			cut--
		}
		st.bpePiece(p[:cut])
		p = p[cut:]
	}
	st.bpePiece(p)
}

// bpePiece appends the ids of one pre-token of at most MaxBPEPiece bytes.
func (st *encState) bpePiece(p string) {
	if p == "" {
		return
	}
	t := st.t
	cacheable := len(p) <= cacheMaxPieceB
	if cacheable {
		if ids, ok := t.cache.get(p); ok {
			st.out = append(st.out, ids...)
			return
		}
	}
	start := len(st.out)
	if t.charMode {
		st.charBPE(p)
		if cacheable {
			t.cache.put(p, st.out[start:])
		}
		return
	}
	if t.ignoreMerges {
		st.buf = toByteLevel(st.buf[:0], p)
		if id, ok := t.vocab[string(st.buf)]; ok {
			st.out = append(st.out, int64(id))
			if cacheable {
				t.cache.put(p, st.out[start:])
			}
			return
		}
	}
	w := st.word[:0]
	for i := 0; i < len(p); i++ {
		id := t.byteTok[p[i]]
		if id < 0 {
			// HF drops characters missing from the vocabulary unless there is an unk token.
			if t.unk < 0 || (t.fuseUnk && len(w) > 0 && w[len(w)-1] == t.unk) {
				continue
			}
			id = t.unk
		}
		w = append(w, id)
	}
	w = st.mergeWord(w)
	for _, id := range w {
		st.out = append(st.out, int64(id))
	}
	st.word = w[:0]
	if cacheable {
		t.cache.put(p, st.out[start:])
	}
}

// charBPE appends the ids of one pre-token of a character-level BPE: each character is its
// vocabulary symbol, or (byte_fallback) the <0xXX> tokens of its bytes when all exist, or the
// unk token, or nothing; then the merges apply.
func (st *encState) charBPE(p string) {
	t := st.t
	if t.ignoreMerges {
		if id, ok := t.vocab[p]; ok {
			st.out = append(st.out, int64(id))
			return
		}
	}
	w := st.word[:0]
	for i, r := range p {
		n := utf8.RuneLen(r)
		if r == utf8.RuneError && !strings.HasPrefix(p[i:], "\uFFFD") {
			n = 1
		}
		c := p[i : i+n]
		if id, ok := t.vocab[c]; ok {
			w = append(w, id)
			continue
		}
		if t.byteFallback {
			all := true
			for j := 0; j < len(c); j++ {
				all = all && t.fallbackTok[c[j]] >= 0
			}
			if all {
				for j := 0; j < len(c); j++ {
					w = append(w, t.fallbackTok[c[j]])
				}
				continue
			}
		}
		if t.unk < 0 || (t.fuseUnk && len(w) > 0 && w[len(w)-1] == t.unk) {
			continue
		}
		w = append(w, t.unk)
	}
	w = st.mergeWord(w)
	for _, id := range w {
		st.out = append(st.out, int64(id))
	}
	st.word = w[:0]
}

// matcher finds added tokens leftmost-longest, as HF's Aho-Corasick automaton does. Added
// tokens are few, so a first-byte index with candidates sorted longest first is enough.
type matcher struct {
	first [256][]*AddedToken
}

func newMatcher(toks []*AddedToken) *matcher {
	if len(toks) == 0 {
		return nil
	}
	m := &matcher{}
	for _, a := range toks {
		if a.Content == "" {
			continue
		}
		b := a.Content[0]
		m.first[b] = append(m.first[b], a)
	}
	for b := range m.first {
		c := m.first[b]
		for i := 1; i < len(c); i++ { // insertion sort, longest first
			for j := i; j > 0 && len(c[j].Content) > len(c[j-1].Content); j-- {
				c[j], c[j-1] = c[j-1], c[j]
			}
		}
	}
	return m
}

// find returns the leftmost-longest match at or after from, or -1.
func (m *matcher) find(s string, from int) (int, *AddedToken) {
	for i := from; i < len(s); i++ {
		c := m.first[s[i]]
		if c == nil {
			continue
		}
		for _, a := range c {
			if len(s)-i >= len(a.Content) && s[i:i+len(a.Content)] == a.Content {
				return i, a
			}
		}
	}
	return -1, nil
}

// split hands the text between matches to text and each match's id to id, applying the
// single_word, lstrip and rstrip rules the way HF's AddedVocabulary does: the automaton's matches
// do not overlap, a single_word match next to a word character is dropped (not retried shorter),
// lstrip/rstrip widen the match over adjacent whitespace.
func (m *matcher) split(s string, text func(string), id func(int64)) {
	offset := 0 // end of the previous emitted match
	pos := 0    // where the automaton resumes
	for {
		i, a := m.find(s, pos)
		if a == nil {
			break
		}
		start, stop := i, i+len(a.Content)
		pos = stop
		if start < offset {
			continue
		}
		if a.SingleWord {
			if r, _ := utf8.DecodeLastRuneInString(s[:start]); start > 0 && isWordRune(r) {
				continue
			}
			if r, _ := utf8.DecodeRuneInString(s[stop:]); stop < len(s) && isWordRune(r) {
				continue
			}
		}
		if a.LStrip {
			for start > offset {
				r, w := utf8.DecodeLastRuneInString(s[:start])
				if !isWhiteSpace(r) {
					break
				}
				start -= w
			}
		}
		if a.RStrip {
			for stop < len(s) {
				r, w := utf8.DecodeRuneInString(s[stop:])
				if !isWhiteSpace(r) {
					break
				}
				stop += w
			}
		}
		if offset < start {
			text(s[offset:start])
		}
		id(a.ID)
		offset = stop
	}
	if offset < len(s) {
		text(s[offset:])
	}
}
