package report

// The figures: per-layer bars with interval whiskers, heatmaps with a colour bar, line plots with
// confidence bands, labelled scatter plots, and a note that stands in for a figure whose data
// cannot be drawn (all undefined, one point, constant). Every figure is written in the format
// its path's extension names (.png, .svg, .pdf), atomically.
//
// Style, chosen to survive print and greyscale: the Okabe-Ito colours (distinct for the common
// colour-vision deficiencies), each line also with its own dash pattern and marker; bar
// categories at three clearly different lightnesses; heatmaps in viridis (lightness rises
// monotonically with the value) scaled to the data; legends beside the plot, never over the
// data; integer ticks on axes that count (layers, steps, k); one tick style for every
// logarithmic axis (decades as 10ⁿ).

import (
	"bufio"
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/growthtrain/growthtrain/internal/fsutil"
	"github.com/growthtrain/growthtrain/internal/plotstyle"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Figure formats: the extension of a figure's path selects one.
var Formats = []string{"png", "svg", "pdf"}

// CheckFormats validates a list of figure formats (a subset of Formats, at least one).
func CheckFormats(formats []string) error {
	if len(formats) == 0 {
		return errors.New("no figure format (want png, svg or pdf)")
	}
	for _, f := range formats {
		if !slices.Contains(Formats, f) {
			return fmt.Errorf("unknown figure format %q (want png, svg or pdf)", f)
		}
	}
	return nil
}

// Figure sizes and the PNG resolution: 7 × 3.6 in at 200 dpi is 1400 × 720 pixels, wide enough
// for 30 labelled layers and sharp in print; vector formats have no resolution.
var (
	FigWidth  = 7 * vg.Inch
	FigHeight = 3.6 * vg.Inch
)

// PNGDPI is the resolution of PNG figures.
const PNGDPI = 200

// Colours.
var (
	ColorDefault   = color.RGBA{R: 190, G: 200, B: 212, A: 255} // unhighlighted bars: light (luminance ~0.57)
	ColorCritical  = color.RGBA{R: 178, G: 24, B: 43, A: 255}   // "critical": dark red (~0.10)
	ColorAnti      = color.RGBA{R: 77, G: 172, B: 38, A: 255}   // "anti": mid green (~0.31)
	ColorNaN       = color.RGBA{R: 255, G: 255, B: 255, A: 255} // heatmap cells without a value
	colorReference = color.Gray{Y: 90}                          // reference lines (targets, nulls)
	colorGrid      = color.Gray{Y: 225}
)

// seriesColor, seriesDashes and seriesGlyph give series i its style (internal/plotstyle: the
// sweep's curves use the same).
func seriesColor(i int) color.Color      { return plotstyle.Color(i) }
func seriesDashes(i int) []vg.Length     { return plotstyle.Dashes(i) }
func seriesGlyph(i int) draw.GlyphDrawer { return plotstyle.Glyph(i) }

var errLen = errors.New("report: slice lengths differ")

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// recoverPanic converts a panic from the plotting library into an error, so bad input never
// takes the caller down.
func recoverPanic(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("report: plotting failed: %v", r)
	}
}

// canvasFor returns a w × h canvas for path's format (its extension) on a white background.
func canvasFor(path string, w, h vg.Length) (vg.CanvasWriterTo, error) {
	var c vg.CanvasWriterTo
	switch ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), ".")); ext {
	case "png":
		return vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(PNGDPI))}, nil
	case "svg":
		c = vgsvg.New(w, h)
	case "pdf":
		p := vgpdf.New(w, h)
		p.EmbedFonts(true)
		c = p
	default:
		return nil, fmt.Errorf("report: %s: unknown figure format %q (want png, svg or pdf)", path, ext)
	}
	c.SetColor(color.White)
	c.Fill(rectPath(vg.Rectangle{Max: vg.Point{X: w, Y: h}}))
	return c, nil
}

func rectPath(r vg.Rectangle) vg.Path {
	var p vg.Path
	p.Move(r.Min)
	p.Line(vg.Point{X: r.Max.X, Y: r.Min.Y})
	p.Line(r.Max)
	p.Line(vg.Point{X: r.Min.X, Y: r.Max.Y})
	p.Close()
	return p
}

// render draws a w × h figure with f and writes it to path, atomically.
func render(path string, w, h vg.Length, f func(dc draw.Canvas)) (err error) {
	defer recoverPanic(&err)
	c, err := canvasFor(path, w, h)
	if err != nil {
		return err
	}
	f(draw.New(c))
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	// Replaced atomically: a kill while encoding never leaves a truncated figure.
	return fsutil.WriteAtomic(path, func(w *bufio.Writer) error {
		_, err := c.WriteTo(w)
		return err
	})
}

func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Label.TextStyle.Font.Size = vg.Points(10)
		ax.Tick.Label.Font.Size = vg.Points(8.5)
		ax.Tick.Marker = linearTicks{}
	}
	return p
}

// linearTicks are gonum's default ticks on a linear axis, labelled with as many decimals as the
// step between labelled ticks needs, so that no two labels read the same (the default's
// fixed precision labelled a loss axis from 10.80 to 10.85 "11, 11, 11").
type linearTicks struct{}

