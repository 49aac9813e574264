package data

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// iota32 returns the stream 0, 1, ..., n-1, in which a window's first token is its offset.
func iota32(n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(i)
	}
	return out
}

func mustSampler(t *testing.T, tokens []int32, seqLen, batch int, seed uint64) *Sampler {
	t.Helper()
	s, err := NewSampler(tokens, seqLen, batch, seed)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func draw(s *Sampler, n int) [][][]int64 {
	out := make([][][]int64, n)
	for i := range out {
		out[i] = s.Next()
	}
	return out
}

func equalBatches(a, b [][][]int64) bool {
	return slices.EqualFunc(a, b, func(x, y [][]int64) bool {
		return slices.EqualFunc(x, y, slices.Equal[[]int64])
	})
}

func TestSamplerWindows(t *testing.T) {
	tests := []struct {
		name           string
		n, seqLen, bsz int
	}{
		{"typical", 1000, 16, 8},
		{"exactly one window", 17, 16, 3},
		{"two offsets", 5, 3, 5},
		{"seqLen 1", 10, 1, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSampler(t, iota32(tc.n), tc.seqLen, tc.bsz, 9)
			for step := range 50 {
				batch := s.Next()
				if len(batch) != tc.bsz {
					t.Fatalf("batch has %d rows, want %d", len(batch), tc.bsz)
				}
				for _, w := range batch {
					if len(w) != tc.seqLen+1 {
						t.Fatalf("window length %d, want %d", len(w), tc.seqLen+1)
					}
					off := w[0]
					if off < 0 || off > int64(tc.n-tc.seqLen-1) {
						t.Fatalf("window start %d out of range", off)
					}
					for j, v := range w {
						if v != off+int64(j) {
							t.Fatalf("window %v is not a contiguous slice of the stream", w)
						}
					}
				}
				if s.Step() != int64(step+1) {
					t.Fatalf("Step = %d after %d batches", s.Step(), step+1)
				}
			}
		})
	}
}

func TestSamplerUniformOffsets(t *testing.T) {
	const n, seqLen = 40, 7 // 33 possible offsets
	s := mustSampler(t, iota32(n), seqLen, 64, 123)
	counts := make([]int, n-seqLen)
	draws := 0
	for range 500 {
		for _, w := range s.Next() {
			counts[w[0]]++
			draws++
		}
	}
	mean := float64(draws) / float64(len(counts))
	for off, c := range counts {
		if float64(c) < 0.85*mean || float64(c) > 1.15*mean {
			t.Errorf("offset %d drawn %d times, mean %.0f", off, c, mean)
		}
	}
}

func TestSamplerDeterminism(t *testing.T) {
	toks := iota32(5000)
	a := draw(mustSampler(t, toks, 32, 4, 7), 20)
	b := draw(mustSampler(t, toks, 32, 4, 7), 20)
	if !equalBatches(a, b) {
		t.Error("same seed gave different batches")
	}
	c := draw(mustSampler(t, toks, 32, 4, 8), 20)
	if equalBatches(a, c) {
		t.Error("different seeds gave the same batches")
	}
	// Golden values: the window starts must never change between versions, or resumed runs
	// would silently draw different data.
	got := []int64{}
	for _, w := range mustSampler(t, toks, 32, 4, 1).Next() {
		got = append(got, w[0])
	}
	if want := goldenStarts; !slices.Equal(got, want) {
		t.Errorf("seed 1 starts %v, want %v", got, want)
	}
}

var goldenStarts = []int64{4623, 3622, 4480, 4406}

func TestSamplerStateRestore(t *testing.T) {
	toks := iota32(3000)
	for _, k := range []int{0, 1, 7, 50} {
		t.Run(fmt.Sprintf("after %d batches", k), func(t *testing.T) {
			orig := mustSampler(t, toks, 24, 5, 99)
			draw(orig, k)
			state, err := orig.State()
			if err != nil {
				t.Fatal(err)
			}
			want := draw(orig, 30)

			// A fresh sampler (even with another seed) restored from the state continues
			// identically, also over a copy of the stream.
			resumed := mustSampler(t, slices.Clone(toks), 24, 5, 12345)
			if err := resumed.Restore(state); err != nil {
				t.Fatal(err)
			}
			if resumed.Step() != int64(k) {
				t.Errorf("restored Step = %d, want %d", resumed.Step(), k)
			}
			if got := draw(resumed, 30); !equalBatches(got, want) {
				t.Error("resumed sampler draws different windows")
			}
			s1, _ := orig.State()
			s2, _ := resumed.State()
			if !slices.Equal(s1, s2) {
				t.Error("states differ after the same draws")
			}
			// The state is a snapshot: restoring it again rewinds.
			if err := resumed.Restore(state); err != nil {
				t.Fatal(err)
			}
			if got := draw(resumed, 30); !equalBatches(got, want) {
				t.Error("second restore does not rewind")
			}
		})
	}
}

