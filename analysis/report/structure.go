package report

// Tables and plots of the structural measures (analysis.Structure).

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/growthtrain/growthtrain/analysis"
	"github.com/growthtrain/growthtrain/analysis/stats"
	"github.com/growthtrain/growthtrain/internal/numfmt"
)

// floatMatrix converts a result's matrix of JSON floats for plotting.
func floatMatrix(x [][]analysis.JSONFloat) [][]float64 {
	out := make([][]float64, len(x))
	for i, r := range x {
		out[i] = make([]float64, len(r))
		for j, v := range r {
			out[i][j] = float64(v)
		}
	}
	return out
}

var metricTitles = map[string]string{
	analysis.MetricFrobenius: "Frobenius norm", analysis.MetricSpectral: "spectral norm",
	analysis.MetricStableRank: "stable rank", analysis.MetricEffectiveRank: "effective rank",
}

var metricOrder = []string{analysis.MetricFrobenius, analysis.MetricSpectral, analysis.MetricStableRank, analysis.MetricEffectiveRank}

// StructureTables returns: one table per matrix measure (layers × matrix types), the cross-layer
// similarity summary, and the hidden-state/attention table when measured.
func StructureTables(res *analysis.StructureResult) []Table {
	var out []Table
	for _, metric := range metricOrder {
		t := Table{Title: "Weight structure: " + metricTitles[metric], Columns: append([]string{"layer"}, res.MatrixTypes...)}
		cols := make([][]float64, len(res.MatrixTypes))
		for i, typ := range res.MatrixTypes {
			cols[i] = res.Metric(typ, metric)
		}
		for l := range res.Matrices {
			row := []string{strconv.Itoa(l)}
			for i := range cols {
				row = append(row, numfmt.Sig(cols[i][l], 4))
			}
			t.AddRow(row...)
		}
		out = append(out, t)
	}
	sim := Table{
		Title:   "Cross-layer weight similarity (cosine of flattened weights)",
		Columns: []string{"matrix", "mean adjacent", "min adjacent (layers)", "max adjacent (layers)", "mean all pairs"},
	}
	for _, typ := range append(slices.Clone(res.MatrixTypes), analysis.CosineAll) {
		c := floatMatrix(res.Cosine[typ])
		var adj, all []float64
		minA, maxA, minAt, maxAt := math.Inf(1), math.Inf(-1), -1, -1
		for i := range c {
			for j := i + 1; j < len(c); j++ {
				if !finite(c[i][j]) {
					continue
				}
				all = append(all, c[i][j])
				if j == i+1 {
					adj = append(adj, c[i][j])
					if c[i][j] < minA {
						minA, minAt = c[i][j], i
					}
					if c[i][j] > maxA {
						maxA, maxAt = c[i][j], i
					}
				}
			}
		}
		pair := func(v float64, at int) string {
			if at < 0 {
				return numfmt.NA
			}
			return numfmt.Float(v, 3) + " (" + strconv.Itoa(at) + "-" + strconv.Itoa(at+1) + ")"
		}
		sim.AddRow(typ, numfmt.Float(stats.Mean(adj), 3), pair(minA, minAt), pair(maxA, maxAt), numfmt.Float(stats.Mean(all), 3))
	}
	out = append(out, sim)
	if res.Hidden != nil {
		t := Table{
			Title:   "Hidden-state change per layer",
			Columns: []string{"layer", "angular distance", "block influence", "relative update"},
		}
		if res.Entropy != nil {
			t.Columns = append(t.Columns, "attn entropy mean (nats)", "min head", "max head", "normalised mean")
		}
		for l, h := range res.Hidden {
			row := []string{strconv.Itoa(l), numfmt.Float(float64(h.AngularDistance), 4),
				numfmt.Float(float64(h.BlockInfluence), 4), numfmt.Float(float64(h.RelativeUpdate), 4)}
			if res.Entropy != nil {
				e := floatMatrix(res.Entropy.Mean)[l]
				n := floatMatrix(res.Entropy.Normalised)[l]
				row = append(row, numfmt.Float(stats.Mean(e), 3), numfmt.Float(slices.Min(e), 3),
					numfmt.Float(slices.Max(e), 3), numfmt.Float(stats.Mean(n), 3))
			}
			t.AddRow(row...)
		}
		t.Notes = res.Notes[min(2, len(res.Notes)):]
		out = append(out, t)
	}
	return out
}