func (linearTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	var major []float64
	for _, t := range ticks {
		if t.Label != "" {
			major = append(major, t.Value)
		}
	}
	if len(major) < 3 && len(ticks) >= 3 { // two labels ("0", "-25") say little: label every tick
		major = major[:0]
		for i := range ticks {
			ticks[i].Label = "x" // relabelled below
			major = append(major, ticks[i].Value)
		}
	}
	slices.Sort(major) // gonum lists the labelled ticks first
	step := math.Inf(1)
	for i := 1; i < len(major); i++ {
		step = math.Min(step, major[i]-major[i-1])
	}
	if len(major) < 2 || !(step > 0) || math.IsInf(step, 0) {
		return ticks
	}
	big := math.Max(math.Abs(major[0]), math.Abs(major[len(major)-1]))
	decimals := max(0, int(math.Ceil(-math.Log10(step)-1e-9)))
	for i := range ticks {
		if ticks[i].Label == "" {
			continue
		}
		v := ticks[i].Value
		if math.Abs(v) < step*1e-9 {
			v = 0 // not -0 or 1e-17
		}
		if big >= 1e6 || decimals > 6 {
			ticks[i].Label = strconv.FormatFloat(v, 'g', max(2, int(math.Ceil(math.Log10(big/step)))+1), 64)
		} else {
			ticks[i].Label = strconv.FormatFloat(v, 'f', decimals, 64)
		}
	}
	return ticks
}

func grid() *plotter.Grid {
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = colorGrid, colorGrid
	g.Vertical.Width, g.Horizontal.Width = vg.Points(0.5), vg.Points(0.5)
	return g
}

// drawWithLegend draws p with leg beside it, to the right of the plot (legends never cover data).
func drawWithLegend(dc draw.Canvas, p *plot.Plot, leg *plot.Legend) {
	if leg == nil || leg.Rectangle(dc).Size().X == 0 {
		p.Draw(draw.Crop(dc, 0, -vg.Points(10), 0, 0)) // a margin for the last bar and tick label
		return
	}
	width := leg.Rectangle(dc).Size().X + vg.Points(14)
	main := draw.Crop(dc, 0, -width, 0, 0)
	p.Draw(main)
	da := p.DataCanvas(main)
	side := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
		Min: vg.Point{X: dc.Max.X - width + vg.Points(8), Y: da.Min.Y},
		Max: vg.Point{X: dc.Max.X, Y: da.Max.Y}}}
	leg.Draw(side)
}

func newLegend() *plot.Legend {
	l := plot.NewLegend()
	l.Top, l.Left = true, true
	l.TextStyle.Font.Size = vg.Points(8.5)
	l.ThumbnailWidth = vg.Points(22)
	l.Padding = vg.Points(2.5) // between entries: swatches and whiskers must not touch
	return &l
}

// --- Ticks -----------------------------------------------------------------

// integerTicks places ticks on whole numbers only, at a step of 1, 2 or 5 × 10^k chosen for about
// eight labels: the ticker of axes that count (layers, steps, substituted layers).
type integerTicks struct{}

func (integerTicks) Ticks(lo, hi float64) []plot.Tick {
	span := hi - lo
	step := 1.0
	for _, s := range []float64{1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000} {
		step = s
		if span/s <= 10 {
			break
		}
	}
	for span/step > 10 {
		step *= 10
	}
	var out []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+1e-9; v += step {
		if v == 0 {
			v = 0 // not -0
		}
		out = append(out, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', 0, 64)})
	}
	return out
}

var superscripts = map[rune]rune{'0': '⁰', '1': '¹', '2': '²', '3': '³', '4': '⁴', '5': '⁵', '6': '⁶', '7': '⁷', '8': '⁸', '9': '⁹', '-': '⁻'}

// decade labels 10^k, the one label style of every logarithmic axis: "10ᵏ" for k ≥ 2 (1 and 10
// as themselves), decimals for k = -1..-3 ("0.001") and "1e-k" below (the plots' font has no
// superscript minus: "10⁻²" would read "10²").
func decade(k int) string {
	switch {
	case k == 0:
		return "1"
	case k == 1:
		return "10"
	case k < 0 && k >= -3:
		return strconv.FormatFloat(math.Pow(10, float64(k)), 'f', -k, 64)
	case k < 0:
		return "1e" + strconv.Itoa(k)
	}
	var b strings.Builder
	b.WriteString("10")
	for _, r := range strconv.Itoa(k) {
		b.WriteRune(superscripts[r])
	}
	return b.String()
}

// logTicks marks a log-scaled axis: labelled decades with unlabelled 2..9 between them, or, when
// the range holds fewer than two decades, labelled 1, 2 and 5 × 10^k (plain numbers).
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi > lo) {
		return nil
	}
	k0, k1 := int(math.Floor(math.Log10(lo))), int(math.Ceil(math.Log10(hi)))
	var out []plot.Tick
	majors := 0
	for k := k0; k <= k1; k++ {
		if v := math.Pow(10, float64(k)); v >= lo && v <= hi {
			majors++
		}
	}
	for k := k0; k <= k1; k++ {
		base := math.Pow(10, float64(k))
		for m := 1; m <= 9; m++ {
			v := float64(m) * base
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			t := plot.Tick{Value: v}
			switch {
			case majors >= 2 && m == 1:
				t.Label = decade(k)
			case majors < 2 && (m == 1 || m == 2 || m == 5):
				t.Label = strconv.FormatFloat(v, 'g', 3, 64)
			}
			out = append(out, t)
		}
	}
	labelled := 0
	for _, t := range out {
		if t.Label != "" {
			labelled++
		}
	}
	if labelled < 2 { // a narrow range (perplexities from 4.6e4 to 5.3e4): plain numbers
		return linearTicks{}.Ticks(lo, hi)
	}
	return out
}

