package report

// Tables and plots of the weight-predictability diagnostic (analysis.Predictability).

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/growthtrain/growthtrain/analysis"
	"github.com/growthtrain/growthtrain/analysis/paper"
	"github.com/growthtrain/growthtrain/internal/jsonx"
	"github.com/growthtrain/growthtrain/internal/numfmt"
)

func nullCell(n analysis.PredictabilityNull) Cell {
	return Cell{Text: numfmt.Float(float64(n.Mean), 3) + " " + numfmt.CIFloat(float64(n.Q025), float64(n.Q975), 3),
		Values: []any{float64(n.Mean), float64(n.Q025), float64(n.Q975)}}
}

// PredictabilityTables returns the summary, delta-correlation, per-layer and substitution tables.
func PredictabilityTables(r *analysis.PredictabilityResult) []Table {
	o := r.Options
	sum := &Table{Name: "predictability-r2", Title: "Weight predictability across depth (R²)",
		Columns: []string{"type", "elements", "nbr in-sample", "nbr held-out", "nbr held-out, shuffled null", "nbr average",
			"depth in-sample", "depth held-out", "depth held-out, shuffled null", "paper"},
		CSVColumns: [][]string{{"type"}, {"elements"}, {"nbr_in_sample_r2"}, {"nbr_held_out_r2"},
			{"nbr_null_mean_r2", "nbr_null_q025_r2", "nbr_null_q975_r2"}, {"nbr_average_r2"},
			{"depth_in_sample_r2"}, {"depth_held_out_r2"}, {"depth_null_mean_r2", "depth_null_q025_r2", "depth_null_q975_r2"}, {"paper"}}}
	hasEW := false
	for _, t := range r.Types {
		hasEW = hasEW || t.NeighborElementwise != nil
	}
	if hasEW {
		sum.Columns = append(sum.Columns, "nbr elementwise in-sample", "nbr elementwise held-out")
		sum.CSVColumns = append(sum.CSVColumns, []string{"nbr_elementwise_in_sample_r2"}, []string{"nbr_elementwise_held_out_r2"})
	}
	for _, t := range r.Types {
		claim := numfmt.NA
		if t.Type == paper.R2Type {
			claim = paper.GateProjR2.Text
		}
		row := []Cell{TextCell(t.Type), IntCell(t.Elements),
			NumCell(float64(t.Neighbor.InSamplePooled), 3), NumCell(float64(t.Neighbor.HeldOutPooled), 3),
			nullCell(t.NeighborNull), NumCell(float64(t.NeighborAvg.InSamplePooled), 3),
			NumCell(float64(t.Depth.InSamplePooled), 3), NumCell(float64(t.Depth.HeldOutPooled), 3),
			nullCell(t.DepthNull), TextCell(claim)}
		if hasEW {
			if e := t.NeighborElementwise; e != nil {
				row = append(row, NumCell(float64(e.InSamplePooled), 3), NumCell(float64(e.HeldOutPooled), 3))
			} else {
				row = append(row, NumCell(math.NaN(), 3), NumCell(math.NaN(), 3))
			}
		}
		sum.Add(row...)
	}
	sum.Notes = []string{
		"R² pooled over layers: 1 - Σ SS_res / Σ (w - grand mean)²; per-layer values in the per-layer tables and JSON.",
		"nbr: W[l] ≈ a·W[l-1] + b·W[l+1] + c with one (a, b, c) per type and layer (interior layers " +
			"1..L-2), ridge λ=" + numfmt.Sig(o.Lambda, 3) + ". In-sample: fitted on layer l; held-out: fitted on all other " +
			"interior layers' triples pooled (leave-one-layer-out). nbr average: (W[l-1]+W[l+1])/2, nothing fitted.",
		"depth: every element a degree-" + strconv.Itoa(o.DepthDegree()) + " polynomial in normalised depth over all layers; held-out is exact leave-one-layer-out (endpoints extrapolate).",
		"shuffled null: the same held-out statistic on " + strconv.Itoa(o.Permutations) + " random layer orders (mean [2.5%, 97.5%]); R² well above it means depth order carries the predictability, R² near it means a component shared by all layers does.",
		"paper: R² = " + paper.GateProjR2.Text + " for " + paper.R2Type + " (method and in-sample/held-out not stated); compare with the " + paper.R2Type + " row.",
	}
	if hasEW {
		sum.Notes = append(sum.Notes, "nbr elementwise: separate (a, b, c) per element across the interior layers (stats.NeighborR2); 3 parameters per element from 26-27 layers, so in-sample R² is optimistic.")
	}

	delta := &Table{Name: "predictability-delta", Title: "Consecutive-delta correlation corr(W[l+1]-W[l], W[l+2]-W[l+1]) with its null models",
		Columns: []string{"type", "observed mean", "independent-layer null", "shuffled-order null", "shuffled 95% range", "p (two-sided)", "p (obs > null)", "p (obs < null)"},
		CSVColumns: [][]string{{"type"}, {"observed_mean_corr"}, {"independent_null_corr"}, {"shuffled_null_mean_corr"},
			{"shuffled_q025_corr", "shuffled_q975_corr"}, {"p_two_sided"}, {"p_greater"}, {"p_less"}}}
	for _, t := range r.Types {
		d := t.Delta
		delta.Add(TextCell(t.Type), NumCell(float64(d.Mean), 3), NumCell(d.Independent, 2),
			NumCell(float64(d.Shuffled.Mean), 3), CIFloatCell(float64(d.Shuffled.Q025), float64(d.Shuffled.Q975), 3),
			PCell(float64(d.Shuffled.PTwoSided)), PCell(float64(d.Shuffled.PGreater)), PCell(float64(d.Shuffled.PLess)))
	}
	delta.Notes = []string{
		"paper: ≈ " + paper.DeltaCorrelation.Text + " (\"" + paper.DeltaPattern + "\").",
		"independent-layer null: if W[l] = shared + independent noise, the correlation is exactly -0.5 whatever the shared part; -0.5 is what no depth structure looks like.",
		"shuffled-order null: the same layers in " + strconv.Itoa(o.Permutations) + " random orders (seed " + strconv.FormatUint(o.Seed, 10) + "); Monte-Carlo p-values (1 + #)/(1 + N).",
	}
	tables := []Table{*sum, *delta}
	perLayer := func(name, title string, get func(t analysis.PredictabilityType) *analysis.PredictabilityR2, note string) *Table {
		tb := &Table{Name: name, Title: title, Columns: []string{"layer"}, CSVColumns: [][]string{{"layer"}}}
		for _, t := range r.Types {
			tb.Columns = append(tb.Columns, t.Type)
			tb.CSVColumns = append(tb.CSVColumns, []string{t.Type + "_in_sample_r2", t.Type + "_held_out_r2"})
		}
		for l := 0; l < r.NumLayers; l++ {
			row := []Cell{IntCell(l)}
			for _, t := range r.Types {
				x := get(t)
				in, held := float64(x.InSample[l]), float64(x.HeldOut[l])
				row = append(row, Cell{Text: numfmt.Float(in, 3) + " / " + numfmt.Float(held, 3), Values: []any{in, held}})
			}
			tb.Add(row...)
		}
		tb.Notes = []string{"cells: in-sample / held-out (leave-one-layer-out) R² of the layer's weights. " + note}
		return tb
	}
	tables = append(tables,
		*perLayer("predictability-neighbour-layers", "Neighbour prediction R² per layer (shared coefficients)", func(t analysis.PredictabilityType) *analysis.PredictabilityR2 { return &t.Neighbor },
			"Endpoints (one neighbour) are not scored."),
		*perLayer("predictability-depth-layers", "Depth-polynomial R² per layer", func(t analysis.PredictabilityType) *analysis.PredictabilityR2 { return &t.Depth }, ""))
	if s := r.Substitution; s != nil {
		tb := &Table{Name: "predictability-substitution", Title: "Substituting layers by their predictions (" + s.Method + ", order " + s.Order + ")",
			Columns:    []string{"k", "layer added", "held-out rel. error", "PPL", "change", "95% CI"},
			CSVColumns: [][]string{{"k"}, {"layer_added"}, {"held_out_rel_error"}, {"ppl"}, {"change_pct"}, {"ci_low_pct", "ci_high_pct"}}}
		nan := math.NaN()
		tb.Add(IntCell(0), Cell{Values: []any{nil}}, Cell{Values: []any{nan}}, NumCell(float64(s.BasePPL), 3), PctCell(0), Cell{Values: []any{nan, nan}})
		for _, st := range s.Steps {
			l := st.Layers[len(st.Layers)-1]
			tb.Add(IntCell(st.K), IntCell(l), NumCell(float64(r.LayerError[l]), 4),
				NumCell(float64(st.PPL), 3), PctCell(float64(st.Change)), CIPctCell(float64(st.CILo), float64(st.CIHi)))
		}
		tb.Notes = []string{
			"k layers replaced together by predictions from the ORIGINAL weights (neighbours are never predicted values).",
			"held-out rel. error: 1 - R² of the layer's held-out prediction pooled over the studied types (ordering key of \"predictable\").",
			"paper: 1 layer → PPL " + paper.SubstitutedOnePPL.Text + " (from " + paper.BaselinePPL.Text + "); " +
				strconv.Itoa(paper.SubstitutedManyLayers) + "+ layers → PPL > " + paper.SubstitutedManyPPL.Text + ".",
			"CI: percentile bootstrap over eval windows (" + strconv.Itoa(o.BootstrapIters) + " resamples).",
		}
		tables = append(tables, *tb)
	}
	return tables
}

