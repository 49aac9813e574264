package stats

// Statistics over a stack of layer vectors from their cross-layer Gram matrix.
//
// Every fit across layers that has an intercept and is linear in whole layers (the neighbour fit
// W[l] ≈ a·W[l-1] + b·W[l+1] + c with one (a, b, c) per layer, a depth polynomial per element),
// its residuals and its exact leave-one-layer-out residuals, and the consecutive-delta
// correlations depend on the weights only through the L×L matrix G[i][k] = Σ_j W_ij·W_kj and the
// per-layer sums. One pass over the weights builds them; everything after is O(L³) algebra, and a
// shuffled layer order is a permutation of G, so hundreds of permutation nulls cost no further
// pass. The direct computations (RidgeCols, DepthR2, DeltaCorrelations, ShuffledNull) give the
// same numbers from the weights themselves; the tests hold the two side by side.

import (
	"math"
	"runtime"
	"slices"
	"sync"

	"gonum.org/v1/gonum/mat"
)

// Gram holds the sufficient statistics of a stack of L layer vectors of n elements each, after
// subtracting one global shift mu (for accuracy; every fit has an intercept, so the shift changes
// nothing else): s[i] = Σ_j (W_ij - mu), G[i][k] = Σ_j (W_ij - mu)(W_kj - mu).
type Gram struct {
	L  int
	n  float64
	mu float64
	s  []float64
	G  [][]float64
}

// NewGram accumulates the Gram matrix of W (L layers of equal length) in one pass, in parallel
// over element ranges.
func NewGram(W [][]float64) *Gram {
	L, n := len(W), len(W[0])
	mu := 0.0
	for _, w := range W {
		for _, v := range w {
			mu += v
		}
	}
	mu /= float64(L * n)
	workers := max(1, min(runtime.GOMAXPROCS(0), n/4096))
	type part struct {
		s []float64
		G []float64
	}
	parts := make([]part, workers)
	var wg sync.WaitGroup
	for wi := 0; wi < workers; wi++ {
		wg.Add(1)
		go func(wi int) {
			defer wg.Done()
			lo, hi := n*wi/workers, n*(wi+1)/workers
			const chunk = 1024
			buf := make([][]float64, L)
			for i := range buf {
				buf[i] = make([]float64, chunk)
			}
			s := make([]float64, L)
			G := make([]float64, L*L)
			for j0 := lo; j0 < hi; j0 += chunk {
				j1 := min(j0+chunk, hi)
				c := j1 - j0
				for i := 0; i < L; i++ {
					b := buf[i][:c]
					src := W[i][j0:j1]
					acc := 0.0
					for j, v := range src {
						b[j] = v - mu
						acc += b[j]
					}
					s[i] += acc
				}
				for i := 0; i < L; i++ {
					bi := buf[i][:c]
					for k := i; k < L; k++ {
						bk := buf[k][:c]
						acc := 0.0
						for j, v := range bi {
							acc += v * bk[j]
						}
						G[i*L+k] += acc
					}
				}
			}
			parts[wi] = part{s: s, G: G}
		}(wi)
	}
	wg.Wait()
	g := &Gram{L: L, n: float64(n), mu: mu, s: make([]float64, L), G: make([][]float64, L)}
	for i := range g.G {
		g.G[i] = make([]float64, L)
	}
	for _, p := range parts {
		for i := 0; i < L; i++ {
			g.s[i] += p.s[i]
			for k := i; k < L; k++ {
				g.G[i][k] += p.G[i*L+k]
			}
		}
	}
	for i := 0; i < L; i++ {
		for k := 0; k < i; k++ {
			g.G[i][k] = g.G[k][i]
		}
	}
	return g
}

// permuted returns the Gram matrix of the reordered stack W'[i] = W[perm[i]].
func (g *Gram) permuted(perm []int) *Gram {
	p := &Gram{L: g.L, n: g.n, mu: g.mu, s: make([]float64, g.L), G: make([][]float64, g.L)}
	for i, pi := range perm {
		p.s[i] = g.s[pi]
		p.G[i] = make([]float64, g.L)
		for k, pk := range perm {
			p.G[i][k] = g.G[pi][pk]
		}
	}
	return p
}