// layerTicks labels every layer up to 40 layers, every fifth beyond.
func layerTicks(n int) []plot.Tick {
	step := 1
	if n > 40 {
		step = 5
	}
	var ticks []plot.Tick
	for i := 0; i < n; i++ {
		t := plot.Tick{Value: float64(i)}
		if i%step == 0 {
			t.Label = strconv.Itoa(i)
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// --- Notes for figures that cannot be drawn ---------------------------------

// Note writes a figure that says why the figure named by title is not drawn (no finite value,
// one point, a constant): an empty or flat plot would only mislead.
func Note(path, title, why string) error {
	return render(path, FigWidth, FigHeight/2, func(dc draw.Canvas) {
		sty := draw.TextStyle{Color: color.Black, Font: plot.DefaultFont, Handler: plot.DefaultTextHandler,
			XAlign: draw.XCenter, YAlign: draw.YCenter}
		sty.Font.Size = vg.Points(11)
		mid := vg.Point{X: (dc.Min.X + dc.Max.X) / 2, Y: (dc.Min.Y + dc.Max.Y) / 2}
		dc.FillText(sty, vg.Point{X: mid.X, Y: mid.Y + vg.Points(12)}, title)
		sty.Font.Size = vg.Points(9.5)
		sty.Color = colorReference
		dc.FillText(sty, vg.Point{X: mid.X, Y: mid.Y - vg.Points(10)}, "not drawn: "+why)
	})
}

// degenerate says why values cannot make a figure ("" when they can): no finite value, a single
// one, or all equal.
func degenerate(values []float64) string {
	var fin []float64
	for _, v := range values {
		if finite(v) {
			fin = append(fin, v)
		}
	}
	switch {
	case len(fin) == 0:
		return "no value is defined (all NaN or infinite)"
	case len(fin) == 1:
		return "only one value is defined"
	case slices.Min(fin) == slices.Max(fin):
		return "every value is " + strconv.FormatFloat(fin[0], 'g', 4, 64)
	}
	return ""
}

// --- LayerBars -------------------------------------------------------------

// symlog is the symmetric-log transform y' = sign(y)·log10(1 + |y|/c).
type symlog struct{ c float64 }

// newSymlog picks c as the smallest non-zero finite |v| (1 if none).
func newSymlog(vals []float64) symlog {
	c := math.Inf(1)
	for _, v := range vals {
		if finite(v) && v != 0 {
			c = math.Min(c, math.Abs(v))
		}
	}
	if math.IsInf(c, 1) {
		c = 1
	}
	return symlog{c: c}
}

func (s symlog) f(v float64) float64 {
	if !finite(v) {
		return math.NaN()
	}
	return math.Copysign(math.Log10(1+math.Abs(v)/s.c), v)
}

func (s symlog) all(x []float64) []float64 {
	if x == nil {
		return nil
	}
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = s.f(v)
	}
	return out
}

// apply sets ticks on ax (whose Min/Max already hold the transformed data range) at 0 and
// ±10^k for 10^k ≥ c, labelled with the untransformed values in the decade style of logTicks, at
// most 7 per side. The range is widened, if needed, so that each side holding data beyond a
// third of the first power shows at least one labelled power of ten.
func (s symlog) apply(ax *plot.Axis) {
	kmin := int(math.Ceil(math.Log10(s.c) - 1e-9))
	first := s.f(math.Pow(10, float64(kmin)))
	// A side whose data reach less than a third of the way to the first power (a whisker just
	// below 0) is not widened: it would leave a band of empty plot.
	if ax.Max > first/3 && ax.Max < first {
		ax.Max = first
	}
	if ax.Min < -first/3 && ax.Min > -first {
		ax.Min = -first
	}
	extent := math.Max(math.Abs(ax.Min), math.Abs(ax.Max))
	var pows []int
	for k := kmin; k <= kmin+400; k++ {
		v := math.Pow(10, float64(k))
		if s.f(v) > extent*(1+1e-9) || math.IsInf(v, 1) {
			break
		}
		pows = append(pows, k)
	}
	step := 1
	if len(pows) > 7 {
		step = (len(pows) + 6) / 7
	}
	ticks := []plot.Tick{{Value: 0, Label: "0"}}
	for i := len(pows) - 1; i >= 0; i -= step { // always keep the largest power
		k := pows[i]
		v := math.Pow(10, float64(k))
		if t := s.f(v); t <= ax.Max*(1+1e-9) {
			ticks = append(ticks, plot.Tick{Value: t, Label: decade(k)})
		}
		if t := -s.f(v); t >= ax.Min*(1+1e-9) {
			ticks = append(ticks, plot.Tick{Value: t, Label: "−" + decade(k)})
		}
	}
	ax.Tick.Marker = plot.ConstantTicks(ticks)
}

// barsPlotter draws one bar per layer (from 0 to y) with optional whiskers from lo to hi;
// non-finite y values are drawn as a small grey cross at 0 (a gap), non-finite bounds omit the
// whisker.
type barsPlotter struct {
	y, lo, hi []float64
	colors    []color.Color
}

func (b *barsPlotter) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	zero := draw.LineStyle{Color: color.Black, Width: vg.Points(0.6)}
	c.StrokeLines(zero, c.ClipLinesXY([]vg.Point{{X: c.Min.X, Y: trY(0)}, {X: c.Max.X, Y: trY(0)}})...)
	whisker := draw.LineStyle{Color: color.Black, Width: vg.Points(0.8)}
	edge := draw.LineStyle{Color: color.Gray{Y: 60}, Width: vg.Points(0.4)}
	for i, y := range b.y {
		x := float64(i)
		if !finite(y) {
			c.DrawGlyph(draw.GlyphStyle{Color: color.Gray{Y: 110}, Radius: vg.Points(3), Shape: draw.CrossGlyph{}},
				vg.Point{X: trX(x), Y: trY(0)})
			continue
		}
		x0, x1 := trX(x-0.38), trX(x+0.38)
		y0, y1 := trY(0), trY(y)
		pts := []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}
		c.FillPolygon(b.colors[i], c.ClipPolygonXY(pts))
		c.StrokeLines(edge, c.ClipLinesXY(append(pts, pts[0]))...)
	}
	for i := range b.y {
		if b.lo == nil || !finite(b.lo[i]) || !finite(b.hi[i]) {
			continue
		}
		xm, xa, xb := trX(float64(i)), trX(float64(i)-0.15), trX(float64(i)+0.15)
		ylo, yhi := trY(b.lo[i]), trY(b.hi[i])
		c.StrokeLines(whisker, c.ClipLinesXY(
			[]vg.Point{{X: xm, Y: ylo}, {X: xm, Y: yhi}},
			[]vg.Point{{X: xa, Y: ylo}, {X: xb, Y: ylo}},
			[]vg.Point{{X: xa, Y: yhi}, {X: xb, Y: yhi}})...)
	}
}