// PredictabilityPlots writes the diagnostic's figures into dir in each format (default png) and
// returns the paths of the first format: predict_neighbor_r2, predict_depth_r2 (held-out R² per
// layer and type), predict_delta_corr (with the independent-layer null as a reference line) and
// predict_substitution (perplexity on a log axis against the number of substituted layers, with
// its bootstrap band).
func PredictabilityPlots(dir string, r *analysis.PredictabilityResult, formats ...string) ([]string, error) {
	figs := newFigures(dir, formats)
	layers := func(n, off int) []float64 {
		x := make([]float64, n)
		for i := range x {
			x[i] = float64(i + off)
		}
		return x
	}
	perType := func(get func(t analysis.PredictabilityType) []analysis.JSONFloat) []Series {
		var s []Series
		for _, t := range r.Types {
			y := jsonx.Float64s(get(t))
			s = append(s, Series{Name: t.Type, X: layers(len(y), 0), Y: y})
		}
		return s
	}
	plots := []struct {
		name, title, xlabel, ylabel string
		series                      []Series
	}{
		{"predict_neighbor_r2", "Held-out R² of W[l] from W[l-1], W[l+1] (shared coefficients)", "layer", "R² (leave-one-layer-out)",
			perType(func(t analysis.PredictabilityType) []analysis.JSONFloat { return t.Neighbor.HeldOut })},
		{"predict_depth_r2", fmt.Sprintf("Held-out R² of W[l] from a degree-%d polynomial in depth", r.Options.DepthDegree()), "layer", "R² (leave-one-layer-out)",
			perType(func(t analysis.PredictabilityType) []analysis.JSONFloat { return t.Depth.HeldOut })},
	}
	ds := perType(func(t analysis.PredictabilityType) []analysis.JSONFloat { return t.Delta.PerLayer })
	if len(ds) > 0 {
		n := len(ds[0].X)
		ds = append(ds, Series{Name: "independent-layer null (-0.5)", X: layers(n, 0), Y: slices.Repeat([]float64{-0.5}, n), Reference: true})
	}
	plots = append(plots, struct {
		name, title, xlabel, ylabel string
		series                      []Series
	}{"predict_delta_corr", "corr(W[l+1]-W[l], W[l+2]-W[l+1]) by first layer l", "layer l", "delta correlation", ds})
	for _, p := range plots {
		if err := figs.add(p.name, func(path string) error {
			return Lines(path, p.title, p.xlabel, p.ylabel, p.series, LinesOptions{LayerX: true})
		}); err != nil {
			return figs.paths, err
		}
	}
	if s := r.Substitution; s != nil && len(s.Steps) > 0 {
		base := float64(s.BasePPL)
		x, y, lo, hi := []float64{0}, []float64{base}, []float64{base}, []float64{base}
		for _, st := range s.Steps {
			x = append(x, float64(st.K))
			y = append(y, float64(st.PPL))
			lo = append(lo, base*(1+float64(st.CILo)))
			hi = append(hi, base*(1+float64(st.CIHi)))
		}
		if err := figs.add("predict_substitution", func(path string) error {
			return Lines(path, "Perplexity after substituting k layers by predictions ("+s.Method+", "+s.Order+")",
				"k (layers substituted)", "perplexity", []Series{
					{Name: "substituted", X: x, Y: y, Lo: lo, Hi: hi},
					{Name: "baseline", X: []float64{0, x[len(x)-1]}, Y: []float64{base, base}, Reference: true},
				}, LinesOptions{IntegerX: true, LogY: true})
		}); err != nil {
			return figs.paths, err
		}
	}
	return figs.paths, nil
}
