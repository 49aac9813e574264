package stats

import "testing"

func BenchmarkNeighborR2(b *testing.B) {
	W := iidLayers(30, 50000, 1)
	for i := 0; i < b.N; i++ {
		NeighborR2(W, 0)
	}
}

func BenchmarkDepthR2(b *testing.B) {
	W := iidLayers(30, 50000, 1)
	for i := 0; i < b.N; i++ {
		DepthR2(W, 2, 0)
	}
}