func (b *barsPlotter) DataRange() (xmin, xmax, ymin, ymax float64) {
	ymin, ymax = 0, 0
	upd := func(v float64) {
		if finite(v) {
			ymin, ymax = math.Min(ymin, v), math.Max(ymax, v)
		}
	}
	for i := range b.y {
		upd(b.y[i])
		if b.lo != nil {
			upd(b.lo[i])
			upd(b.hi[i])
		}
	}
	if ymin == ymax {
		ymax = 1
	}
	return -0.6, float64(len(b.y)) - 0.4, ymin, ymax
}

// swatch is a filled-square legend thumbnail.
type swatch struct{ c color.Color }

func (s swatch) Thumbnail(c *draw.Canvas) {
	side := c.Max.Y - c.Min.Y
	x0 := c.Min.X + (c.Max.X-c.Min.X-side)/2
	pts := []vg.Point{{X: x0, Y: c.Min.Y}, {X: x0 + side, Y: c.Min.Y}, {X: x0 + side, Y: c.Max.Y}, {X: x0, Y: c.Max.Y}}
	c.FillPolygon(s.c, pts)
	c.StrokeLines(draw.LineStyle{Color: color.Gray{Y: 60}, Width: vg.Points(0.4)}, append(pts, pts[0]))
}

// whiskerThumb is the legend entry of the interval whiskers.
type whiskerThumb struct{}

func (whiskerThumb) Thumbnail(c *draw.Canvas) {
	xm := (c.Min.X + c.Max.X) / 2
	w := (c.Max.Y - c.Min.Y) / 2
	ls := draw.LineStyle{Color: color.Black, Width: vg.Points(0.8)}
	c.StrokeLines(ls, []vg.Point{{X: xm, Y: c.Min.Y}, {X: xm, Y: c.Max.Y}},
		[]vg.Point{{X: xm - w/2, Y: c.Min.Y}, {X: xm + w/2, Y: c.Min.Y}},
		[]vg.Point{{X: xm - w/2, Y: c.Max.Y}, {X: xm + w/2, Y: c.Max.Y}})
}

// categoryColors assigns colours to highlight categories: "critical" dark red, "anti" green,
// others from the series colours in sorted-name order.
func categoryColors(highlight map[int]string) (names []string, colors map[string]color.Color) {
	colors = map[string]color.Color{}
	for _, name := range highlight {
		if _, ok := colors[name]; !ok {
			colors[name] = nil
			names = append(names, name)
		}
	}
	sort.Strings(names)
	k := 0
	for _, name := range names {
		switch name {
		case "critical":
			colors[name] = ColorCritical
		case "anti":
			colors[name] = ColorAnti
		default:
			colors[name] = seriesColor(k)
			k++
		}
	}
	return names, colors
}

// LayerBars writes a per-layer bar chart (x = layer index 0..n-1) with optional confidence
// whiskers to path.
//
//   - values[i] is the bar height for layer i; lo/hi are the absolute interval bounds (pass nil
//     for both to omit whiskers; otherwise all three must have the same length). NaN/Inf values
//     are drawn as a grey cross on the zero line and omit their whiskers. Without two distinct
//     finite values the figure is a Note.
//   - highlight maps layer index → category name; "critical" is dark red, "anti" green, other
//     names get distinct colours; unhighlighted bars are light grey-blue. The legend, beside the
//     plot, lists the categories and the interval.
//   - logScale uses a symmetric-log axis, because importance values are signed (negative =
//     ablation improves the loss) and span many decades: y' = sign(y)·log10(1 + |y|/c) where c
//     is the smallest non-zero |value| (so every non-zero bar is at least log10(2) tall and
//     negative bars stay below the zero line). Ticks are placed at 0 and ±10^k and labelled
//     with the original values; bars and whiskers are transformed the same way. The y label
//     gets a "(symlog)" suffix.
func LayerBars(path, title, ylabel string, values, lo, hi []float64, highlight map[int]string, logScale bool) (err error) {
	return bars(path, title, "layer", ylabel, nil, values, lo, hi, highlight, logScale)
}

// CategoryBars is LayerBars over named categories (labels, one per value) instead of layers:
// the x axis is titled xlabel and labelled with the names, turned upright when they are long.
func CategoryBars(path, title, xlabel, ylabel string, labels []string, values, lo, hi []float64, highlight map[int]string, logScale bool) error {
	if len(labels) != len(values) {
		return fmt.Errorf("%w: %d labels, %d values", errLen, len(labels), len(values))
	}
	return bars(path, title, xlabel, ylabel, labels, values, lo, hi, highlight, logScale)
}

