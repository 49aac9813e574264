package report

// Tables and figures of the logit lens (analysis.Lens) and the block angular distances
// (analysis.Blocks).

import (
	"fmt"
	"math"
	"strconv"

	"github.com/growthtrain/growthtrain/analysis"
	"github.com/growthtrain/growthtrain/internal/numfmt"
)

// depthName is how the tables name a residual-stream depth: the embeddings, or a layer's output.
func depthName(d analysis.LensDepth) string {
	if d.Layer < 0 {
		return "embeddings"
	}
	return "L" + strconv.Itoa(d.Layer) + " output"
}

// LensTables returns the per-depth logit-lens table.
func LensTables(r *analysis.LensResult) []Table {
	lvl := fmt.Sprintf("%g%% CI", r.Level*100)
	t := Table{Name: "lens", Title: "Logit lens: each layer's output through the final norm and the LM head",
		Columns: []string{"depth", "residual", "loss (nats)", lvl, "PPL", "KL to final (nats)", lvl, "top-1 = final"},
		CSVColumns: [][]string{{"depth"}, {"layer"}, {"loss_nats"}, {"loss_ci_low_nats", "loss_ci_high_nats"}, {"ppl"},
			{"kl_nats"}, {"kl_ci_low_nats", "kl_ci_high_nats"}, {"top1_agreement_frac"}}}
	for _, d := range r.Depths {
		t.Add(IntCell(d.Depth), Cell{Text: depthName(d), Values: []any{d.Layer}}, NumCell(float64(d.Loss), 4),
			CIFloatCell(float64(d.LossCILo), float64(d.LossCIHi), 4), SigCell(float64(d.PPL), 4),
			NumCell(float64(d.KL), 4), CIFloatCell(float64(d.KLCILo), float64(d.KLCIHi), 4),
			Cell{Text: numfmt.Float(100*float64(d.Top1), 1) + "%", Values: []any{float64(d.Top1)}})
	}
	t.Notes = append(append(t.Notes, r.Notes...), fmt.Sprintf("%d windows, %d predicted tokens; in the CSV, layer is -1 for the embeddings.", r.Windows, r.Tokens))
	return []Table{t}
}

// LensPlots writes "lens_loss" (next-token loss per depth on a log axis, with its bootstrap band
// and the final loss as a reference) and "lens_kl" (KL to the final distribution per depth, log axis) into dir
// in each format (default png) and returns the paths of the first format.
func LensPlots(dir string, r *analysis.LensResult, formats ...string) ([]string, error) {
	figs := newFigures(dir, formats)
	n := len(r.Depths)
	x, loss, lo, hi, kl := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i, d := range r.Depths {
		x[i] = float64(d.Depth)
		loss[i], lo[i], hi[i], kl[i] = float64(d.Loss), float64(d.LossCILo), float64(d.LossCIHi), float64(d.KL)
	}
	final := loss[n-1]
	if err := figs.add("lens_loss", func(p string) error {
		return Lines(p, "Logit lens: next-token loss of each depth (0 = embeddings, d = output of layer d-1)", "depth", "loss (nats/token)",
			[]Series{{Name: "logit lens", X: x, Y: loss, Lo: lo, Hi: hi},
				{Name: "model output", X: []float64{0, x[n-1]}, Y: []float64{final, final}, Reference: true}},
			LinesOptions{LayerX: true, LogY: true}) // the embeddings' loss is often tens of times the output's
	}); err != nil {
		return figs.paths, err
	}
	// The last depth's KL is 0 by definition: a log axis leaves it out.
	klLo, klHi := make([]float64, n-1), make([]float64, n-1)
	for i, d := range r.Depths[:n-1] {
		klLo[i], klHi[i] = float64(d.KLCILo), float64(d.KLCIHi)
	}
	if err := figs.add("lens_kl", func(p string) error {
		return Lines(p, "Logit lens: KL(final ‖ depth) (the last depth, the output itself, is 0)", "depth", "KL (nats/token)",
			[]Series{{Name: "KL", X: x[:n-1], Y: kl[:n-1], Lo: klLo, Hi: klHi}},
			LinesOptions{IntegerX: true, LogY: true})
	}); err != nil {
		return figs.paths, err
	}
	return figs.paths, nil
}