// CC is the centred cross product Σ_j (W_ij - W̄_i)(W_kj - W̄_k); CC(l, l) is layer l's total
// sum of squares, the denominator of its R².
func (g *Gram) CC(i, k int) float64 { return g.G[i][k] - g.s[i]*g.s[k]/g.n }

// deltaCorrelations is DeltaCorrelations from the Gram matrix.
func (g *Gram) deltaCorrelations() (corr []float64, mean float64) {
	L := g.L
	if L < 3 {
		return nil, math.NaN()
	}
	dd := func(a, b int) float64 { // centred cross product of D_a and D_b
		return g.CC(a+1, b+1) - g.CC(a+1, b) - g.CC(a, b+1) + g.CC(a, b)
	}
	corr = make([]float64, L-2)
	sum, cnt := 0.0, 0
	for a := 0; a < L-2; a++ {
		v1, v2 := dd(a, a), dd(a+1, a+1)
		if v1 <= 0 || v2 <= 0 {
			corr[a] = math.NaN()
			continue
		}
		corr[a] = math.Max(-1, math.Min(1, dd(a, a+1)/math.Sqrt(v1*v2)))
		sum += corr[a]
		cnt++
	}
	if cnt == 0 {
		return corr, math.NaN()
	}
	return corr, sum / float64(cnt)
}

// linFit is y ≈ a·x1 + b·x2 + c in shifted coordinates.
type linFit struct{ a, b, c float64 }

// fitTriples fits one linFit over the pooled elements of the triples (p, t, q): predict layer t
// from layers p and q, ridge penalty lambda on the centred pooled Gram matrix (what RidgeCols
// solves for the concatenated columns).
func (g *Gram) fitTriples(tr [][3]int, lambda float64) linFit {
	N := g.n * float64(len(tr))
	var s1, s2, sy, g11, g12, g22, g1y, g2y float64
	for _, x := range tr {
		p, t, q := x[0], x[1], x[2]
		s1, s2, sy = s1+g.s[p], s2+g.s[q], sy+g.s[t]
		g11, g12, g22 = g11+g.G[p][p], g12+g.G[p][q], g22+g.G[q][q]
		g1y, g2y = g1y+g.G[p][t], g2y+g.G[q][t]
	}
	m1, m2, my := s1/N, s2/N, sy/N
	a, b := solve2(g11-N*m1*m1+lambda, g12-N*m1*m2, g22-N*m2*m2+lambda, g1y-N*m1*my, g2y-N*m2*my)
	return linFit{a: a, b: b, c: my - a*m1 - b*m2}
}

// ssLin is Σ_j (W_t - a·W_p - b·W_q - c)² in shifted coordinates.
func (g *Gram) ssLin(p, t, q int, f linFit) float64 {
	a, b, c := f.a, f.b, f.c
	ss := g.G[t][t] + a*a*g.G[p][p] + b*b*g.G[q][q] + g.n*c*c -
		2*a*g.G[t][p] - 2*b*g.G[t][q] - 2*c*g.s[t] +
		2*a*b*g.G[p][q] + 2*a*c*g.s[p] + 2*b*c*g.s[q]
	return math.Max(ss, 0)
}

// pooledTot is Σ over the layers of Σ_j (W_lj - grand mean)².
func (g *Gram) pooledTot(layers []int) float64 {
	var sg, ss float64
	for _, l := range layers {
		sg += g.G[l][l]
		ss += g.s[l]
	}
	return sg - ss*ss/(g.n*float64(len(layers)))
}

// LayerR2 scores a prediction of every layer of a stack, in-sample and held out: PerFold[l] is
// layer l's R² relative to its own mean (NaN for a layer that is not scored, e.g. a neighbour
// fit's endpoints), Pooled and MeanFold are over the scored layers, as LeaveOneOut defines them.
type LayerR2 struct {
	InSample, HeldOut LOOResult
}

