package stats

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// SingularValues returns the singular values of m in descending order
// (gonum mat.SVD, values only). nil if the factorisation fails.
func SingularValues(m mat.Matrix) []float64 {
	var svd mat.SVD
	if !svd.Factorize(m, mat.SVDNone) {
		return nil
	}
	return svd.Values(nil)
}

// FrobeniusNorm returns ‖m‖_F = sqrt(Σ m_ij²).
func FrobeniusNorm(m mat.Matrix) float64 { return mat.Norm(m, 2) }

// SpectralNorm returns ‖m‖₂, the largest singular value (NaN if the SVD
// fails).
func SpectralNorm(m mat.Matrix) float64 {
	s := SingularValues(m)
	if len(s) == 0 {
		return math.NaN()
	}
	return s[0]
}

// StableRank returns ‖m‖_F² / ‖m‖₂² = Σσ_i² / σ_max² (between 1 and
// rank(m); NaN for the zero matrix).
func StableRank(m mat.Matrix) float64 {
	return StableRankFromSV(SingularValues(m))
}

// StableRankFromSV is StableRank given singular values (any order).
func StableRankFromSV(s []float64) float64 {
	var ss, mx float64
	for _, v := range s {
		ss += v * v
		mx = math.Max(mx, v)
	}
	if mx == 0 {
		return math.NaN()
	}
	return ss / (mx * mx)
}

// EffectiveRank returns the effective rank of Roy & Vetterli (2007):
// exp(H) with H = -Σ p_i ln p_i and p_i = σ_i / Σσ_j the normalised
// singular values (terms with p_i = 0 contribute 0). It equals n for an
// n×n identity (or any matrix with n equal non-zero singular values) and
// 1 for a rank-1 matrix. NaN for the zero matrix.
func EffectiveRank(m mat.Matrix) float64 {
	return EffectiveRankFromSV(SingularValues(m))
}

// EffectiveRankFromSV is EffectiveRank given singular values.
func EffectiveRankFromSV(s []float64) float64 {
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	if sum <= 0 {
		return math.NaN()
	}
	h := 0.0
	for _, v := range s {
		if p := v / sum; p > 0 {
			h -= p * math.Log(p)
		}
	}
	return math.Exp(h)
}

// MatrixMetrics bundles the norms and ranks of one weight matrix,
// computed from a single SVD.
type MatrixMetrics struct {
	Frobenius, Spectral, StableRank, EffectiveRank float64
	Singular                                       []float64 // descending
}

// Metrics computes all MatrixMetrics of m with one SVD.
func Metrics(m mat.Matrix) MatrixMetrics {
	s := SingularValues(m)
	out := MatrixMetrics{Singular: s, Frobenius: FrobeniusNorm(m), Spectral: math.NaN()}
	if len(s) > 0 {
		out.Spectral = s[0]
	}
	out.StableRank = StableRankFromSV(s)
	out.EffectiveRank = EffectiveRankFromSV(s)
	return out
}

// Norm2 returns the Euclidean norm of a flattened vector.
func Norm2(x []float64) float64 {
	// scaled accumulation avoids overflow/underflow for extreme values
	scale, ssq := 0.0, 1.0
	for _, v := range x {
		if v == 0 {
			continue
		}
		a := math.Abs(v)
		if scale < a {
			ssq = 1 + ssq*(scale/a)*(scale/a)
			scale = a
		} else {
			ssq += (a / scale) * (a / scale)
		}
	}
	if scale == 0 {
		return 0
	}
	return scale * math.Sqrt(ssq)
}

// CosineSimilarity returns a·b / (‖a‖‖b‖) for flattened vectors, clamped
// to [-1, 1]; NaN if either is all-zero. Panics on length mismatch.
func CosineSimilarity(a, b []float64) float64 {
	if len(a) != len(b) {
		panic("stats: CosineSimilarity of vectors with different lengths")
	}
	na, nb := Norm2(a), Norm2(b)
	if na == 0 || nb == 0 {
		return math.NaN()
	}
	dot := 0.0
	for i := range a {
		dot += (a[i] / na) * (b[i] / nb)
	}
	return math.Max(-1, math.Min(1, dot))
}

// AngularDistance returns arccos(cos)/π in [0, 1] (0 = same direction,
// 0.5 = orthogonal, 1 = opposite); NaN if cosine is undefined.
func AngularDistance(a, b []float64) float64 {
	return math.Acos(CosineSimilarity(a, b)) / math.Pi
}

// CosineMatrix returns the L×L matrix of CosineSimilarity(W[i], W[j])
// (symmetric, unit diagonal for non-zero vectors), e.g. for cross-layer
// similarity heatmaps. Norms are computed once per vector.
func CosineMatrix(W [][]float64) [][]float64 {
	L := len(W)
	norms := make([]float64, L)
	for i := range W {
		norms[i] = Norm2(W[i])
	}
	out := make([][]float64, L)
	for i := range out {
		out[i] = make([]float64, L)
	}
	for i := 0; i < L; i++ {
		for j := i; j < L; j++ {
			v := math.NaN()
			if norms[i] > 0 && norms[j] > 0 && len(W[i]) == len(W[j]) {
				if i == j {
					v = 1
				} else {
					dot := 0.0
					for k := range W[i] {
						dot += W[i][k] * W[j][k]
					}
					v = math.Max(-1, math.Min(1, dot/(norms[i]*norms[j])))
				}
			}
			out[i][j], out[j][i] = v, v
		}
	}
	return out
}