func TestSamplerErrors(t *testing.T) {
	newTests := []struct {
		name             string
		n, seqLen, batch int
		wantMsg          string
	}{
		{"stream too short", 16, 16, 1, "has 16 tokens, need at least seqLen+1 = 17"},
		{"empty stream", 0, 1, 1, "has 0 tokens"},
		{"zero seqLen", 10, 0, 1, "sequence length 0"},
		{"negative batch", 10, 2, -1, "batch size -1"},
	}
	for _, tc := range newTests {
		if _, err := NewSampler(iota32(tc.n), tc.seqLen, tc.batch, 0); err == nil || !strings.Contains(err.Error(), tc.wantMsg) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.wantMsg)
		}
	}

	toks := iota32(100)
	src := mustSampler(t, toks, 8, 2, 1)
	src.Next()
	state, _ := src.State()
	other := slices.Clone(toks)
	other[50] = 7
	restoreTests := []struct {
		name    string
		target  *Sampler
		state   []byte
		wantMsg string
	}{
		{"empty", mustSampler(t, toks, 8, 2, 5), nil, "shorter than"},
		{"truncated", mustSampler(t, toks, 8, 2, 5), state[:len(state)-1], "generator state length"},
		{"bad magic", mustSampler(t, toks, 8, 2, 5), append([]byte("XXXXXXXX"), state[8:]...), "bad magic"},
		{"other seqLen", mustSampler(t, toks, 9, 2, 5), state, "seqLen 8, batch 2"},
		{"other batch", mustSampler(t, toks, 8, 3, 5), state, "seqLen 8, batch 2"},
		{"other stream length", mustSampler(t, iota32(101), 8, 2, 5), state, "different token stream"},
		{"other stream contents", mustSampler(t, other, 8, 2, 5), state, "different token stream"},
		{"bad generator state", mustSampler(t, toks, 8, 2, 5), func() []byte { b := slices.Clone(state); b[56] = 'x'; return b }(), "generator state"},
	}
	for _, tc := range restoreTests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := tc.target.State()
			err := tc.target.Restore(tc.state)
			if err == nil || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("err = %v, want %q", err, tc.wantMsg)
			}
			if after, _ := tc.target.State(); !slices.Equal(before, after) {
				t.Error("failed Restore changed the sampler")
			}
		})
	}
}

func TestEvalWindows(t *testing.T) {
	win := func(starts ...int64) [][]int64 {
		out := [][]int64{}
		for _, s := range starts {
			out = append(out, []int64{s, s + 1, s + 2})
		}
		return out
	}
	tests := []struct {
		name              string
		n, seqLen, maxTok int
		want              [][]int64
	}{
		{"all windows, tail dropped", 10, 2, 0, win(0, 3, 6)},
		{"exact fit", 9, 2, 0, win(0, 3, 6)},
		{"negative cap means all", 9, 2, -5, win(0, 3, 6)},
		{"cap above total", 9, 2, 100, win(0, 3, 6)},
		{"cap to two, spread", 9, 2, 6, win(0, 3)},
		{"cap to two of four, spread", 12, 2, 7, win(0, 6)},
		{"cap to one", 12, 2, 3, win(0)},
		{"cap below one window", 12, 2, 2, nil},
		{"stream shorter than a window", 2, 2, 0, nil},
		{"zero seqLen", 10, 0, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := EvalWindows(iota32(tc.n), tc.seqLen, tc.maxTok)
			if !slices.EqualFunc(got, tc.want, slices.Equal[[]int64]) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	// Larger stream: windows are aligned, non-overlapping, evenly spread and within the cap.
	toks := iota32(100_000)
	got := EvalWindows(toks, 127, 10_000)
	if len(got) != 10_000/128 {
		t.Fatalf("%d windows, want %d", len(got), 10_000/128)
	}
	for i, w := range got {
		if w[0]%128 != 0 || (i > 0 && w[0] < got[i-1][0]+128) {
			t.Fatalf("window %d starts at %d", i, w[0])
		}
	}
	if last := got[len(got)-1][0]; last < 90_000 {
		t.Errorf("windows end at %d: not spread over the stream", last)
	}
	if again := EvalWindows(toks, 127, 10_000); !slices.EqualFunc(got, again, slices.Equal[[]int64]) {
		t.Error("not deterministic")
	}
}
