package report

// Tables and plots of the weight-predictability diagnostic (analysis.Predictability).

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/growthtrain/growthtrain/analysis"
	"github.com/growthtrain/growthtrain/analysis/paper"
	"github.com/growthtrain/growthtrain/internal/jsonx"
	"github.com/growthtrain/growthtrain/internal/numfmt"
)

func nullCell(n analysis.PredictabilityNull) string {
	return numfmt.Float(float64(n.Mean), 3) + " " + numfmt.CIFloat(float64(n.Q025), float64(n.Q975), 3)
}

// PredictabilityTables returns the summary, delta-correlation, per-layer and substitution tables.
func PredictabilityTables(r *analysis.PredictabilityResult) []Table {
	o := r.Options
	sum := &Table{Title: "Weight predictability across depth (R²)",
		Columns: []string{"type", "elements", "nbr in-sample", "nbr held-out", "nbr held-out, shuffled null", "nbr average",
			"depth in-sample", "depth held-out", "depth held-out, shuffled null", "paper"}}
	hasEW := false
	for _, t := range r.Types {
		hasEW = hasEW || t.NeighborElementwise != nil
	}
	if hasEW {
		sum.Columns = append(sum.Columns, "nbr elementwise in-sample", "nbr elementwise held-out")
	}
	for _, t := range r.Types {
		claim := numfmt.NA
		if t.Type == paper.R2Type {
			claim = paper.GateProjR2.Text
		}
		row := []string{t.Type, strconv.Itoa(t.Elements),
			numfmt.Float(float64(t.Neighbor.InSamplePooled), 3), numfmt.Float(float64(t.Neighbor.HeldOutPooled), 3),
			nullCell(t.NeighborNull), numfmt.Float(float64(t.NeighborAvg.InSamplePooled), 3),
			numfmt.Float(float64(t.Depth.InSamplePooled), 3), numfmt.Float(float64(t.Depth.HeldOutPooled), 3),
			nullCell(t.DepthNull), claim}
		if hasEW {
			if e := t.NeighborElementwise; e != nil {
				row = append(row, numfmt.Float(float64(e.InSamplePooled), 3), numfmt.Float(float64(e.HeldOutPooled), 3))
			} else {
				row = append(row, numfmt.NA, numfmt.NA)
			}
		}
		sum.AddRow(row...)
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

	delta := &Table{Title: "Consecutive-delta correlation corr(W[l+1]-W[l], W[l+2]-W[l+1]) with its null models",
		Columns: []string{"type", "observed mean", "independent-layer null", "shuffled-order null", "shuffled 95% range", "p (two-sided)", "p (obs > null)", "p (obs < null)"}}
	for _, t := range r.Types {
		d := t.Delta
		delta.AddRow(t.Type, numfmt.Float(float64(d.Mean), 3), numfmt.Float(d.Independent, 2),
			numfmt.Float(float64(d.Shuffled.Mean), 3), numfmt.CIFloat(float64(d.Shuffled.Q025), float64(d.Shuffled.Q975), 3),
			numfmt.PValue(float64(d.Shuffled.PTwoSided)), numfmt.PValue(float64(d.Shuffled.PGreater)), numfmt.PValue(float64(d.Shuffled.PLess)))
	}
	delta.Notes = []string{
		"paper: ≈ " + paper.DeltaCorrelation.Text + " (\"" + paper.DeltaPattern + "\").",
		"independent-layer null: if W[l] = shared + independent noise, the correlation is exactly -0.5 whatever the shared part; -0.5 is what no depth structure looks like.",
		"shuffled-order null: the same layers in " + strconv.Itoa(o.Permutations) + " random orders (seed " + strconv.FormatUint(o.Seed, 10) + "); Monte-Carlo p-values (1 + #)/(1 + N).",
	}
	tables := []Table{*sum, *delta}
	perLayer := func(title string, get func(t analysis.PredictabilityType) *analysis.PredictabilityR2, note string) *Table {
		tb := &Table{Title: title, Columns: []string{"layer"}}
		for _, t := range r.Types {
			tb.Columns = append(tb.Columns, t.Type)
		}
		for l := 0; l < r.NumLayers; l++ {
			row := []string{strconv.Itoa(l)}
			for _, t := range r.Types {
				x := get(t)
				row = append(row, numfmt.Float(float64(x.InSample[l]), 3)+" / "+numfmt.Float(float64(x.HeldOut[l]), 3))
			}
			tb.AddRow(row...)
		}
		tb.Notes = []string{"cells: in-sample / held-out (leave-one-layer-out) R² of the layer's weights. " + note}
		return tb
	}
	tables = append(tables,
		*perLayer("Neighbour prediction R² per layer (shared coefficients)", func(t analysis.PredictabilityType) *analysis.PredictabilityR2 { return &t.Neighbor },
			"Endpoints (one neighbour) are not scored."),
		*perLayer("Depth-polynomial R² per layer", func(t analysis.PredictabilityType) *analysis.PredictabilityR2 { return &t.Depth }, ""))
	if s := r.Substitution; s != nil {
		tb := &Table{Title: "Substituting layers by their predictions (" + s.Method + ", order " + s.Order + ")",
			Columns: []string{"k", "layer added", "held-out rel. error", "PPL", "change", "95% CI"}}
		tb.AddRow("0", "", "", numfmt.Float(float64(s.BasePPL), 3), numfmt.Pct(0), "")
		for _, st := range s.Steps {
			l := st.Layers[len(st.Layers)-1]
			tb.AddRow(strconv.Itoa(st.K), strconv.Itoa(l), numfmt.Float(float64(r.LayerError[l]), 4),
				numfmt.Float(float64(st.PPL), 3), numfmt.Pct(float64(st.Change)), numfmt.CIPct(float64(st.CILo), float64(st.CIHi)))
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

// PredictabilityPlots writes the diagnostic's PNG plots into dir and returns their paths.
func PredictabilityPlots(dir string, r *analysis.PredictabilityResult) ([]string, error) {
	var paths []string
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
		name, title, ylabel string
		series              []Series
	}{
		{"predict_neighbor_r2.png", "Held-out R² of W[l] from W[l-1], W[l+1] (shared coefficients)", "R² (leave-one-layer-out)",
			perType(func(t analysis.PredictabilityType) []analysis.JSONFloat { return t.Neighbor.HeldOut })},
		{"predict_depth_r2.png", fmt.Sprintf("Held-out R² of W[l] from a degree-%d polynomial in depth", r.Options.DepthDegree()), "R² (leave-one-layer-out)",
			perType(func(t analysis.PredictabilityType) []analysis.JSONFloat { return t.Depth.HeldOut })},
	}
	ds := perType(func(t analysis.PredictabilityType) []analysis.JSONFloat { return t.Delta.PerLayer })
	if len(ds) > 0 {
		n := len(ds[0].X)
		ds = append(ds, Series{Name: "independent-layer null (-0.5)", X: layers(n, 0), Y: slices.Repeat([]float64{-0.5}, n)})
	}
	plots = append(plots, struct {
		name, title, ylabel string
		series              []Series
	}{"predict_delta_corr.png", "corr(W[l+1]-W[l], W[l+2]-W[l+1]) by l", "delta correlation", ds})
	for _, p := range plots {
		path := filepath.Join(dir, p.name)
		xl := "layer"
		if p.name == "predict_delta_corr.png" {
			xl = "l"
		}
		if err := Lines(path, p.title, xl, p.ylabel, p.series); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	if s := r.Substitution; s != nil && len(s.Steps) > 0 {
		x := []float64{0}
		y := []float64{math.Log10(float64(s.BasePPL))}
		for _, st := range s.Steps {
			x = append(x, float64(st.K))
			y = append(y, math.Log10(float64(st.PPL)))
		}
		path := filepath.Join(dir, "predict_substitution.png")
		err := Lines(path, "Perplexity after substituting k layers by predictions ("+s.Method+", "+s.Order+")",
			"k (layers substituted)", "log10 perplexity", []Series{
				{Name: "substituted", X: x, Y: y},
				{Name: "baseline", X: []float64{0, x[len(x)-1]}, Y: []float64{y[0], y[0]}},
			})
		if err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}
