package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
)

// TrainOptions configures Train.
type TrainOptions struct {
	// VocabSize is the total number of ids wanted: special tokens, the 256 byte tokens and the
	// merged tokens together. Training stops earlier when no pair is frequent enough.
	VocabSize int
	// MinFrequency is the smallest number of occurrences a pair needs to be merged; 0 means 2.
	MinFrequency int
	// SpecialTokens get ids 0..len-1, in order, as special added tokens; the first one is also
	// the tokenizer's BOS and EOS. Their occurrences in the training text are cut out before
	// counting, exactly as Encode cuts them out before pre-tokenization.
	SpecialTokens []string
	// SplitDigits isolates every digit before the GPT-2 split (a Digits(individual_digits=true)
	// pre-tokenizer ahead of ByteLevel, as in SmolLM2).
	SplitDigits bool
	// Progress, when set, is called from one goroutine at a time with a running count of work
	// units done out of a fixed total: one per counted chunk of text, then one per token added.
	// A last call reports done == total, also when training stops early.
	Progress func(done, total int)
}

// NumMerges returns the number of BPE merges. It can exceed the number of merged tokens when two
// merges spell the same token (as HF's trainer also records them).
func (t *Tokenizer) NumMerges() int { return len(t.mergeList) }

// trainChunk is the size, in bytes, that long texts are cut into so that counting can run on
// several goroutines. Cuts are made only where the pre-tokenizer is known to cut too.
const trainChunk = 1 << 18