// StructurePlots writes the structure figures into dir and returns their paths:
// cosine_<type>.png and cosine_all.png (layer × layer heatmaps), structure_<metric>.png (one
// line per matrix type across layers), spectrum_<type>.png (log10 σ/σ_max, layer × index),
// and with hidden-state measures hidden_block_influence.png, hidden_angular_distance.png
// (per-layer bars), attention_entropy.png and attention_entropy_normalised.png (layer × head).
func StructurePlots(dir string, res *analysis.StructureResult) ([]string, error) {
	var paths []string
	add := func(name string, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		paths = append(paths, filepath.Join(dir, name))
		return nil
	}
	layers := make([]string, res.NumLayers)
	for i := range layers {
		layers[i] = strconv.Itoa(i)
	}
	for _, typ := range append(slices.Clone(res.MatrixTypes), analysis.CosineAll) {
		name := "cosine_" + typ + ".png"
		err := Heatmap(filepath.Join(dir, name), "Cross-layer cosine similarity: "+typ, floatMatrix(res.Cosine[typ]), layers, layers)
		if err := add(name, err); err != nil {
			return paths, err
		}
	}
	x := make([]float64, res.NumLayers)
	for i := range x {
		x[i] = float64(i)
	}
	for _, metric := range metricOrder {
		var series []Series
		for _, typ := range res.MatrixTypes {
			series = append(series, Series{Name: typ, X: x, Y: res.Metric(typ, metric)})
		}
		name := "structure_" + metric + ".png"
		err := Lines(filepath.Join(dir, name), "Weight "+metricTitles[metric]+" per layer", "layer", metricTitles[metric], series)
		if err := add(name, err); err != nil {
			return paths, err
		}
	}
	for ti, typ := range res.MatrixTypes {
		spec := make([][]float64, len(res.Matrices))
		for l, lm := range res.Matrices {
			for _, v := range lm.Matrices[ti].Spectrum {
				spec[l] = append(spec[l], math.Max(-6, math.Log10(float64(v)))) // floor: numerically zero values
			}
		}
		name := "spectrum_" + typ + ".png"
		err := Heatmap(filepath.Join(dir, name), "Singular values of "+typ+": log10(σ/σ_max) (floored at -6), layer × index", spec, nil, layers)
		if err := add(name, err); err != nil {
			return paths, err
		}
	}
	if res.Hidden != nil {
		name := "hidden_block_influence.png"
		err := LayerBars(filepath.Join(dir, name), "Block influence (1 - mean cos(input, output))", "BI", res.BlockInfluence(), nil, nil, nil, false)
		if err := add(name, err); err != nil {
			return paths, err
		}
		name = "hidden_angular_distance.png"
		err = LayerBars(filepath.Join(dir, name), "Angular distance between layer input and output", "arccos(cos)/π", res.AngularDistance(), nil, nil, nil, false)
		if err := add(name, err); err != nil {
			return paths, err
		}
	}
	if res.Entropy != nil {
		heads := make([]string, res.Entropy.Heads)
		for i := range heads {
			heads[i] = strconv.Itoa(i)
		}
		name := "attention_entropy.png"
		err := Heatmap(filepath.Join(dir, name), "Attention entropy (nats), layer × head", floatMatrix(res.Entropy.Mean), heads, layers)
		if err := add(name, err); err != nil {
			return paths, err
		}
		name = "attention_entropy_normalised.png"
		err = Heatmap(filepath.Join(dir, name), "Attention entropy / log(keys visible), layer × head", floatMatrix(res.Entropy.Normalised), heads, layers)
		if err := add(name, err); err != nil {
			return paths, err
		}
	}
	return paths, nil
}