func bars(path, title, xlabel, ylabel string, labels []string, values, lo, hi []float64, highlight map[int]string, logScale bool) (err error) {
	defer recoverPanic(&err)
	n := len(values)
	if (lo == nil) != (hi == nil) || (lo != nil && (len(lo) != n || len(hi) != n)) {
		return fmt.Errorf("%w: values %d, lo %d, hi %d", errLen, n, len(lo), len(hi))
	}
	if why := degenerate(values); why != "" && n != 1 {
		return Note(path, title, why)
	}
	b := &barsPlotter{y: values, lo: lo, hi: hi, colors: make([]color.Color, n)}
	names, colors := categoryColors(highlight)
	for i := range b.colors {
		b.colors[i] = ColorDefault
		if name, ok := highlight[i]; ok {
			b.colors[i] = colors[name]
		}
	}
	p := newPlot(title, xlabel, ylabel)
	var sl symlog
	if logScale {
		sl = newSymlog(values)
		b.y, b.lo, b.hi = sl.all(values), sl.all(lo), sl.all(hi)
		p.Y.Label.Text = ylabel + " (symlog)"
	}
	p.Add(grid())
	p.Add(b)
	if logScale {
		sl.apply(&p.Y)
	}
	if labels == nil {
		p.X.Tick.Marker = plot.ConstantTicks(layerTicks(n))
	} else {
		var ticks []plot.Tick
		long := false
		for i, l := range labels {
			ticks = append(ticks, plot.Tick{Value: float64(i), Label: l})
			long = long || len(l) > 4
		}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		if long {
			p.X.Tick.Label.Rotation = math.Pi / 2
			p.X.Tick.Label.XAlign = draw.XRight
			p.X.Tick.Label.YAlign = draw.YCenter
		}
	}
	leg := newLegend()
	if len(names) > 0 {
		leg.Add("other", swatch{ColorDefault})
		for _, name := range names {
			leg.Add(name, swatch{colors[name]})
		}
	}
	if lo != nil {
		leg.Add("95% CI", whiskerThumb{})
	}
	return render(path, FigWidth, FigHeight, func(dc draw.Canvas) { drawWithLegend(dc, p, leg) })
}

// --- Heatmap ---------------------------------------------------------------

type heatGrid struct {
	m          [][]float64
	rows, cols int
}

func (g heatGrid) Dims() (c, r int) { return g.cols, g.rows }

// Z flips rows so that m[0] is drawn at the top, like a printed matrix.
func (g heatGrid) Z(c, r int) float64 {
	row := g.m[g.rows-1-r]
	if c >= len(row) {
		return math.NaN()
	}
	v := row[c]
	if math.IsInf(v, 0) {
		return math.NaN()
	}
	return v
}
func (g heatGrid) X(c int) float64 { return float64(c) }
func (g heatGrid) Y(r int) float64 { return float64(r) }

