package stats

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func identity(n int) *mat.Dense {
	m := mat.NewDense(n, n, nil)
	for i := 0; i < n; i++ {
		m.Set(i, i, 1)
	}
	return m
}

func TestMatrixMetricsIdentity(t *testing.T) {
	I := identity(6)
	near(t, "erank(I)", EffectiveRank(I), 6, 1e-12)
	near(t, "srank(I)", StableRank(I), 6, 1e-12)
	near(t, "spectral(I)", SpectralNorm(I), 1, 1e-12)
	near(t, "fro(I)", FrobeniusNorm(I), math.Sqrt(6), 1e-12)
}

func TestMatrixMetricsRank1(t *testing.T) {
	u := mat.NewVecDense(4, []float64{1, 2, 3, 4})
	v := mat.NewVecDense(3, []float64{1, -1, 2})
	var m mat.Dense
	m.Outer(1, u, v)
	mm := Metrics(&m)
	near(t, "srank rank1", mm.StableRank, 1, 1e-12)
	near(t, "erank rank1", mm.EffectiveRank, 1, 1e-6)
	near(t, "spectral rank1", mm.Spectral, math.Sqrt(30)*math.Sqrt(6), 1e-10)
	near(t, "fro rank1", mm.Frobenius, math.Sqrt(30)*math.Sqrt(6), 1e-10)
	if len(mm.Singular) != 3 {
		t.Errorf("singular values = %v", mm.Singular)
	}
}

func TestMatrixMetricsDiag(t *testing.T) {
	// diag(3, 4): ‖·‖_F = 5, ‖·‖₂ = 4, stable rank 25/16,
	// effective rank exp(-(3/7)ln(3/7) - (4/7)ln(4/7)).
	m := mat.NewDense(2, 2, []float64{3, 0, 0, 4})
	near(t, "fro", FrobeniusNorm(m), 5, 1e-12)
	near(t, "spec", SpectralNorm(m), 4, 1e-12)
	near(t, "srank", StableRank(m), 25.0/16, 1e-12)
	p, q := 3.0/7, 4.0/7
	near(t, "erank", EffectiveRank(m), math.Exp(-p*math.Log(p)-q*math.Log(q)), 1e-12)
	sv := SingularValues(m)
	if sv[0] != 4 || sv[1] != 3 {
		t.Errorf("singular values %v", sv)
	}
	if !math.IsNaN(StableRank(mat.NewDense(2, 2, nil))) {
		t.Error("zero matrix stable rank should be NaN")
	}
}

func TestCosine(t *testing.T) {
	near(t, "orthogonal", CosineSimilarity([]float64{1, 0}, []float64{0, 1}), 0, 0)
	near(t, "angle orthogonal", AngularDistance([]float64{1, 0}, []float64{0, 1}), 0.5, 1e-15)
	near(t, "same", AngularDistance([]float64{1, 2}, []float64{2, 4}), 0, 1e-7)
	near(t, "opposite", AngularDistance([]float64{1, 2}, []float64{-1, -2}), 1, 1e-7)
	near(t, "45deg", CosineSimilarity([]float64{1, 0}, []float64{1, 1}), 1/math.Sqrt2, 1e-15)
	if !math.IsNaN(CosineSimilarity([]float64{0, 0}, []float64{1, 1})) {
		t.Error("zero vector should give NaN")
	}
	// tiny and huge values do not under/overflow
	near(t, "scaled", CosineSimilarity([]float64{1e-200, 1e-200}, []float64{1e200, 0}), 1/math.Sqrt2, 1e-12)
	W := [][]float64{{1, 0}, {1, 1}, {0, 1}, {0, 0}}
	C := CosineMatrix(W)
	near(t, "C01", C[0][1], 1/math.Sqrt2, 1e-15)
	near(t, "C02", C[0][2], 0, 0)
	near(t, "C11", C[1][1], 1, 0)
	if C[1][0] != C[0][1] || !math.IsNaN(C[3][0]) {
		t.Errorf("cosine matrix %v", C)
	}
}