// Train learns a byte-level BPE from texts, the way HF tokenizers' BpeTrainer does with a
// ByteLevel pre-tokenizer and the ByteLevel initial alphabet:
//
//   - ids 0..k-1 are the special tokens, then the 256 byte symbols of GPT-2's byte-to-unicode
//     alphabet in code point order (so every input stays encodable), then merged tokens in the
//     order they are learned;
//   - texts are pre-tokenized exactly as Encode does (special tokens cut out, optional digit
//     isolation, GPT-2 split) and the pieces counted;
//   - the most frequent adjacent pair is merged, repeatedly, until the vocabulary holds
//     VocabSize ids or no pair occurs MinFrequency times. Pairs are counted with overlaps ("aaa"
//     holds "a a" twice), like HF. Ties go to the pair whose (left id, right id) is smallest,
//     HF's rule, so the result does not depend on the machine, goroutine scheduling or map
//     order. A merge whose result is already a token (reached by another merge path) is
//     recorded as a merge but reuses that token's id.
//
// The result is the same kind of Tokenizer Load builds (ByteLevel pre-tokenizer, decoder and
// post-processor, no normalizer), so Encode, Decode and Save work on it.
func Train(texts []string, opts TrainOptions) (*Tokenizer, error) {
	fail := func(format string, args ...any) (*Tokenizer, error) {
		return nil, fmt.Errorf("tokenizer: train: "+format, args...)
	}
	minFreq := opts.MinFrequency
	if minFreq == 0 {
		minFreq = 2
	}
	if minFreq < 0 {
		return fail("MinFrequency %d is negative", minFreq)
	}
	k := len(opts.SpecialTokens)
	if opts.VocabSize < 256+k {
		return fail("vocab size %d is too small: the 256 byte tokens and %d special tokens need at least %d",
			opts.VocabSize, k, 256+k)
	}
	byteSym := make(map[string]bool, 256)
	for _, r := range byteRune {
		byteSym[string(r)] = true
	}
	added := make([]AddedToken, k)
	seen := map[string]bool{}
	for i, s := range opts.SpecialTokens {
		switch {
		case s == "":
			return fail("special token %d is empty", i)
		case seen[s]:
			return fail("special token %q given twice", s)
		case byteSym[s]:
			return fail("special token %q is one of the 256 byte tokens", s)
		}
		seen[s] = true
		added[i] = AddedToken{ID: int64(i), Content: s, Special: true}
	}
	total := 0
	for _, s := range texts {
		total += len(s)
	}
	if total == 0 {
		return fail("empty corpus (no text to learn from)")
	}

	// Cut the special tokens out (sequentially: a match may straddle any cut we would make),
	// then cut long pieces into chunks at safe places.
	var m *matcher
	if k > 0 {
		ptrs := make([]*AddedToken, k)
		for i := range added {
			ptrs[i] = &added[i]
		}
		m = newMatcher(ptrs)
	}
	var chunks []string
	addPiece := func(s string) { chunks = appendChunks(chunks, s, trainChunk) }
	for _, s := range texts {
		if m == nil {
			addPiece(s)
		} else {
			m.split(s, addPiece, func(int64) {})
		}
	}
	steps := []preStep{byteLevelStep{useRegex: true}}
	if opts.SplitDigits {
		steps = []preStep{digitsStep{individual: true}, byteLevelStep{useRegex: true}}
	}

	progressTotal := len(chunks) + opts.VocabSize - (256 + k)
	var progMu sync.Mutex
	progDone := 0
	report := func(done int) {
		if opts.Progress == nil {
			return
		}
		progMu.Lock()
		if done > progDone {
			progDone = done
			opts.Progress(done, progressTotal)
		}
		progMu.Unlock()
	}

	counts := countWords(chunks, steps, func(done int) { report(done) })
	if len(counts) == 0 {
		return fail("the corpus has no text outside the special tokens")
	}
	tr := newBPETrainer(counts, opts.SpecialTokens)
	counts = nil
	tr.run(opts.VocabSize, int64(minFreq), func(n int) { report(len(chunks) + n) })
	report(progressTotal)

	// Assemble the same spec Load would produce for the equivalent tokenizer.json.
	pre := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
	if opts.SplitDigits {
		pre = map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Digits", "individual_digits": true}, pre}}
	}
	post := map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true}
	dec := map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true}
	sp := spec{
		source: "trained tokenizer",
		vocab:  make(map[string]int32, len(tr.tokens)),
		merges: tr.merges,
		added:  added,
		steps:  steps,
		bos:    -1,
		eos:    -1,
	}
	for id, s := range tr.tokens {
		sp.vocab[s] = int32(id)
	}
	if k > 0 {
		sp.bos, sp.eos = 0, 0
	}
	sp.preJSON, _ = json.Marshal(pre)
	sp.postJSON, _ = json.Marshal(post)
	sp.decJSON, _ = json.Marshal(dec)
	t, err := build(sp)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: train: internal error: %w", err)
	}
	return t, nil
}

// appendChunks appends s to dst, cut into pieces of about size bytes. A cut goes only between
// an ASCII letter and a space followed by an ASCII letter ("word| word"): the GPT-2 split always
// ends a piece there and starts the next one, whatever comes before or after, and Digits does
// not cut there, so counting the chunks separately gives the same pieces as the whole text.
func appendChunks(dst []string, s string, size int) []string {
	for len(s) > size {
		cut := -1
		for i := size; i+1 < len(s); i++ {
			if s[i] == ' ' && isASCIILetter(s[i-1]) && isASCIILetter(s[i+1]) {
				cut = i
				break
			}
		}
		if cut < 0 {
			break
		}
		dst = append(dst, s[:cut])
		s = s[cut:]
	}
	if s != "" {
		dst = append(dst, s)
	}
	return dst
}

func isASCIILetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }

// runSteps pre-tokenizes s through steps and hands each final piece to emit. Training uses
// only the hand-written steps (Digits, ByteLevel), which cannot fail.
func runSteps(steps []preStep, s string, emit func(string)) {
	if len(steps) == 0 {
		if s != "" {
			emit(s)
		}
		return
	}
	if len(steps) == 1 {
		_ = steps[0].split(s, emit)
		return
	}
	rest := steps[1:]
	_ = steps[0].split(s, func(p string) { runSteps(rest, p, emit) })
}