func labelTicks(n int, labels []string, pos func(i int) float64) []plot.Tick {
	// Up to 32 labels, every step-th, step a round number (1, 2, 5, 10, 20, 50, ...); an
	// unlabelled tick marks every other cell only while that is not a ruler's worth (≤ 64).
	step := 1
	for k := 1; n > 32*step; k++ {
		step = []int{1, 2, 5}[k%3] * int(math.Pow(10, float64(k/3)))
	}
	var ticks []plot.Tick
	for i := 0; i < n; i++ {
		t := plot.Tick{Value: pos(i)}
		if i%step != 0 && n > 64 {
			continue
		}
		if i%step == 0 {
			if i < len(labels) {
				t.Label = labels[i]
			} else {
				t.Label = strconv.Itoa(i)
			}
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// viridis is matplotlib's viridis colour map, from nine of its colours linearly interpolated:
// perceptually uniform, lightness rising with the value, so it reads in greyscale.
type viridis struct{ min, max float64 }

var viridisAnchors = []color.RGBA{
	{68, 1, 84, 255}, {72, 40, 120, 255}, {62, 74, 137, 255}, {49, 104, 142, 255}, {38, 130, 142, 255},
	{31, 158, 137, 255}, {53, 183, 121, 255}, {109, 205, 89, 255}, {253, 231, 37, 255},
}

func (v *viridis) At(x float64) (color.Color, error) {
	if !finite(x) {
		return ColorNaN, nil
	}
	t := 0.0
	if v.max > v.min {
		t = math.Max(0, math.Min(1, (x-v.min)/(v.max-v.min)))
	}
	f := t * float64(len(viridisAnchors)-1)
	i := min(int(f), len(viridisAnchors)-2)
	w := f - float64(i)
	a, b := viridisAnchors[i], viridisAnchors[i+1]
	mix := func(p, q uint8) uint8 { return uint8(math.Round(float64(p)*(1-w) + float64(q)*w)) }
	return color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 255}, nil
}
func (v *viridis) Max() float64     { return v.max }
func (v *viridis) Min() float64     { return v.min }
func (v *viridis) SetMax(x float64) { v.max = x }
func (v *viridis) SetMin(x float64) { v.min = x }
func (v *viridis) SetAlpha(float64) {}
func (v *viridis) Alpha() float64   { return 1 }
func (v *viridis) Palette(n int) palette.Palette {
	cs := make([]color.Color, n)
	for i := range cs {
		cs[i], _ = v.At(v.min + (v.max-v.min)*float64(i)/float64(max(1, n-1)))
	}
	return palette.Palette(plainPalette(cs))
}

type plainPalette []color.Color

func (p plainPalette) Colors() []color.Color { return p }

// HeatmapOptions are the axis titles and the colour-bar label of a heatmap, and whether its
// diagonal is left out of the colour scale (a similarity matrix's diagonal is 1 by definition and
// would squeeze everything else into one colour).
type HeatmapOptions struct {
	XLabel, YLabel, ValueLabel string
	SkipDiagonal               bool
}

// maxHeatAspect caps a heatmap's data area's width:height ratio (and its inverse).
const maxHeatAspect = 2.5

// Heatmap writes a heatmap of m (m[i][j] is row i, column j; row 0 is drawn at the top) with a
// vertical colour bar on the right, square cells (up to an aspect ratio of maxHeatAspect), and
// axis titles. xlabels label the columns and
// ylabels the rows (nil → indices; long lists are thinned). The colour scale (viridis) spans the
// finite values' [min, max]: it fits the data, whatever their sign. NaN/Inf cells, missing cells
// of ragged rows and (with SkipDiagonal) the diagonal are white. Without two distinct finite
// values the figure is a Note.
func Heatmap(path, title string, m [][]float64, xlabels, ylabels []string, opt HeatmapOptions) (err error) {
	defer recoverPanic(&err)
	rows, cols := len(m), 0
	for _, r := range m {
		cols = max(cols, len(r))
	}
	if rows == 0 || cols == 0 {
		return errors.New("report: empty heatmap")
	}
	if opt.SkipDiagonal {
		c := make([][]float64, rows)
		for i, r := range m {
			c[i] = slices.Clone(r)
			if i < len(c[i]) {
				c[i][i] = math.NaN()
			}
		}
		m = c
	}
	var all []float64
	for _, r := range m {
		all = append(all, r...)
	}
	if why := degenerate(all); why != "" {
		return Note(path, title, why)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range all {
		if finite(v) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	cm := &viridis{min: lo, max: hi}
	g := heatGrid{m: m, rows: rows, cols: cols}
	h := plotter.NewHeatMap(g, cm.Palette(256))
	h.Min, h.Max = lo, hi
	h.NaN = ColorNaN
	h.Rasterized = rows*cols > 4096

	p := newPlot(title, opt.XLabel, opt.YLabel)
	p.Add(h)
	p.X.Tick.Marker = plot.ConstantTicks(labelTicks(cols, xlabels, func(i int) float64 { return float64(i) }))
	p.Y.Tick.Marker = plot.ConstantTicks(labelTicks(rows, ylabels, func(i int) float64 { return float64(rows - 1 - i) }))
	rotated := false
	for _, l := range xlabels {
		if len(l) > 4 {
			p.X.Tick.Label.Rotation = math.Pi / 2
			p.X.Tick.Label.XAlign = draw.XRight
			p.X.Tick.Label.YAlign = draw.YCenter
			rotated = true
			break
		}
	}

	cb := plot.New()
	cb.Add(&plotter.ColorBar{ColorMap: cm, Vertical: true})
	cb.HideX()
	cb.X.Padding, cb.Y.Padding = 0, 0
	cb.Y.Tick.Label.Font.Size = p.Y.Tick.Label.Font.Size
	cb.Y.Tick.Marker = linearTicks{}
	cb.Y.Label.Text = opt.ValueLabel
	cb.Y.Label.TextStyle.Font.Size = vg.Points(9)

	// Square cells (up to maxHeatAspect): the figure's size follows the matrix's shape, then the
	// plot is cropped so that its data area has that aspect ratio exactly.
	aspect := math.Min(maxHeatAspect, math.Max(1/maxHeatAspect, float64(cols)/float64(rows)))
	side := 4.6 * vg.Inch
	dataW, dataH := side*vg.Length(math.Min(1.6, aspect)), side
	if aspect >= 1 {
		dataH = dataW / vg.Length(aspect)
	} else {
		dataW = side * vg.Length(aspect)
	}
	const barWidth = 14 // points
	w, hgt := dataW+2.1*vg.Inch, dataH+0.9*vg.Inch
	// A tall matrix (30 layers x 9 heads) makes a narrow figure: wide enough for the title.
	w = max(w, p.Title.TextStyle.Width(title)+0.4*vg.Inch)
	hgt += p.Title.TextStyle.Height(title) + p.Title.Padding
	if rotated {
		hgt += 0.4 * vg.Inch
	}
	// The title is drawn over the whole figure, not only the cropped plot (it would be clipped
	// above a narrow matrix), centred on the data where it fits.
	titleStyle := p.Title.TextStyle
	titleW, titleH := titleStyle.Width(title), titleStyle.Height(title)+p.Title.Padding
	p.Title.Text = ""
	return render(path, w, hgt, func(dc draw.Canvas) {
		// Room for the title, and on the right for the colour bar, its ticks and label.
		main := draw.Crop(dc, 0, -vg.Points(80), 0, -titleH)
		da := p.DataCanvas(main)
		dw, dh := da.Max.X-da.Min.X, da.Max.Y-da.Min.Y
		want := vg.Length(aspect)
		if dw > dh*want { // too wide: narrow it from the right
			main = draw.Crop(main, 0, -(dw - dh*want), 0, 0)
		} else { // too tall: lower the top
			main = draw.Crop(main, 0, 0, 0, -(dh - dw/want))
		}
		p.Draw(main)
		da = p.DataCanvas(main)
		// The colour bar is a plot of its own, its value axis (ticks and title) on its left:
		// given everything right of the heatmap, then narrowed to a bar of barWidth.
		cbc := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: da.Max.X + vg.Points(10), Y: da.Min.Y},
			Max: vg.Point{X: dc.Max.X, Y: da.Max.Y},
		}}
		cbc.Max.X = cb.DataCanvas(cbc).Min.X + vg.Points(barWidth)
		cb.Draw(cbc)
		x := (da.Min.X + da.Max.X) / 2
		x = max(x, dc.Min.X+titleW/2+vg.Points(4))
		x = min(x, dc.Max.X-titleW/2-vg.Points(4))
		dc.FillText(titleStyle, vg.Point{X: x, Y: dc.Max.Y - vg.Points(2)}, title)
	})
}

// --- Lines -----------------------------------------------------------------

// Series is one named line for Lines. Lo and Hi (optional, both or neither, as long as X) are
// its confidence band, drawn as a translucent area. A Reference series (a target, a null model,
// a baseline) is drawn thin and grey-dashed, and does not count as data for the degeneracy
// check. A series without a Name has no legend entry (more lines of one named reference).
type Series struct {
	Name      string
	X, Y      []float64
	Lo, Hi    []float64
	Reference bool
}

// LinesOptions are the axes of a line plot: IntegerX for axes that count (layers, steps),
// LogY for a logarithmic y axis (values ≤ 0 are gaps).
type LinesOptions struct {
	IntegerX, LogY bool
	// LayerX labels every layer (x = 0..n-1) like LayerBars.
	LayerX bool
}

// segments splits a series at non-finite points (and, on a log axis, at values ≤ 0).
func segments(x, y []float64, logY bool) []plotter.XYs {
	var out []plotter.XYs
	var cur plotter.XYs
	for i := range x {
		if finite(x[i]) && finite(y[i]) && (!logY || y[i] > 0) {
			cur = append(cur, plotter.XY{X: x[i], Y: y[i]})
			continue
		}
		if len(cur) > 0 {
			out = append(out, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// band is a filled confidence band between lo and hi over x.
type band struct {
	x, lo, hi []float64
	c         color.Color
}

func (b band) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	var upper, lower []vg.Point
	flush := func() {
		if len(upper) > 1 {
			poly := append(slices.Clone(upper), lower...)
			c.FillPolygon(b.c, c.ClipPolygonXY(poly))
		}
		upper, lower = nil, nil
	}
	for i := range b.x {
		if !finite(b.x[i]) || !finite(b.lo[i]) || !finite(b.hi[i]) || !(b.lo[i] > 0) && p.Y.Scale == (plot.LogScale{}) {
			flush()
			continue
		}
		upper = append(upper, vg.Point{X: trX(b.x[i]), Y: trY(b.hi[i])})
		lower = append([]vg.Point{{X: trX(b.x[i]), Y: trY(b.lo[i])}}, lower...)
	}
	flush()
}

func (b band) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax, ymin, ymax = math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for i := range b.x {
		if finite(b.x[i]) && finite(b.lo[i]) && finite(b.hi[i]) {
			xmin, xmax = math.Min(xmin, b.x[i]), math.Max(xmax, b.x[i])
			ymin, ymax = math.Min(ymin, b.lo[i]), math.Max(ymax, b.hi[i])
		}
	}
	return
}

func translucent(c color.Color, alpha uint8) color.Color {
	r, g, b, _ := c.RGBA()
	a := float64(alpha) / 255
	return color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a * 255)}
}

// bandThumb is the legend entry of a confidence band.
type bandThumb struct{ c color.Color }

func (t bandThumb) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(t.c, []vg.Point{{X: c.Min.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Min.X, Y: c.Max.Y}})
}

