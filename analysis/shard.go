package analysis

import (
	"bytes"
	"encoding/gob"
	"fmt"
)

// Distributed analysis (docs/distributed.md). The diagnostics' per-layer runs are independent:
// each ablation variant of each layer and each manipulation strategy is one modification of the
// same evaluation sweep, each recovery run perturbs and fine-tunes one layer from the same
// weights with its own seeds. With a Group, run i of n is computed by rank i mod size only, and
// the ranks then exchange their results exactly (float64 bits, or gob for whole records), so
// every rank holds what one process computes and derives the same statistics from it.

// Group is what sharding needs of a process group; *torch.ProcessGroup is one.
type Group interface {
	Rank() int
	Size() int
	// AllGatherFloat64s returns every rank's values (the same count on each), by rank.
	AllGatherFloat64s(values []float64) ([][]float64, error)
}

// mine reports whether this process computes run i (every run without a group).
func mine(g Group, i int) bool { return g == nil || i%g.Size() == g.Rank() }

// gatherRows completes rows (n rows of width floats, this rank's filled in: those mine says)
// with the other ranks' rows, in place.
func gatherRows(g Group, rows [][]float64, width int) error {
	if g == nil || len(rows) == 0 { // every rank has the same rows: all return here or none
		return nil
	}
	size, n := g.Size(), len(rows)
	per := (n + size - 1) / size // rows per rank, the last ranks' padded
	buf := make([]float64, 0, per*width)
	for i := g.Rank(); i < n; i += size {
		buf = append(buf, rows[i]...)
	}
	buf = append(buf, make([]float64, per*width-len(buf))...)
	all, err := g.AllGatherFloat64s(buf)
	if err != nil {
		return fmt.Errorf("gathering the ranks' results: %w", err)
	}
	for r, vs := range all {
		for k, i := 0, r; i < n; k, i = k+1, i+size {
			rows[i] = vs[k*width : (k+1)*width : (k+1)*width]
		}
	}
	return nil
}

// gatherValues completes vals (this rank's entries, those mine says, filled in) with the other
// ranks' entries, in place; the values travel gob-encoded.
func gatherValues[T any](g Group, vals []T) error {
	if g == nil {
		return nil
	}
	var own []T
	for i := g.Rank(); i < len(vals); i += g.Size() {
		own = append(own, vals[i])
	}
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(own); err != nil {
		return fmt.Errorf("encoding this rank's results: %w", err)
	}
	parts, err := gatherBytes(g, b.Bytes())
	if err != nil {
		return err
	}
	for r, p := range parts {
		var theirs []T
		if err := gob.NewDecoder(bytes.NewReader(p)).Decode(&theirs); err != nil {
			return fmt.Errorf("decoding rank %d's results: %w", r, err)
		}
		for k, i := 0, r; i < len(vals); k, i = k+1, i+g.Size() {
			if k >= len(theirs) {
				return fmt.Errorf("rank %d sent %d results, want more", r, len(theirs))
			}
			vals[i] = theirs[k]
		}
	}
	return nil
}

// gatherBytes all-gathers byte strings of any length: the lengths first, then the bytes padded
// to the longest, 6 to a float64 (48-bit integers travel exactly).
func gatherBytes(g Group, b []byte) ([][]byte, error) {
	lens, err := g.AllGatherFloat64s([]float64{float64(len(b))})
	if err != nil {
		return nil, fmt.Errorf("gathering the ranks' results: %w", err)
	}
	longest := 0
	for _, l := range lens {
		longest = max(longest, int(l[0]))
	}
	words := make([]float64, max(1, (longest+5)/6))
	for i, c := range b {
		words[i/6] += float64(uint64(c) << (8 * uint(i%6)))
	}
	all, err := g.AllGatherFloat64s(words)
	if err != nil {
		return nil, fmt.Errorf("gathering the ranks' results: %w", err)
	}
	out := make([][]byte, len(all))
	for r, ws := range all {
		n := int(lens[r][0])
		out[r] = make([]byte, n)
		for i := range out[r] {
			out[r][i] = byte(uint64(ws[i/6]) >> (8 * uint(i%6)))
		}
	}
	return out, nil
}
