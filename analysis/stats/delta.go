package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// IndependentDeltaNull is the expected delta correlation for layers with no
// depth structure. If W_l = c + e_l with e_l iid (mean 0, variance σ² per
// element) then for D_l = W_{l+1} - W_l:
//
//	cov(D_l, D_{l+1}) = cov(e_{l+1} - e_l, e_{l+2} - e_{l+1}) = -var(e_{l+1}) = -σ²
//	var(D_l) = var(D_{l+1}) = 2σ²
//
// so corr(D_l, D_{l+1}) = -σ²/2σ² = -1/2. A common offset c cancels in the
// differences. Values well above -0.5 indicate smooth (correlated) change
// across depth; +1 means consecutive updates point the same way.
const IndependentDeltaNull = -0.5

// DeltaCorrelations takes per-layer weight vectors W[0..L-1] (all of the
// same length), forms the deltas D_l = W[l+1] - W[l] (l = 0..L-2) and
// returns corr[l] = Pearson(D_l, D_{l+1}) for l = 0..L-3, together with the
// mean of the finite entries. It needs L ≥ 3 (otherwise corr is empty and
// the mean NaN). Allocation: two delta buffers of the vector length.
func DeltaCorrelations(W [][]float64) (corr []float64, meanCorr float64) {
	L := len(W)
	if L < 3 {
		return []float64{}, math.NaN()
	}
	m := len(W[0])
	for l := range W {
		if len(W[l]) != m {
			panic(fmt.Sprintf("stats: DeltaCorrelations layer %d has length %d, want %d", l, len(W[l]), m))
		}
	}
	corr = make([]float64, L-2)
	prev := make([]float64, m)
	cur := make([]float64, m)
	for j := 0; j < m; j++ {
		prev[j] = W[1][j] - W[0][j]
	}
	for l := 0; l < L-2; l++ {
		for j := 0; j < m; j++ {
			cur[j] = W[l+2][j] - W[l+1][j]
		}
		corr[l] = pearsonR(prev, cur)
		prev, cur = cur, prev
	}
	return corr, FiniteMean(corr)
}

// NullDist summarises a null distribution of a scalar statistic. The moments, quantiles and
// p-values are over the finite draws (an undefined draw, e.g. a correlation of constant layers,
// says nothing about the null).
type NullDist struct {
	Values []float64 // the statistic for each permutation, in draw order
	Mean   float64
	SD     float64 // sample standard deviation (n-1 denominator; NaN for fewer than 2 draws)
	Q025   float64 // 2.5% quantile (Quantile, type 7)
	Q50    float64
	Q975   float64
}

// PValueGreater returns the one-sided Monte-Carlo p-value for an observed
// value at least as large as obs: (1 + #{v ≥ obs}) / (1 + N) over the N
// finite draws. NaN when obs is NaN or no draw is finite.
func (d NullDist) PValueGreater(obs float64) float64 {
	return d.pValue(obs, func(v float64) bool { return v >= obs })
}

// PValueLess is the mirror of PValueGreater: (1 + #{v ≤ obs}) / (1 + N).
func (d NullDist) PValueLess(obs float64) float64 {
	return d.pValue(obs, func(v float64) bool { return v <= obs })
}

// PValueTwoSided is min(1, 2·min(PValueGreater, PValueLess)).
func (d NullDist) PValueTwoSided(obs float64) float64 {
	return math.Min(1, 2*math.Min(d.PValueGreater(obs), d.PValueLess(obs)))
}

func (d NullDist) pValue(obs float64, extreme func(v float64) bool) float64 {
	n, k := 0, 0
	for _, v := range d.Values {
		if isFinite(v) {
			n++
			if extreme(v) {
				k++
			}
		}
	}
	if math.IsNaN(obs) || n == 0 {
		return math.NaN()
	}
	return float64(1+k) / float64(1+n)
}

// Summarise returns the NullDist of the draws vals (kept, not copied).
func Summarise(vals []float64) NullDist {
	s := make([]float64, 0, len(vals))
	for _, v := range vals {
		if isFinite(v) {
			s = append(s, v)
		}
	}
	d := NullDist{Values: vals}
	d.Mean, d.SD = MeanSD(s)
	slices.Sort(s)
	d.Q025, d.Q50, d.Q975 = quantileSorted(s, 0.025), quantileSorted(s, 0.5), quantileSorted(s, 0.975)
	return d
}

// layerOrders calls visit with perms successive random orders of 0..L-1 (each one shuffle of
// the previous, PCG generator seeded by seed): the permutations of every shuffled-layer-order
// null, so that the nulls of different statistics (ShuffledNull, Gram.ShuffledNulls) use the
// same orders. visit must not keep or modify order.
func layerOrders(L, perms int, seed uint64, visit func(order []int)) {
	rng := rand.New(rand.NewPCG(seed, seed^0xda3e39cb94b95bdb))
	order := make([]int, L)
	for i := range order {
		order[i] = i
	}
	for k := 0; k < perms; k++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		visit(order)
	}
}

// ShuffledNull is the layer-order null model for the mean delta
// correlation: it draws `perms` random permutations of the layer order
// (layerOrders), computes the mean of DeltaCorrelations on the reordered
// stack, and summarises the draws. It keeps each layer's weight
// distribution but destroys depth ordering, so smoothness across depth
// shows up as observed ≫ null.
func ShuffledNull(W [][]float64, perms int, seed uint64) NullDist {
	stack := make([][]float64, len(W))
	vals := make([]float64, 0, perms)
	layerOrders(len(W), perms, seed, func(order []int) {
		for i, l := range order {
			stack[i] = W[l]
		}
		_, m := DeltaCorrelations(stack)
		vals = append(vals, m)
	})
	return Summarise(vals)
}
