package tokenizer

import (
	"hash/maphash"
	"sync"
)

// pairKey packs two symbol ids into the key of the merge table.
func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// noMerge is larger than any packed (rank, id) merge value.
const noMerge = ^uint64(0)

// mergeWord applies BPE merges to w in place and returns the shortened slice. Merge values pack
// rank<<32|newID, so comparing values compares ranks. HF always applies the lowest-ranked merge
// present, leftmost first on ties; both paths below do exactly that.
func (st *encState) mergeWord(w []int32) []int32 {
	if len(w) > 128 {
		return st.mergeLong(w)
	}
	m := st.t.merges
	ranks := st.ranks[:0]
	for i := 0; i+1 < len(w); i++ {
		v, ok := m[pairKey(w[i], w[i+1])]
		if !ok {
			v = noMerge
		}
		ranks = append(ranks, v)
	}
	for len(w) > 1 {
		best, bi := noMerge, -1
		for i, v := range ranks {
			if v < best {
				best, bi = v, i
			}
		}
		if bi < 0 {
			break
		}
		w[bi] = int32(uint32(best))
		copy(w[bi+1:], w[bi+2:])
		w = w[:len(w)-1]
		copy(ranks[bi:], ranks[bi+1:])
		ranks = ranks[:len(ranks)-1]
		// Only the pairs touching the merged symbol changed.
		if bi > 0 {
			ranks[bi-1] = lookup(m, w[bi-1], w[bi])
		}
		if bi < len(ranks) {
			ranks[bi] = lookup(m, w[bi], w[bi+1])
		}
	}
	st.ranks = ranks
	return w
}

// grow returns s resized to n elements, reusing its array when it is large enough.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

func lookup(m map[uint64]uint64, a, b int32) uint64 {
	if v, ok := m[pairKey(a, b)]; ok {
		return v
	}
	return noMerge
}

// heapEntry is a candidate merge of the symbol at pos with its right neighbour, valid only while
// both symbols still carry the ids a and b.
type heapEntry struct {
	v    uint64
	pos  int32
	a, b int32
}

func (e heapEntry) less(o heapEntry) bool {
	if e.v != o.v {
		return e.v < o.v
	}
	return e.pos < o.pos
}

// mergeLong is the O(n log n) path for very long pieces (long whitespace or punctuation runs),
// where rescanning every pair per merge would be quadratic. It keeps a linked list of symbols
// and a min-heap of candidate merges ordered by (rank, position), dropping stale entries lazily.
// Its scratch space (links and heap) is kept in the encState for the next long piece.
func (st *encState) mergeLong(w []int32) []int32 {
	n := len(w)
	next := grow(st.next, n)
	prev := grow(st.prev, n)
	alive := grow(st.alive, n)
	for i := range w {
		next[i], prev[i], alive[i] = int32(i+1), int32(i-1), true
	}
	next[n-1] = -1
	h := st.heap[:0]
	defer func() { st.next, st.prev, st.alive, st.heap = next, prev, alive, h[:0] }()
	push := func(e heapEntry) {
		h = append(h, e)
		for i := len(h) - 1; i > 0; {
			p := (i - 1) / 2
			if !h[i].less(h[p]) {
				break
			}
			h[i], h[p] = h[p], h[i]
			i = p
		}
	}
	pop := func() heapEntry {
		top := h[0]
		last := len(h) - 1
		h[0] = h[last]
		h = h[:last]
		for i := 0; ; {
			l, r, s := 2*i+1, 2*i+2, i
			if l < len(h) && h[l].less(h[s]) {
				s = l
			}
			if r < len(h) && h[r].less(h[s]) {
				s = r
			}
			if s == i {
				break
			}
			h[i], h[s] = h[s], h[i]
			i = s
		}
		return top
	}
	m := st.t.merges
	consider := func(p int32) {
		q := next[p]
		if p < 0 || q < 0 {
			return
		}
		if v, ok := m[pairKey(w[p], w[q])]; ok {
			push(heapEntry{v, p, w[p], w[q]})
		}
	}
	for i := 0; i+1 < n; i++ {
		consider(int32(i))
	}
	for len(h) > 0 {
		e := pop()
		p := e.pos
		q := next[p]
		if !alive[p] || q < 0 || w[p] != e.a || w[q] != e.b {
			continue
		}
		w[p] = int32(uint32(e.v))
		alive[q] = false
		next[p] = next[q]
		if next[q] >= 0 {
			prev[next[q]] = p
		}
		if prev[p] >= 0 {
			consider(prev[p])
		}
		consider(p)
	}
	out := w[:0]
	for i := int32(0); i >= 0 && int(i) < n; i = next[i] {
		out = append(out, w[i])
	}
	return out
}

// wordCache memoises piece → ids. Text repeats the same words constantly, so most pieces skip BPE
// entirely. It is sharded so EncodeBatch goroutines rarely contend, and bounded so that encoding
// a huge corpus cannot grow it without limit (once a shard is full it just stops learning).
type wordCache struct {
	seed   maphash.Seed
	shards [64]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[string][]int64
}

const (
	cacheShardMax  = 8192
	cacheMaxPieceB = 64
)

func newWordCache() *wordCache {
	c := &wordCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = make(map[string][]int64)
	}
	return c
}

func (c *wordCache) shard(s string) *cacheShard {
	return &c.shards[maphash.String(c.seed, s)&63]
}

func (c *wordCache) get(s string) ([]int64, bool) {
	sh := c.shard(s)
	sh.mu.RLock()
	v, ok := sh.m[s]
	sh.mu.RUnlock()
	return v, ok
}

func (c *wordCache) put(s string, ids []int64) {
	sh := c.shard(s)
	sh.mu.Lock()
	if len(sh.m) < cacheShardMax {
		// Clone: s points into the caller's text, which the cache must not keep alive.
		sh.m[string([]byte(s))] = append([]int64(nil), ids...)
	}
	sh.mu.Unlock()
}