// layerR2 turns per-layer residual sums of squares of the scored layers into a LayerR2.
func (g *Gram) layerR2(layers []int, ssIn, ssOut []float64) LayerR2 {
	r := LayerR2{InSample: LOOResult{PerFold: make([]float64, g.L)}, HeldOut: LOOResult{PerFold: make([]float64, g.L)}}
	for l := range r.InSample.PerFold {
		r.InSample.PerFold[l], r.HeldOut.PerFold[l] = math.NaN(), math.NaN()
	}
	var sIn, sOut float64
	for _, l := range layers {
		tot := g.CC(l, l)
		ri, ro := math.NaN(), math.NaN()
		if tot > 0 {
			ri, ro = 1-ssIn[l]/tot, 1-ssOut[l]/tot
		}
		r.InSample.PerFold[l], r.HeldOut.PerFold[l] = ri, ro
		sIn += ssIn[l]
		sOut += ssOut[l]
	}
	tot := g.pooledTot(layers)
	r.InSample.Pooled, r.HeldOut.Pooled = 1-sIn/tot, 1-sOut/tot
	r.InSample.MeanFold, r.HeldOut.MeanFold = FiniteMean(r.InSample.PerFold), FiniteMean(r.HeldOut.PerFold)
	return r
}

// NeighborFit is the shared-coefficient neighbour prediction W[l] ≈ a·W[l-1] + b·W[l+1] + c of
// the interior layers 1..L-2 (Gram.Neighbors).
type NeighborFit struct {
	// Shared: in-sample, (a, b, c) fitted on layer l itself (RidgeCols on W[l-1], W[l+1] → W[l]);
	// held out, one (a, b, c) fitted on the pooled elements of every other interior layer's
	// triple (layer l's weights still serve as neighbours of l±1 there).
	Shared LayerR2
	// Average is the unfitted (W[l-1] + W[l+1])/2; nothing is fitted, so held out = in-sample.
	Average LayerR2
	// Coef[l] = (a, b, c) of layer l's in-sample fit in the original coordinates (NaN at the
	// endpoints).
	Coef [][3]float64
	// SSHeldOut[l] is the held-out residual sum of squares of layer l (NaN at the endpoints).
	SSHeldOut []float64
}

// interiorTriples lists the interior layers and their (l-1, l, l+1) triples.
func (g *Gram) interiorTriples() (interior []int, triples [][3]int) {
	for l := 1; l <= g.L-2; l++ {
		interior = append(interior, l)
		triples = append(triples, [3]int{l - 1, l, l + 1})
	}
	return interior, triples
}

// neighborHeldOutSS is the held-out residual sum of squares of each interior layer (indexed as
// interior), each fitted on all the other triples.
func (g *Gram) neighborHeldOutSS(interior []int, triples [][3]int, lambda float64) []float64 {
	ss := make([]float64, len(interior))
	for i, l := range interior {
		rest := slices.Delete(slices.Clone(triples), i, i+1)
		ss[i] = g.ssLin(l-1, l, l+1, g.fitTriples(rest, lambda))
	}
	return ss
}

// Neighbors fits the shared-coefficient neighbour prediction with ridge penalty lambda on the
// centred Gram matrix (intercepts unpenalised), in-sample and leave-one-layer-out, and scores the
// unfitted neighbour average beside it.
func (g *Gram) Neighbors(lambda float64) NeighborFit {
	L := g.L
	out := NeighborFit{Coef: make([][3]float64, L), SSHeldOut: make([]float64, L)}
	ssIn, ssAvg := make([]float64, L), make([]float64, L)
	nan := math.NaN()
	for l := 0; l < L; l++ {
		out.Coef[l] = [3]float64{nan, nan, nan}
		out.SSHeldOut[l] = nan
	}
	interior, triples := g.interiorTriples()
	held := g.neighborHeldOutSS(interior, triples, lambda)
	avg := linFit{a: 0.5, b: 0.5}
	for i, l := range interior {
		f := g.fitTriples(triples[i:i+1], lambda)
		ssIn[l] = g.ssLin(l-1, l, l+1, f)
		// coefficients in original coordinates: c_orig = c + mu(1 - a - b)
		out.Coef[l] = [3]float64{f.a, f.b, f.c + g.mu*(1-f.a-f.b)}
		out.SSHeldOut[l] = held[i]
		ssAvg[l] = g.ssLin(l-1, l, l+1, avg)
	}
	out.Shared = g.layerR2(interior, ssIn, out.SSHeldOut)
	out.Average = g.layerR2(interior, ssAvg, ssAvg)
	return out
}

