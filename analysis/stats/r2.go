package stats

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// RSquared returns the coefficient of determination
//
//	R² = 1 - SS_res/SS_tot,  SS_res = Σ(y - ŷ)²,  SS_tot = Σ(y - ȳ)²
//
// with ȳ the mean of y itself. It is negative when ŷ is worse than
// predicting the mean, and NaN when SS_tot = 0 (constant y) or the lengths
// differ or are zero.
func RSquared(y, yhat []float64) float64 {
	ssRes, ssTot := ssResTot(y, yhat)
	if ssTot == 0 || math.IsNaN(ssTot) {
		return math.NaN()
	}
	return 1 - ssRes/ssTot
}

func ssResTot(y, yhat []float64) (ssRes, ssTot float64) {
	if len(y) != len(yhat) || len(y) == 0 {
		return math.NaN(), math.NaN()
	}
	my := mean(y)
	for i, v := range y {
		d := v - yhat[i]
		ssRes += d * d
		e := v - my
		ssTot += e * e
	}
	return ssRes, ssTot
}

// LOOResult is the outcome of a leave-one-out evaluation.
type LOOResult struct {
	// PerFold[i] is R² of the held-out sample i's prediction vector against
	// its truth vector: 1 - Σ_j(y_ij - ŷ_ij)² / Σ_j(y_ij - ȳ_i)², where ȳ_i
	// is the mean of that held-out vector (e.g. of one layer's weights).
	PerFold []float64
	// Pooled is R² over all held-out predictions together:
	// 1 - Σ_i SS_res,i / Σ_i Σ_j (y_ij - ȳ)², with ȳ the grand mean of all
	// held-out truth values. For scalar targets (one value per fold) this is
	// the usual "predictive R²" (PRESS-based Q²) with ȳ the mean of y.
	Pooled float64
	// MeanFold is the mean of the finite PerFold values.
	MeanFold float64
}

// LeaveOneOut runs n folds. For fold i, fitPredict receives the training
// indices (all except i, ascending) and the held-out index i and returns
// the prediction for sample i; truth(i) returns sample i's true values
// (same length as the prediction). R² definitions are given on LOOResult;
// they are computed only from held-out predictions.
func LeaveOneOut(n int, fitPredict func(train []int, test int) ([]float64, error), truth func(i int) []float64) (LOOResult, error) {
	res := LOOResult{PerFold: make([]float64, n)}
	var ssRes, sum, sumSq float64
	var count int
	train := make([]int, 0, n)
	for i := 0; i < n; i++ {
		train = train[:0]
		for k := 0; k < n; k++ {
			if k != i {
				train = append(train, k)
			}
		}
		pred, err := fitPredict(train, i)
		if err != nil {
			return res, fmt.Errorf("fold %d: %w", i, err)
		}
		y := truth(i)
		if len(y) != len(pred) {
			return res, fmt.Errorf("%w: fold %d prediction length %d, truth %d", ErrDims, i, len(pred), len(y))
		}
		res.PerFold[i] = RSquared(y, pred)
		for j, v := range y {
			d := v - pred[j]
			ssRes += d * d
			sum += v
		}
		count += len(y)
	}
	gm := sum / float64(count)
	// second pass over truth for a centred SS_tot (numerically stable)
	for i := 0; i < n; i++ {
		for _, v := range truth(i) {
			d := v - gm
			sumSq += d * d
		}
	}
	if sumSq == 0 || count == 0 {
		res.Pooled = math.NaN()
	} else {
		res.Pooled = 1 - ssRes/sumSq
	}
	res.MeanFold = FiniteMean(res.PerFold)
	return res, nil
}

// DepthR2 fits layer weights on polynomial depth features (DepthFeatures
// of the given degree, with unpenalised intercept and ridge penalty
// lambda), treating every element of the flattened weight vector as an
// output (RidgeMulti). W[l] is layer l's flattened weight vector.
// It returns the in-sample result (fit on all layers; PerFold[l] = R² of
// layer l's fitted vs true weights, Pooled over all layers) and the
// leave-one-layer-out result (layer l predicted by the model fitted on the
// other layers). R² definitions: see LOOResult.
func DepthR2(W [][]float64, degree int, lambda float64) (inSample, loo LOOResult, err error) {
	L := len(W)
	x := DepthFeatures(L, degree)
	row := func(i int) []float64 { return mat.Row(nil, i, x) }
	truth := func(i int) []float64 { return W[i] }

	full, err := RidgeMulti(x, W, lambda, true)
	if err != nil {
		return inSample, loo, err
	}
	inSample, err = evalFolds(L, func(i int) []float64 { return full.Predict(row(i)) }, truth)
	if err != nil {
		return inSample, loo, err
	}
	loo, err = LeaveOneOut(L, func(train []int, test int) ([]float64, error) {
		xs := mat.NewDense(len(train), x.RawMatrix().Cols, nil)
		ys := make([][]float64, len(train))
		for r, i := range train {
			xs.SetRow(r, row(i))
			ys[r] = W[i]
		}
		f, err := RidgeMulti(xs, ys, lambda, true)
		if err != nil {
			return nil, err
		}
		return f.Predict(row(test)), nil
	}, truth)
	return inSample, loo, err
}

// NeighborR2 evaluates predicting each weight element of layer l from the
// same element of layers l-1 and l+1 (interior layers l = 1..L-2 only),
// with per-element coefficients fitted across layers (ElementwiseRidge,
// unpenalised intercept, penalty lambda). In-sample: fit on all interior
// layers. Leave-one-layer-out: for target layer l the model is fitted on
// the other interior layers' triples (layer l's own weights still appear as
// neighbour features of layers l±1, as they would for any interpolation
// model; only the l-th target is withheld). PerFold index k corresponds to
// layer k+1. With fewer than 2 interior layers (L < 4) LOO is undefined and
// an error is returned.
func NeighborR2(W [][]float64, lambda float64) (inSample, loo LOOResult, err error) {
	L := len(W)
	if L < 4 {
		return inSample, loo, fmt.Errorf("%w: need at least 4 layers, got %d", ErrDims, L)
	}
	n := L - 2
	feats := func(k int) [][]float64 { return [][]float64{W[k], W[k+2]} }
	truth := func(k int) []float64 { return W[k+1] }
	allF := make([][][]float64, n)
	allT := make([][]float64, n)
	for k := 0; k < n; k++ {
		allF[k], allT[k] = feats(k), truth(k)
	}
	full, err := ElementwiseRidge(allF, allT, lambda, true)
	if err != nil {
		return inSample, loo, err
	}
	inSample, err = evalFolds(n, func(k int) []float64 {
		p, _ := full.Predict(feats(k))
		return p
	}, truth)
	if err != nil {
		return inSample, loo, err
	}
	loo, err = LeaveOneOut(n, func(train []int, test int) ([]float64, error) {
		f := make([][][]float64, len(train))
		t := make([][]float64, len(train))
		for r, k := range train {
			f[r], t[r] = feats(k), truth(k)
		}
		fit, err := ElementwiseRidge(f, t, lambda, true)
		if err != nil {
			return nil, err
		}
		return fit.Predict(feats(test))
	}, truth)
	return inSample, loo, err
}

// evalFolds computes per-sample and pooled R² for given predictions
// (same definitions as LeaveOneOut, without refitting).
func evalFolds(n int, pred func(i int) []float64, truth func(i int) []float64) (LOOResult, error) {
	return LeaveOneOut(n, func(_ []int, i int) ([]float64, error) { return pred(i), nil }, truth)
}
