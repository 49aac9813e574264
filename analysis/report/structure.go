package report

// Tables and plots of the structural measures (analysis.Structure).

import (
	"math"
	"slices"
	"strconv"
	"strings"

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
		t := Table{Name: "structure-" + strings.ReplaceAll(metric, "_", "-"), Title: "Weight structure: " + metricTitles[metric],
			Columns: append([]string{"layer"}, res.MatrixTypes...), CSVColumns: [][]string{{"layer"}}}
		for _, typ := range res.MatrixTypes {
			t.CSVColumns = append(t.CSVColumns, []string{typ + "_" + metric})
		}
		cols := make([][]float64, len(res.MatrixTypes))
		for i, typ := range res.MatrixTypes {
			cols[i] = res.Metric(typ, metric)
		}
		for l := range res.Matrices {
			row := []Cell{IntCell(l)}
			for i := range cols {
				row = append(row, SigCell(cols[i][l], 4))
			}
			t.Add(row...)
		}
		out = append(out, t)
	}
	sim := Table{
		Name:    "structure-similarity",
		Title:   "Cross-layer weight similarity (cosine of flattened weights)",
		Columns: []string{"matrix", "mean adjacent", "min adjacent (layers)", "max adjacent (layers)", "mean all pairs"},
		CSVColumns: [][]string{{"matrix"}, {"mean_adjacent_cos"}, {"min_adjacent_cos", "min_adjacent_layer"},
			{"max_adjacent_cos", "max_adjacent_layer"}, {"mean_all_pairs_cos"}},
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
		pair := func(v float64, at int) Cell {
			if at < 0 {
				return Cell{Text: numfmt.NA, Values: []any{math.NaN(), nil}}
			}
			return Cell{Text: numfmt.Float(v, 3) + " (" + strconv.Itoa(at) + "-" + strconv.Itoa(at+1) + ")", Values: []any{v, at}}
		}
		sim.Add(TextCell(typ), NumCell(stats.Mean(adj), 3), pair(minA, minAt), pair(maxA, maxAt), NumCell(stats.Mean(all), 3))
	}
	sim.Notes = []string{"min/max adjacent: the pair of layers l-(l+1) with the lowest/highest cosine; the CSV gives l."}
	out = append(out, sim)
	if res.Hidden != nil {
		t := Table{
			Name:       "structure-hidden",
			Title:      "Hidden-state change per layer",
			Columns:    []string{"layer", "angular distance", "block influence", "relative update"},
			CSVColumns: [][]string{{"layer"}, {"angular_distance_pi"}, {"block_influence"}, {"relative_update"}},
		}
		if res.Entropy != nil {
			t.Columns = append(t.Columns, "attn entropy mean (nats)", "min head", "max head", "normalised mean")
			t.CSVColumns = append(t.CSVColumns, []string{"entropy_mean_nats"}, []string{"entropy_min_head_nats"},
				[]string{"entropy_max_head_nats"}, []string{"entropy_normalised_mean"})
		}
		for l, h := range res.Hidden {
			row := []Cell{IntCell(l), NumCell(float64(h.AngularDistance), 4),
				NumCell(float64(h.BlockInfluence), 4), NumCell(float64(h.RelativeUpdate), 4)}
			if res.Entropy != nil {
				e := floatMatrix(res.Entropy.Mean)[l]
				n := floatMatrix(res.Entropy.Normalised)[l]
				row = append(row, NumCell(stats.Mean(e), 3), NumCell(slices.Min(e), 3),
					NumCell(slices.Max(e), 3), NumCell(stats.Mean(n), 3))
			}
			t.Add(row...)
		}
		t.Notes = res.Notes[min(2, len(res.Notes)):]
		out = append(out, t)
	}
	return out
}

// StructurePlots writes the structure figures into dir in each format (default png) and returns
// the paths of the first format: cosine_<type> and cosine_all (layer × layer heatmaps, the
// diagonal left out of the colour scale), structure_<metric> (one line per matrix type across
// layers), spectrum_<type> (log10 σ/σ_max, layer × index), and with hidden-state measures
// hidden_block_influence, hidden_angular_distance (per-layer bars), attention_entropy and
// attention_entropy_normalised (layer × head).
func StructurePlots(dir string, res *analysis.StructureResult, formats ...string) ([]string, error) {
	figs := newFigures(dir, formats)
	layers := make([]string, res.NumLayers)
	for i := range layers {
		layers[i] = strconv.Itoa(i)
	}
	for _, typ := range append(slices.Clone(res.MatrixTypes), analysis.CosineAll) {
		m := floatMatrix(res.Cosine[typ])
		if err := figs.add("cosine_"+typ, func(p string) error {
			return Heatmap(p, "Cross-layer cosine similarity of the weights: "+typ+" (diagonal, = 1, left out)", m, layers, layers,
				HeatmapOptions{XLabel: "layer", YLabel: "layer", ValueLabel: "cosine", SkipDiagonal: true})
		}); err != nil {
			return figs.paths, err
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
		if err := figs.add("structure_"+metric, func(p string) error {
			return Lines(p, "Weight "+metricTitles[metric]+" per layer", "layer", metricTitles[metric], series, LinesOptions{LayerX: true})
		}); err != nil {
			return figs.paths, err
		}
	}
	for ti, typ := range res.MatrixTypes {
		spec := make([][]float64, len(res.Matrices))
		for l, lm := range res.Matrices {
			for _, v := range lm.Matrices[ti].Spectrum {
				spec[l] = append(spec[l], math.Max(-6, math.Log10(float64(v)))) // floor: numerically zero values
			}
		}
		if err := figs.add("spectrum_"+typ, func(p string) error {
			return Heatmap(p, "Singular values of "+typ+", normalised by the largest", spec, nil, layers,
				HeatmapOptions{XLabel: "singular value index (descending)", YLabel: "layer", ValueLabel: "log10(σ / σ_max), floored at -6"})
		}); err != nil {
			return figs.paths, err
		}
	}
	if res.Hidden != nil {
		if err := figs.add("hidden_block_influence", func(p string) error {
			return LayerBars(p, "Block influence (ShortGPT): 1 - mean cos(layer input, layer output)", "block influence", res.BlockInfluence(), nil, nil, nil, false)
		}); err != nil {
			return figs.paths, err
		}
		if err := figs.add("hidden_angular_distance", func(p string) error {
			return LayerBars(p, "Angular distance between each layer's input and output (mean over tokens)", "arccos(cos) / π", res.AngularDistance(), nil, nil, nil, false)
		}); err != nil {
			return figs.paths, err
		}
	}
	if res.Entropy != nil {
		heads := make([]string, res.Entropy.Heads)
		for i := range heads {
			heads[i] = strconv.Itoa(i)
		}
		if err := figs.add("attention_entropy", func(p string) error {
			return Heatmap(p, "Attention entropy per head", floatMatrix(res.Entropy.Mean), heads, layers,
				HeatmapOptions{XLabel: "head", YLabel: "layer", ValueLabel: "entropy (nats)"})
		}); err != nil {
			return figs.paths, err
		}
		if err := figs.add("attention_entropy_normalised", func(p string) error {
			return Heatmap(p, "Attention entropy / log(keys visible) per head", floatMatrix(res.Entropy.Normalised), heads, layers,
				HeatmapOptions{XLabel: "head", YLabel: "layer", ValueLabel: "normalised entropy (1 = uniform)"})
		}); err != nil {
			return figs.paths, err
		}
	}
	return figs.paths, nil
}
