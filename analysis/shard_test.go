package analysis

import (
	"math"
	"slices"
	"sync"
	"testing"
)

// fakeGroup is size in-process ranks (goroutines) whose all-gather meets through a hub.
type fakeGroup struct {
	rank int
	hub  *fakeHub
}

type fakeHub struct {
	size  int
	mu    sync.Mutex
	cond  *sync.Cond
	round int
	vals  [][]float64
	in    int
	done  [][]float64
}

func (g fakeGroup) Rank() int { return g.rank }
func (g fakeGroup) Size() int { return g.hub.size }

func (g fakeGroup) AllGatherFloat64s(v []float64) ([][]float64, error) {
	h := g.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	round := h.round
	if h.vals == nil {
		h.vals = make([][]float64, h.size)
	}
	h.vals[g.rank] = slices.Clone(v)
	h.in++
	if h.in == h.size {
		h.done, h.vals, h.in = h.vals, nil, 0
		h.round++
		h.cond.Broadcast()
	}
	for h.round == round {
		h.cond.Wait()
	}
	return h.done, nil
}

// onRanks runs f as each of size ranks at once.
func onRanks(size int, f func(g Group)) {
	h := &fakeHub{size: size}
	h.cond = sync.NewCond(&h.mu)
	var wg sync.WaitGroup
	for r := 0; r < size; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(fakeGroup{rank: r, hub: h})
		}()
	}
	wg.Wait()
}

// Every rank ends with every row and value, bit for bit (NaN and infinities included), for run
// counts that do not divide evenly and for more ranks than runs.
func TestShardGatherIsExact(t *testing.T) {
	row := func(i int) []float64 {
		return []float64{float64(i), math.NaN(), math.Inf(-1), 1 / 3.0 * float64(i), math.Copysign(0, -1)}
	}
	type rec struct {
		Name string
		X    []float64
		M    map[string]float64
	}
	for _, size := range []int{1, 2, 3, 7} {
		for _, n := range []int{0, 1, 5, 6} {
			onRanks(size, func(g Group) {
				rows := make([][]float64, n)
				recs := make([]*rec, n)
				for i := range rows {
					rows[i] = make([]float64, 5)
					if mine(g, i) {
						rows[i] = row(i)
						recs[i] = &rec{Name: string(rune('a' + i)), X: row(i), M: map[string]float64{"k": float64(i)}}
					}
				}
				if err := gatherRows(g, rows, 5); err != nil {
					t.Error(err)
					return
				}
				if err := gatherValues(g, recs); err != nil {
					t.Error(err)
					return
				}
				for i := range rows {
					want := row(i)
					for k := range want {
						if math.Float64bits(rows[i][k]) != math.Float64bits(want[k]) || recs[i] == nil ||
							math.Float64bits(recs[i].X[k]) != math.Float64bits(want[k]) {
							t.Errorf("size %d, n %d, rank %d: run %d: got %v / %+v, want %v", size, n, g.Rank(), i, rows[i], recs[i], want)
							return
						}
					}
					if recs[i].Name != string(rune('a'+i)) || recs[i].M["k"] != float64(i) {
						t.Errorf("size %d, rank %d: record %d: %+v", size, g.Rank(), i, recs[i])
					}
				}
			})
		}
	}
}

// Byte strings of different lengths (empty, not a multiple of 6, long) come through intact.
func TestShardGatherBytes(t *testing.T) {
	msgs := [][]byte{{}, {0, 255, 1}, make([]byte, 1000)}
	for i := range msgs[2] {
		msgs[2][i] = byte(i * 7)
	}
	onRanks(3, func(g Group) {
		got, err := gatherBytes(g, msgs[g.Rank()])
		if err != nil {
			t.Error(err)
			return
		}
		for r := range msgs {
			if !slices.Equal(got[r], msgs[r]) {
				t.Errorf("rank %d: rank %d's bytes: %d of %d", g.Rank(), r, len(got[r]), len(msgs[r]))
			}
		}
	})
}
