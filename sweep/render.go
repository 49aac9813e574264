package sweep

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/growthtrain/growthtrain/internal/fsutil"
	"github.com/growthtrain/growthtrain/internal/plotstyle"
)

// CSV is sweep.csv: one row per run, raw numbers in their own columns.
func (r *Result) CSV() string {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"method", "level", "seed", "steps", "flops", "seconds", "val_loss", "dir"})
	for _, run := range r.Runs {
		_ = w.Write([]string{run.Method, strconv.FormatFloat(run.Level, 'g', -1, 64), strconv.FormatUint(run.Seed, 10),
			strconv.Itoa(run.Steps), strconv.FormatFloat(run.FLOPs, 'g', -1, 64), strconv.FormatFloat(run.Seconds, 'g', 6, 64),
			strconv.FormatFloat(run.ValLoss, 'g', -1, 64), run.Dir})
	}
	w.Flush()
	return b.String()
}

func num(x float64, prec int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "n/a"
	}
	return strconv.FormatFloat(x, 'f', prec, 64)
}

// Markdown is summary.md: validation loss per method and level with intervals, the difference
// from uniform at equal compute, and the compute needed to reach the target loss.
func (r *Result) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Loss versus compute: %s\n\n", filepath.Base(r.Budget))
	fmt.Fprintf(&b, "%d methods x %d compute levels x %d seeds (%d runs, %.0f s). A level is a fraction of the uniform run's estimated FLOPs at the budget's steps; every method's steps are scaled to it. Intervals are 95%% (t for means, Welch for differences, bootstrap over seeds for speed-ups).\n\n",
		len(r.Methods), len(r.Levels), len(r.Seeds), len(r.Runs), r.Seconds)
	b.WriteString("| method | level | GFLOPs | seconds | val loss (mean [95% CI]) | minus uniform (mean [95% CI]) |\n|---|---|---|---|---|---|\n")
	for _, c := range r.Curves {
		for _, p := range c.Points {
			fmt.Fprintf(&b, "| %s | %g | %.1f | %.1f | %s [%s, %s] | %s [%s, %s] |\n", c.Method, p.Level, p.FLOPs/1e9, p.Seconds,
				num(p.Loss, 4), num(float64(p.LossLo), 4), num(float64(p.LossHi), 4),
				num(p.DeltaVsUniform, 4), num(float64(p.DeltaVsUniformLo), 4), num(float64(p.DeltaVsUniformHi), 4))
		}
	}
	fmt.Fprintf(&b, "\nCompute to reach validation loss %.4f (log-linear between levels; n/a: not reached within the levels):\n\n", r.Target)
	b.WriteString("| method | GFLOPs at target | speed-up vs uniform [95% CI] |\n|---|---|---|\n")
	for _, c := range r.Curves {
		fmt.Fprintf(&b, "| %s | %s | %s [%s, %s] |\n", c.Method, num(float64(c.FLOPsAtTarget)/1e9, 1),
			num(float64(c.SpeedUp), 2), num(float64(c.SpeedUpLo), 2), num(float64(c.SpeedUpHi), 2))
	}
	return b.String()
}

// Plots writes loss_vs_flops and loss_vs_wall (PNG and SVG): the mean validation loss of each
// method against its mean compute, a band for the 95% interval, the target loss as a line.
func (r *Result) Plots(dir string) error {
	for _, ax := range []struct {
		file, xlabel string
		x            func(Point) float64
	}{
		{"loss_vs_flops", "estimated training TFLOPs", func(p Point) float64 { return p.FLOPs / 1e12 }},
		{"loss_vs_wall", "wall time (s)", func(p Point) float64 { return p.Seconds }},
	} {
		p := plot.New()
		p.Title.Text = "Validation loss vs compute (" + filepath.Base(r.Budget) + ")"
		p.X.Label.Text, p.Y.Label.Text = ax.xlabel, "validation loss"
		// Linear axes: the levels are linear fractions of one compute, less than a decade apart
		// (a log axis would label one tick). The legend sits bottom-left, where curves that fall
		// with compute leave the plot empty.
		p.Legend.Top, p.Legend.Left = false, true
		p.Add(plotter.NewGrid())
		for i, c := range r.Curves {
			col := plotstyle.Color(i) // the report's series style
			var mid, band plotter.XYs
			var hi plotter.XYs
			for _, pt := range c.Points {
				x := ax.x(pt)
				if !(x > 0) {
					continue
				}
				mid = append(mid, plotter.XY{X: x, Y: pt.Loss})
				if lo, h := float64(pt.LossLo), float64(pt.LossHi); !math.IsNaN(lo) && !math.IsNaN(h) {
					band = append(band, plotter.XY{X: x, Y: lo})
					hi = append(hi, plotter.XY{X: x, Y: h})
				}
			}
			if len(band) >= 2 {
				for j := len(hi) - 1; j >= 0; j-- {
					band = append(band, hi[j])
				}
				poly, err := plotter.NewPolygon(band)
				if err == nil {
					fill := col
					fill.A = 50
					poly.Color, poly.LineStyle.Width = fill, 0
					p.Add(poly)
				}
			}
			if len(mid) == 0 {
				continue
			}
			line, pts, err := plotter.NewLinePoints(mid)
			if err != nil {
				return err
			}
			line.Color, line.Width, line.Dashes = col, vg.Points(1.5), plotstyle.Dashes(i)
			pts.Color, pts.Shape, pts.Radius = col, plotstyle.Glyph(i), vg.Points(2.5)
			p.Add(line, pts)
			p.Legend.Add(c.Method, line, pts)
		}
		if !math.IsNaN(r.Target) {
			xmin, xmax := math.Inf(1), 0.0
			for _, c := range r.Curves {
				for _, pt := range c.Points {
					if x := ax.x(pt); x > 0 {
						xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
					}
				}
			}
			if xmax > 0 {
				tl, err := plotter.NewLine(plotter.XYs{{X: xmin, Y: r.Target}, {X: xmax, Y: r.Target}})
				if err == nil {
					tl.Color, tl.Dashes, tl.Width = color.Gray{Y: 120}, []vg.Length{vg.Points(1), vg.Points(2)}, vg.Points(1)
					p.Add(tl)
					p.Legend.Add(fmt.Sprintf("target %.3f", r.Target), tl)
				}
			}
		}
		if err := save(p, filepath.Join(dir, ax.file)); err != nil {
			return err
		}
	}
	return nil
}

// save writes p as base.png (150 dpi) and base.svg, atomically.
func save(p *plot.Plot, base string) error {
	w, h := 7*vg.Inch, 4.5*vg.Inch
	png := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(150))
	p.Draw(draw.New(png))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: png}).WriteTo(&buf); err != nil {
		return err
	}
	if err := fsutil.WriteFile(base+".png", buf.Bytes()); err != nil {
		return err
	}
	svg := vgsvg.New(w, h)
	p.Draw(draw.New(svg))
	buf.Reset()
	if _, err := svg.WriteTo(&buf); err != nil {
		return err
	}
	return fsutil.WriteFile(base+".svg", buf.Bytes())
}