// Lines writes a line plot with one styled line per series (colour, dash pattern and marker all
// differ), its confidence band where it has one, and the legend beside the plot (e.g. recovery
// curves, manipulation sweeps). Points with a non-finite X or Y break the line (a gap); series
// with ≤ 60 points get markers, so isolated points between gaps remain visible. X and Y (and Lo,
// Hi) of a series must have equal length. When the data series hold no two distinct finite values
// the figure is a Note.
func Lines(path, title, xlabel, ylabel string, series []Series, opt LinesOptions) (err error) {
	defer recoverPanic(&err)
	var data []float64
	points, longest := 0, 0
	for _, s := range series {
		if len(s.X) != len(s.Y) || (s.Lo != nil || s.Hi != nil) && (len(s.Lo) != len(s.X) || len(s.Hi) != len(s.X)) {
			return fmt.Errorf("%w: series %q has %d x, %d y, %d lo and %d hi values", errLen, s.Name, len(s.X), len(s.Y), len(s.Lo), len(s.Hi))
		}
		if !s.Reference {
			n := 0
			for i := range s.Y {
				if finite(s.X[i]) && finite(s.Y[i]) && (!opt.LogY || s.Y[i] > 0) {
					data = append(data, s.Y[i])
					n++
				}
			}
			points += n
			longest = max(longest, n)
		}
	}
	switch {
	case points == 0:
		return Note(path, title, "no point is defined")
	case points == 1:
		return Note(path, title, "only one point is defined")
	case longest < 2: // dots without lines: the table says as much
		return Note(path, title, "no line has more than one defined point (see the table)")
	}
	p := newPlot(title, xlabel, ylabel)
	if opt.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = logTicks{}
	}
	p.Add(grid())
	leg := newLegend()
	k := 0
	for _, s := range series {
		var ls draw.LineStyle
		var gs draw.GlyphStyle
		if s.Reference {
			ls = draw.LineStyle{Color: colorReference, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(2)}}
		} else {
			ls = draw.LineStyle{Color: seriesColor(k), Width: vg.Points(1.4), Dashes: seriesDashes(k)}
			gs = draw.GlyphStyle{Color: seriesColor(k), Radius: vg.Points(2.2), Shape: seriesGlyph(k)}
			k++
		}
		if s.Lo != nil {
			p.Add(band{x: s.X, lo: s.Lo, hi: s.Hi, c: translucent(ls.Color, 60)})
		}
		markers := !s.Reference && len(s.X) <= 60
		for _, seg := range segments(s.X, s.Y, opt.LogY) {
			l, err := plotter.NewLine(seg)
			if err != nil {
				return err
			}
			l.LineStyle = ls
			p.Add(l)
			if markers || len(seg) == 1 && !s.Reference {
				sc, err := plotter.NewScatter(seg)
				if err != nil {
					return err
				}
				sc.GlyphStyle = gs
				p.Add(sc)
			}
		}
		thumbs := []plot.Thumbnailer{&plotter.Line{LineStyle: ls}}
		if markers {
			thumbs = append(thumbs, &plotter.Scatter{GlyphStyle: gs})
		}
		if s.Name == "" { // an unnamed series (another line of a named one) has no legend entry
			continue
		}
		leg.Add(s.Name, thumbs...)
		if s.Lo != nil {
			leg.Add(s.Name+": 95% CI", bandThumb{translucent(ls.Color, 60)})
		}
	}
	switch {
	case opt.LayerX:
		p.X.Tick.Marker = plot.ConstantTicks(layerTicks(int(math.Round(p.X.Max)) + 1))
	case opt.IntegerX:
		p.X.Tick.Marker = integerTicks{}
	}
	if len(series) == 1 && !series[0].Reference && series[0].Lo == nil {
		leg = nil // one line: the title and the axis say what it is
	}
	return render(path, FigWidth, FigHeight, func(dc draw.Canvas) { drawWithLegend(dc, p, leg) })
}