// BlocksTables returns the most redundant block of each length, then every block (long format:
// one row per start and length).
func BlocksTables(r *analysis.BlocksResult) []Table {
	best := Table{Name: "blocks-best", Title: "Most redundant block of n layers (smallest angular distance between its input and output)",
		Columns: []string{"n", "layers (last token)", "last token", "all tokens", "layers (all tokens)", "all tokens, min"},
		CSVColumns: [][]string{{"n"}, {"start", "end"}, {"last_token_angle_pi"}, {"all_tokens_angle_pi"},
			{"start_all_tokens", "end_all_tokens"}, {"all_tokens_min_angle_pi"}}}
	span := func(start, n int) Cell {
		if start < 0 {
			return Cell{Text: numfmt.NA, Values: []any{nil, nil}}
		}
		return Cell{Text: fmt.Sprintf("%d-%d", start, start+n-1), Values: []any{start, start + n - 1}}
	}
	for _, b := range r.Best {
		best.Add(IntCell(b.N), span(b.Start, b.N), NumCell(float64(b.LastToken), 4), NumCell(float64(b.AllTokens), 4),
			span(b.StartAll, b.N), NumCell(float64(b.AllTokensMin), 4))
	}
	best.Notes = append(append(best.Notes, r.Notes...), "Distances are arccos(cos)/π (0: the block changes nothing's direction, 0.5: orthogonal); layers are inclusive.")
	all := Table{Name: "blocks", Title: "Angular distance of every block of n consecutive layers",
		Columns:    []string{"n", "start", "end", "last token", "all tokens"},
		CSVColumns: [][]string{{"n"}, {"start"}, {"end"}, {"last_token_angle_pi"}, {"all_tokens_angle_pi"}}}
	for n := 1; n <= r.NumLayers; n++ {
		for l := range r.LastToken[n-1] {
			all.Add(IntCell(n), IntCell(l), IntCell(l+n-1), NumCell(float64(r.LastToken[n-1][l]), 4), NumCell(float64(r.AllTokens[n-1][l]), 4))
		}
	}
	return []Table{best, all}
}

// BlocksPlots writes the heatmaps "blocks_last_token" and "blocks_all_tokens" (start layer ×
// block length n; blocks past the last layer are empty) into dir in each format (default png)
// and returns the paths of the first format.
func BlocksPlots(dir string, r *analysis.BlocksResult, formats ...string) ([]string, error) {
	figs := newFigures(dir, formats)
	L := r.NumLayers
	starts, ns := make([]string, L), make([]string, L)
	for i := range starts {
		starts[i], ns[i] = strconv.Itoa(i), strconv.Itoa(i+1)
	}
	grid := func(x [][]analysis.JSONFloat) [][]float64 {
		m := make([][]float64, L)
		for n := range m {
			m[n] = make([]float64, L)
			for l := range m[n] {
				m[n][l] = math.NaN()
				if l < len(x[n]) {
					m[n][l] = float64(x[n][l])
				}
			}
		}
		return m
	}
	for _, h := range []struct {
		name, what string
		m          [][]analysis.JSONFloat
	}{{"blocks_last_token", "last token of each window", r.LastToken}, {"blocks_all_tokens", "all tokens", r.AllTokens}} {
		if err := figs.add(h.name, func(p string) error {
			return Heatmap(p, "Angular distance across blocks of n layers ("+h.what+")", grid(h.m), starts, ns,
				HeatmapOptions{XLabel: "first layer of the block", YLabel: "block length n (layers)", ValueLabel: "arccos(cos) / π"})
		}); err != nil {
			return figs.paths, err
		}
	}
	return figs.paths, nil
}