// countWords counts the pre-tokens of all chunks on one goroutine per CPU. The keys share
// memory with the chunks.
func countWords(chunks []string, steps []preStep, progress func(done int)) map[string]int64 {
	workers := max(1, min(runtime.GOMAXPROCS(0), len(chunks)))
	local := make([]map[string]int64, workers)
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			counts := make(map[string]int64)
			emit := func(p string) { counts[p]++ }
			for {
				i := int(next.Add(1) - 1)
				if i >= len(chunks) {
					break
				}
				runSteps(steps, chunks[i], emit)
				progress(int(done.Add(1)))
			}
			local[w] = counts
		})
	}
	wg.Wait()
	all := local[0]
	for _, counts := range local[1:] {
		for p, n := range counts {
			all[p] += n
		}
	}
	return all
}

// bpeTrainer holds the state of the merge loop.
type bpeTrainer struct {
	tokens []string         // id → byte-level spelling
	ids    map[string]int32 // spelling → id
	merges [][2]string

	words  [][]int32 // each distinct pre-token as symbol ids, shrinking as merges apply
	freq   []int64   // occurrences of each word
	stamp  []int32   // last merge step that visited each word
	counts map[uint64]int64
	where  map[uint64][]int32 // pair → words it formed in (may be stale or repeated)
	heap   pairHeap
}

func newBPETrainer(counts map[string]int64, specials []string) *bpeTrainer {
	tr := &bpeTrainer{ids: make(map[string]int32)}
	for _, s := range specials {
		tr.addToken(s)
	}
	// The byte alphabet in code point order, as HF sorts the initial alphabet.
	order := make([]int, 256)
	for b := range order {
		order[b] = b
	}
	sort.Slice(order, func(i, j int) bool { return byteRune[order[i]] < byteRune[order[j]] })
	var sym [256]int32
	for _, b := range order {
		sym[b] = tr.addToken(string(byteRune[b]))
	}

	n, size := 0, 0
	for w := range counts {
		n++
		size += len(w)
	}
	backing := make([]int32, size)
	tr.words = make([][]int32, 0, n)
	tr.freq = make([]int64, 0, n)
	for w, c := range counts {
		syms := backing[:len(w):len(w)]
		backing = backing[len(w):]
		for i := 0; i < len(w); i++ {
			syms[i] = sym[w[i]]
		}
		tr.words = append(tr.words, syms)
		tr.freq = append(tr.freq, c)
	}
	tr.stamp = make([]int32, n)
	for i := range tr.stamp {
		tr.stamp[i] = -1
	}
	tr.counts = make(map[uint64]int64)
	tr.where = make(map[uint64][]int32)
	for wi, syms := range tr.words {
		c := tr.freq[wi]
		for i := 0; i+1 < len(syms); i++ {
			p := pairKey(syms[i], syms[i+1])
			tr.counts[p] += c
			tr.noteWord(p, int32(wi))
		}
	}
	tr.heap = make(pairHeap, 0, len(tr.counts))
	for p, c := range tr.counts {
		tr.heap = append(tr.heap, pairEntry{count: c, pair: p})
	}
	tr.heap.init()
	return tr
}

func (tr *bpeTrainer) addToken(s string) int32 {
	id := int32(len(tr.tokens))
	tr.tokens = append(tr.tokens, s)
	tr.ids[s] = id
	return id
}

// noteWord records that pair p occurs in word wi (consecutive repeats are skipped).
func (tr *bpeTrainer) noteWord(p uint64, wi int32) {
	l := tr.where[p]
	if len(l) > 0 && l[len(l)-1] == wi {
		return
	}
	tr.where[p] = append(l, wi)
}