// neighborHeldOutPooled is the pooled held-out R² of Neighbors alone (for the nulls).
func (g *Gram) neighborHeldOutPooled(lambda float64) float64 {
	interior, triples := g.interiorTriples()
	ss := 0.0
	for _, v := range g.neighborHeldOutSS(interior, triples, lambda) {
		ss += v
	}
	return 1 - ss/g.pooledTot(interior)
}

// DepthFit is the depth-polynomial prediction of every layer (Gram.Depth).
type DepthFit struct {
	// R2: in-sample over all layers, held out by exact leave-one-layer-out (so the endpoints
	// are extrapolations).
	R2 LayerR2
	// Hat is DepthHat of the fit; SSHeldOut[l] the held-out residual sum of squares of layer l.
	Hat       *mat.Dense
	SSHeldOut []float64
}

// hatSS returns the in-sample residual sum of squares of every layer under hat matrix h
// (r_l = Σ_k (I-H)_lk W_k; the rows of I-H sum to 0 so the shift does not matter) and the
// exact leave-one-layer-out residual sums SS_l/(1-H_ll)².
func (g *Gram) hatSS(h *mat.Dense) (in, loo []float64) {
	L := g.L
	in, loo = make([]float64, L), make([]float64, L)
	r := make([]float64, L)
	for l := 0; l < L; l++ {
		for k := 0; k < L; k++ {
			r[k] = -h.At(l, k)
		}
		r[l]++
		ss := 0.0
		for k := 0; k < L; k++ {
			if r[k] == 0 {
				continue
			}
			row := g.G[k]
			acc := 0.0
			for q := 0; q < L; q++ {
				acc += r[q] * row[q]
			}
			ss += r[k] * acc
		}
		in[l] = math.Max(ss, 0)
		d := 1 - h.At(l, l)
		loo[l] = in[l] / (d * d)
	}
	return in, loo
}

// allLayers is 0..L-1.
func (g *Gram) allLayers() []int {
	all := make([]int, g.L)
	for l := range all {
		all[l] = l
	}
	return all
}

// Depth fits every element as a degree-degree polynomial in normalised depth over all layers
// (DepthHat, ridge penalty lambda), the statistics DepthR2 computes by refitting.
func (g *Gram) Depth(degree int, lambda float64) DepthFit {
	h := DepthHat(g.L, degree, lambda)
	in, loo := g.hatSS(h)
	return DepthFit{R2: g.layerR2(g.allLayers(), in, loo), Hat: h, SSHeldOut: loo}
}

// GramNulls are the shuffled-layer-order null draws of Gram.ShuffledNulls, one value per
// permutation.
type GramNulls struct {
	Delta    []float64 // mean consecutive-delta correlation (ShuffledNull's values)
	Neighbor []float64 // pooled held-out R² of Neighbors
	Depth    []float64 // pooled held-out R² of the depth fit with the given hat matrix
}

// ShuffledNulls draws perms layer orders exactly as ShuffledNull does (layerOrders) and
// computes the three statistics on each reordered stack.
func (g *Gram) ShuffledNulls(perms int, seed uint64, lambda float64, hat *mat.Dense) GramNulls {
	var out GramNulls
	all := g.allLayers()
	layerOrders(g.L, perms, seed, func(order []int) {
		p := g.permuted(order)
		_, md := p.deltaCorrelations()
		out.Delta = append(out.Delta, md)
		out.Neighbor = append(out.Neighbor, p.neighborHeldOutPooled(lambda))
		_, loo := p.hatSS(hat)
		s := 0.0
		for _, v := range loo {
			s += v
		}
		out.Depth = append(out.Depth, 1-s/p.pooledTot(all))
	})
	return out
}