// --- Scatter ---------------------------------------------------------------

// Scatter writes a scatter plot of (x[i], y[i]) with optional point labels (labels nil, or one
// per point, e.g. layer names). Points with a non-finite coordinate are skipped. Linear axes;
// see ScatterWith for symmetric-log axes. Fewer than two points, or points that do not vary on
// an axis, make a Note instead.
func Scatter(path, title, xlabel, ylabel string, x, y []float64, labels []string) error {
	return ScatterWith(path, title, xlabel, ylabel, x, y, labels, ScatterOptions{})
}

// ScatterOptions selects symmetric-log axes for ScatterWith (same transform and tick labelling as
// LayerBars' logScale, c = smallest non-zero |value| on that axis), useful when importance spans
// several decades, and integer ticks on a y axis that counts.
type ScatterOptions struct {
	SymlogX, SymlogY   bool
	IntegerX, IntegerY bool
}

// ScatterWith is Scatter with options.
func ScatterWith(path, title, xlabel, ylabel string, x, y []float64, labels []string, opt ScatterOptions) (err error) {
	defer recoverPanic(&err)
	if len(x) != len(y) || (labels != nil && len(labels) != len(x)) {
		return fmt.Errorf("%w: x %d, y %d, labels %d", errLen, len(x), len(y), len(labels))
	}
	var fx, fy []float64
	for i := range x {
		if finite(x[i]) && finite(y[i]) {
			fx, fy = append(fx, x[i]), append(fy, y[i])
		}
	}
	switch {
	case len(fx) < 2:
		return Note(path, title, fmt.Sprintf("%d point(s) with both coordinates defined", len(fx)))
	case slices.Min(fx) == slices.Max(fx):
		return Note(path, title, xlabel+" is the same for every point ("+strconv.FormatFloat(fx[0], 'g', 4, 64)+")")
	case slices.Min(fy) == slices.Max(fy):
		return Note(path, title, ylabel+" is the same for every point ("+strconv.FormatFloat(fy[0], 'g', 4, 64)+")")
	}
	var sx, sy symlog
	if opt.SymlogX {
		sx = newSymlog(x)
		x = sx.all(x)
		xlabel += " (symlog)"
	}
	if opt.SymlogY {
		sy = newSymlog(y)
		y = sy.all(y)
		ylabel += " (symlog)"
	}
	p := newPlot(title, xlabel, ylabel)
	p.Add(grid())
	var xys plotter.XYs
	var lbl []string
	for i := range x {
		if finite(x[i]) && finite(y[i]) {
			xys = append(xys, plotter.XY{X: x[i], Y: y[i]})
			if labels != nil {
				lbl = append(lbl, labels[i])
			}
		}
	}
	sc, err := plotter.NewScatter(xys)
	if err != nil {
		return err
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: seriesColor(0), Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
	p.Add(sc)
	if labels != nil {
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: lbl})
		if err != nil {
			return err
		}
		for i := range lb.TextStyle {
			lb.TextStyle[i].Font.Size = vg.Points(7.5)
		}
		lb.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(2)}
		p.Add(lb)
	}
	if opt.SymlogX {
		sx.apply(&p.X)
	}
	if opt.SymlogY {
		sy.apply(&p.Y)
	}
	if opt.IntegerX {
		p.X.Tick.Marker = integerTicks{}
	}
	if opt.IntegerY {
		p.Y.Tick.Marker = integerTicks{}
	}
	return render(path, FigWidth, FigHeight, func(dc draw.Canvas) { p.Draw(dc) })
}

// figures writes a diagnostic's figures in every format asked for, and remembers the path of the
// first format of each (the one report.md shows).
type figures struct {
	dir     string
	formats []string
	paths   []string
}

func newFigures(dir string, formats []string) *figures {
	if len(formats) == 0 {
		formats = []string{"png"}
	}
	return &figures{dir: dir, formats: formats}
}

// add draws the figure named name (without extension) once per format with draw(path).
func (f *figures) add(name string, draw func(path string) error) error {
	for i, ext := range f.formats {
		path := filepath.Join(f.dir, name+"."+ext)
		if err := draw(path); err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(path), err)
		}
		if i == 0 {
			f.paths = append(f.paths, path)
		}
	}
	return nil
}
