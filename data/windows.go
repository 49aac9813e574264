package data

// Token windows: how a token stream is cut for evaluation. Packing windows into model inputs is
// model.Pack.

// EvalWindows returns fixed, non-overlapping validation windows of seqLen+1 tokens (inputs
// window[:seqLen], targets window[1:]). The stream is cut into N = len(tokens)/(seqLen+1)
// aligned windows starting at multiples of seqLen+1 (a shorter tail is dropped). With
// maxTokens > 0 at most k = maxTokens/(seqLen+1) windows are kept, spread evenly over the
// stream (window indices i*N/k for i = 0..k-1) so that a capped evaluation still samples
// the whole validation set; maxTokens <= 0 keeps all N. The result depends only on the
// arguments. It returns nil when seqLen < 1 or no window fits.
func EvalWindows(tokens []int32, seqLen int, maxTokens int) [][]int64 {
	if seqLen < 1 {
		return nil
	}
	w := seqLen + 1
	n := len(tokens) / w
	k := n
	if maxTokens > 0 {
		k = min(n, maxTokens/w)
	}
	if k == 0 {
		return nil
	}
	flat := make([]int64, k*w)
	out := make([][]int64, k)
	for i := range out {
		idx := i * n / k
		row := flat[i*w : (i+1)*w : (i+1)*w]
		for j, t := range tokens[idx*w : (idx+1)*w] {
			row[j] = int64(t)
		}
		out[i] = row
	}
	return out
}

// Windows splits a token stream into consecutive non-overlapping windows of size tokens (the
// last one shorter; a final window of one token predicts nothing and is dropped). Within each
// window every token but the first is predicted from those before it. It returns nil when
// size < 2.
func Windows(ids []int64, size int) [][]int64 {
	if size < 2 {
		return nil
	}
	var out [][]int64
	for start := 0; start < len(ids); start += size {
		w := ids[start:min(start+size, len(ids))]
		if len(w) >= 2 {
			out = append(out, w)
		}
	}
	return out
}