// run merges until the vocabulary has vocabSize ids or the best pair is rarer than minFreq,
// calling progress with the number of tokens added so far.
func (tr *bpeTrainer) run(vocabSize int, minFreq int64, progress func(added int)) {
	start := len(tr.tokens)
	grown := make(map[uint64]struct{})
	for step := int32(0); len(tr.tokens) < vocabSize; step++ {
		// Pop until an entry carries its pair's current count. Every pair with a positive
		// count has an entry whose count is at least that (decreases leave the old, larger
		// entry; increases push a new one), so the first exact entry is the true best.
		var best pairEntry
		found := false
		for len(tr.heap) > 0 {
			e := tr.heap.pop()
			c := tr.counts[e.pair]
			if c == e.count {
				best, found = e, true
				break
			}
			if c > 0 && c < e.count {
				tr.heap.push(pairEntry{count: c, pair: e.pair})
			}
		}
		if !found || best.count < minFreq || best.count < 1 {
			break
		}
		a, b := int32(best.pair>>32), int32(uint32(best.pair))
		sa, sb := tr.tokens[a], tr.tokens[b]
		tr.merges = append(tr.merges, [2]string{sa, sb})
		c, ok := tr.ids[sa+sb]
		if !ok {
			c = tr.addToken(sa + sb)
		}
		clear(grown)
		tr.apply(best.pair, a, b, c, step, grown)
		for p := range grown {
			if n := tr.counts[p]; n > 0 {
				tr.heap.push(pairEntry{count: n, pair: p})
			}
		}
		progress(len(tr.tokens) - start)
	}
}

// apply merges every occurrence of (a, b) into c, left to right without overlaps, updating the
// pair counts and index; grown collects the pairs whose count went up.
func (tr *bpeTrainer) apply(p uint64, a, b, c int32, step int32, grown map[uint64]struct{}) {
	add := func(q uint64, d int64) {
		n := tr.counts[q] + d
		if n == 0 {
			delete(tr.counts, q)
		} else {
			tr.counts[q] = n
		}
	}
	for _, wi := range tr.where[p] {
		if tr.stamp[wi] == step {
			continue
		}
		tr.stamp[wi] = step
		syms := tr.words[wi]
		f := tr.freq[wi]
		out := 0
		for i := 0; i < len(syms); {
			if i+1 < len(syms) && syms[i] == a && syms[i+1] == b {
				add(p, -f)
				if out > 0 {
					x := syms[out-1]
					add(pairKey(x, a), -f)
					q := pairKey(x, c)
					add(q, f)
					tr.noteWord(q, wi)
					grown[q] = struct{}{}
				}
				if i+2 < len(syms) {
					y := syms[i+2]
					add(pairKey(b, y), -f)
					q := pairKey(c, y)
					add(q, f)
					tr.noteWord(q, wi)
					grown[q] = struct{}{}
				}
				syms[out] = c
				out++
				i += 2
				continue
			}
			syms[out] = syms[i]
			out++
			i++
		}
		tr.words[wi] = syms[:out]
	}
	delete(tr.where, p)
	if n := tr.counts[p]; n != 0 {
		// Every occurrence was in an indexed word, so none can be left.
		panic(errors.New("tokenizer: train: pair count out of step with the word index"))
	}
}

// pairEntry is a heap candidate: a pair and its count when pushed.
type pairEntry struct {
	count int64
	pair  uint64
}

// pairHeap is a max-heap on count; among equal counts the smaller (left id, right id) pair comes
// first, which is what pairKey's packing gives when compared as an integer.
type pairHeap []pairEntry

func (h pairHeap) before(i, j int) bool {
	if h[i].count != h[j].count {
		return h[i].count > h[j].count
	}
	return h[i].pair < h[j].pair
}

func (h pairHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *pairHeap) push(e pairEntry) {
	*h = append(*h, e)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.before(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *pairHeap) pop() pairEntry {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	*h = s[:last]
	h.down(0)
	return top
}

func (h pairHeap) down(i int) {
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && h.before(l, m) {
			m = l
		}
		if r < len(h) && h.before(r, m) {
			m = r
		}
		if m == i {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
