package report

import (
	"bufio"
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/growthtrain/growthtrain/internal/fsutil"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Output size of every PNG, in pixels. The canvas is rendered at DPI dots
// per inch, so default font sizes stay readable at this size.
var (
	WidthPx  = 1000
	HeightPx = 500
)

// DPI is the rendering resolution used for the PNG canvases.
const DPI = 96

// Colours used for LayerBars categories. Other category names get colours
// from plotutil's palette in sorted-name order.
var (
	ColorDefault  = color.RGBA{R: 120, G: 144, B: 170, A: 255} // unhighlighted bars
	ColorCritical = color.RGBA{R: 214, G: 39, B: 40, A: 255}   // "critical"
	ColorAnti     = color.RGBA{R: 44, G: 160, B: 44, A: 255}   // "anti" (ablation helps)
	ColorNaN      = color.RGBA{R: 210, G: 210, B: 210, A: 255} // heatmap NaN cells
)

var errLen = errors.New("report: slice lengths differ")

func ptLen(px int) vg.Length { return vg.Length(px) * vg.Inch / DPI }

// newCanvas returns a white WidthPx×HeightPx image canvas.
func newCanvas() *vgimg.Canvas {
	return vgimg.NewWith(vgimg.UseWH(ptLen(WidthPx), ptLen(HeightPx)), vgimg.UseDPI(DPI))
}

func savePNG(c *vgimg.Canvas, path string) (err error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	// Replaced atomically: a kill while encoding never leaves a truncated plot.
	return fsutil.WriteAtomic(path, func(w *bufio.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: c}.WriteTo(w)
		return err
	})
}

// drawPlot renders p alone on a new canvas and writes it to path.
func drawPlot(p *plot.Plot, path string) (err error) {
	defer recoverPanic(&err)
	c := newCanvas()
	p.Draw(draw.New(c))
	return savePNG(c, path)
}

// recoverPanic converts a panic from the plotting library into an error,
// so bad input never takes the caller down.
func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func recoverPanic(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("report: plotting failed: %v", r)
	}
}

func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(14)
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	return p
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

// apply sets ticks on ax (whose Min/Max already hold the transformed data
// range) at 0 and ±10^k for 10^k ≥ c, labelled with untransformed values,
// at most 7 per side. The range is widened, if needed, so that each side
// holding data shows at least one labelled power of ten.
func (s symlog) apply(ax *plot.Axis) {
	kmin := int(math.Ceil(math.Log10(s.c) - 1e-9))
	first := s.f(math.Pow(10, float64(kmin)))
	if ax.Max > 1e-12 && ax.Max < first {
		ax.Max = first
	}
	if ax.Min < -1e-12 && ax.Min > -first {
		ax.Min = -first
	}
	extent := math.Max(math.Abs(ax.Min), math.Abs(ax.Max))
	var pows []float64
	for k := kmin; k <= kmin+400; k++ {
		v := math.Pow(10, float64(k))
		if s.f(v) > extent*(1+1e-9) || math.IsInf(v, 1) {
			break
		}
		pows = append(pows, v)
	}
	step := 1
	if len(pows) > 7 {
		step = (len(pows) + 6) / 7
	}
	ticks := []plot.Tick{{Value: 0, Label: "0"}}
	for i := len(pows) - 1; i >= 0; i -= step { // always keep the largest power
		v := pows[i]
		lbl := strconv.FormatFloat(v, 'g', 3, 64)
		if t := s.f(v); t <= ax.Max*(1+1e-9) {
			ticks = append(ticks, plot.Tick{Value: t, Label: lbl})
		}
		if t := -s.f(v); t >= ax.Min*(1+1e-9) {
			ticks = append(ticks, plot.Tick{Value: t, Label: "-" + lbl})
		}
	}
	ax.Tick.Marker = plot.ConstantTicks(ticks)
}

// barsPlotter draws one bar per layer (from 0 to y) with optional
// whiskers from lo to hi; non-finite y values are drawn as a small grey
// cross at 0 (a gap), non-finite bounds omit the whisker.
type barsPlotter struct {
	y, lo, hi []float64
	colors    []color.Color
}

func (b *barsPlotter) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	zero := draw.LineStyle{Color: color.Black, Width: vg.Points(0.6)}
	c.StrokeLines(zero, c.ClipLinesXY([]vg.Point{{X: c.Min.X, Y: trY(0)}, {X: c.Max.X, Y: trY(0)}})...)
	whisker := draw.LineStyle{Color: color.Black, Width: vg.Points(1)}
	for i, y := range b.y {
		x := float64(i)
		if !finite(y) {
			c.DrawGlyph(draw.GlyphStyle{Color: color.Gray{Y: 110}, Radius: vg.Points(3), Shape: draw.CrossGlyph{}},
				vg.Point{X: trX(x), Y: trY(0)})
			continue
		}
		x0, x1 := trX(x-0.4), trX(x+0.4)
		y0, y1 := trY(0), trY(y)
		pts := []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}
		c.FillPolygon(b.colors[i], c.ClipPolygonXY(pts))
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
	c.FillPolygon(s.c, []vg.Point{{X: c.Min.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Min.X, Y: c.Max.Y}})
}

// categoryColors assigns colours to highlight categories: "critical" red,
// "anti" green, others from plotutil.Color in sorted-name order.
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
			for {
				c := plotutil.Color(k)
				k++
				r, g, b, _ := c.RGBA()
				// skip palette entries too close to the reserved colours
				if !(r>>8 > 200 && g>>8 < 90 && b>>8 < 90) && !(g>>8 > 140 && r>>8 < 100 && b>>8 < 100) {
					colors[name] = c
					break
				}
			}
		}
	}
	return names, colors
}

func layerTicks(n int, label func(i int) string) []plot.Tick {
	step := 1
	if n > 40 {
		step = 5
	}
	var ticks []plot.Tick
	for i := 0; i < n; i++ {
		t := plot.Tick{Value: float64(i)}
		if i%step == 0 {
			t.Label = label(i)
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// LayerBars writes a per-layer bar chart (x = layer index 0..n-1) with
// optional confidence whiskers to path (PNG).
//
//   - values[i] is the bar height for layer i; lo/hi are the absolute
//     interval bounds (pass nil for both to omit whiskers; otherwise all
//     three must have the same length). NaN/Inf values are drawn as a grey
//     cross on the zero line and omitted whiskers.
//   - highlight maps layer index → category name; "critical" is red,
//     "anti" green, other names get distinct colours; unhighlighted bars
//     are grey-blue. A legend lists the categories when highlight is
//     non-empty.
//   - logScale uses a symmetric-log axis, because importance values are
//     signed (negative = ablation improves the loss) and span many decades:
//     y' = sign(y)·log10(1 + |y|/c) where c is the smallest non-zero |value|
//     (so every non-zero bar is at least log10(2) tall and negative bars
//     stay below the zero line). Ticks are placed at 0 and ±10^k and
//     labelled with the original values; bars and whiskers are transformed
//     the same way. The y label gets a "(symlog)" suffix.
func LayerBars(path, title, ylabel string, values, lo, hi []float64, highlight map[int]string, logScale bool) (err error) {
	n := len(values)
	if (lo == nil) != (hi == nil) || (lo != nil && (len(lo) != n || len(hi) != n)) {
		return fmt.Errorf("%w: values %d, lo %d, hi %d", errLen, n, len(lo), len(hi))
	}
	b := &barsPlotter{y: values, lo: lo, hi: hi, colors: make([]color.Color, n)}
	names, colors := categoryColors(highlight)
	for i := range b.colors {
		b.colors[i] = ColorDefault
		if name, ok := highlight[i]; ok {
			b.colors[i] = colors[name]
		}
	}
	p := newPlot(title, "layer", ylabel)
	var sl symlog
	if logScale {
		sl = newSymlog(values)
		b.y, b.lo, b.hi = sl.all(values), sl.all(lo), sl.all(hi)
		p.Y.Label.Text = ylabel + " (symlog)"
	}
	p.Add(plotter.NewGrid())
	p.Add(b)
	if logScale {
		sl.apply(&p.Y)
	}
	p.X.Tick.Marker = plot.ConstantTicks(layerTicks(n, strconv.Itoa))
	if len(names) > 0 {
		// headroom so the legend (top right) does not cover the tallest bars
		p.Y.Max += 0.15 * (p.Y.Max - p.Y.Min)
		p.Legend.Top = true
		p.Legend.Add("other", swatch{ColorDefault})
		for _, name := range names {
			p.Legend.Add(name, swatch{colors[name]})
		}
	}
	return drawPlot(p, path)
}

// --- Heatmap ---------------------------------------------------------------

type grid struct {
	m          [][]float64
	rows, cols int
}

func (g grid) Dims() (c, r int) { return g.cols, g.rows }

// Z flips rows so that m[0] is drawn at the top, like a printed matrix.
func (g grid) Z(c, r int) float64 {
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
func (g grid) X(c int) float64 { return float64(c) }
func (g grid) Y(r int) float64 { return float64(r) }

func labelTicks(n int, labels []string, pos func(i int) float64) []plot.Tick {
	step := 1
	if n > 32 {
		step = (n + 31) / 32
	}
	var ticks []plot.Tick
	for i := 0; i < n; i++ {
		t := plot.Tick{Value: pos(i)}
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

// Heatmap writes a heatmap of m (m[i][j] is row i, column j; row 0 is drawn
// at the top) with a vertical colour bar on the right. xlabels label the
// columns and ylabels the rows (nil → indices; long lists are thinned).
// Values that are all of one sign use a sequential black-body colour map
// over [min, max]; mixed-sign values use a diverging blue–red map centred on
// 0 (range ±max|v|). NaN/Inf cells and missing cells of ragged rows are
// drawn light grey.
func Heatmap(path, title string, m [][]float64, xlabels, ylabels []string) (err error) {
	defer recoverPanic(&err)
	rows, cols := len(m), 0
	for _, r := range m {
		cols = max(cols, len(r))
	}
	if rows == 0 || cols == 0 {
		return errors.New("report: empty heatmap")
	}
	g := grid{m: m, rows: rows, cols: cols}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range m {
		for _, v := range r {
			if finite(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if lo > hi {
		lo, hi = 0, 1
	}
	var cm palette.ColorMap
	if lo < 0 && hi > 0 {
		a := math.Max(-lo, hi)
		lo, hi = -a, a
		cm = moreland.SmoothBlueRed()
	} else {
		cm = moreland.ExtendedBlackBody()
	}
	if lo == hi {
		lo, hi = lo-0.5, hi+0.5
	}
	cm.SetMin(lo)
	cm.SetMax(hi)
	h := plotter.NewHeatMap(g, cm.Palette(256))
	h.Min, h.Max = lo, hi
	h.NaN = ColorNaN
	h.Rasterized = rows*cols > 4096

	p := newPlot(title, "", "")
	p.Add(h)
	p.X.Tick.Marker = plot.ConstantTicks(labelTicks(cols, xlabels, func(i int) float64 { return float64(i) }))
	p.Y.Tick.Marker = plot.ConstantTicks(labelTicks(rows, ylabels, func(i int) float64 { return float64(rows - 1 - i) }))
	for _, l := range xlabels {
		if len(l) > 4 {
			p.X.Tick.Label.Rotation = math.Pi / 2
			p.X.Tick.Label.XAlign = draw.XRight
			p.X.Tick.Label.YAlign = draw.YCenter
			break
		}
	}

	cb := plot.New()
	cb.Add(&plotter.ColorBar{ColorMap: cm, Vertical: true})
	cb.HideX()
	cb.X.Padding, cb.Y.Padding = 0, 0

	c := newCanvas()
	dc := draw.New(c)
	cbWidth := ptLen(110)
	main := draw.Crop(dc, 0, -cbWidth, 0, 0)
	p.Draw(main)
	da := p.DataCanvas(main)
	cbc := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
		Min: vg.Point{X: dc.Max.X - cbWidth + ptLen(15), Y: da.Min.Y},
		Max: vg.Point{X: dc.Max.X - ptLen(55), Y: da.Max.Y},
	}}
	cb.Y.Tick.Label.Font.Size = p.Y.Tick.Label.Font.Size
	cb.Draw(cbc)
	return savePNG(c, path)
}

// --- Lines -----------------------------------------------------------------

// Series is one named line for Lines.
type Series struct {
	Name string
	X, Y []float64
}

// segments splits a series at non-finite points.
func segments(x, y []float64) []plotter.XYs {
	var out []plotter.XYs
	var cur plotter.XYs
	for i := range x {
		if finite(x[i]) && finite(y[i]) {
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

// Lines writes a line plot with one coloured line per series and a legend
// (e.g. recovery curves, manipulation sweeps). Points with a non-finite X or
// Y break the line (a gap); series with ≤ 60 points also get point markers,
// so isolated points between gaps remain visible. X and Y of a series must
// have equal length.
func Lines(path, title, xlabel, ylabel string, series []Series) (err error) {
	defer recoverPanic(&err)
	p := newPlot(title, xlabel, ylabel)
	p.Add(plotter.NewGrid())
	for i, s := range series {
		if len(s.X) != len(s.Y) {
			return fmt.Errorf("%w: series %q has %d x and %d y values", errLen, s.Name, len(s.X), len(s.Y))
		}
		ls := draw.LineStyle{Color: plotutil.Color(i), Width: vg.Points(1.5), Dashes: plotutil.Dashes(i / 7)}
		gs := draw.GlyphStyle{Color: plotutil.Color(i), Radius: vg.Points(2.5), Shape: plotutil.Shape(i)}
		markers := len(s.X) <= 60
		for _, seg := range segments(s.X, s.Y) {
			l, err := plotter.NewLine(seg)
			if err != nil {
				return err
			}
			l.LineStyle = ls
			p.Add(l)
			if markers || len(seg) == 1 {
				sc, err := plotter.NewScatter(seg)
				if err != nil {
					return err
				}
				sc.GlyphStyle = gs
				p.Add(sc)
			}
		}
		thumb := &plotter.Line{LineStyle: ls}
		if markers {
			p.Legend.Add(s.Name, thumb, &plotter.Scatter{GlyphStyle: gs})
		} else {
			p.Legend.Add(s.Name, thumb)
		}
	}
	p.Legend.Top = true
	return drawPlot(p, path)
}

// --- Scatter ---------------------------------------------------------------

// Scatter writes a scatter plot of (x[i], y[i]) with optional point labels
// (labels nil, or one per point, e.g. layer names). Points with a
// non-finite coordinate are skipped. Linear axes; see ScatterWith for
// symmetric-log axes.
func Scatter(path, title, xlabel, ylabel string, x, y []float64, labels []string) error {
	return ScatterWith(path, title, xlabel, ylabel, x, y, labels, ScatterOptions{})
}

// ScatterOptions selects symmetric-log axes for ScatterWith (same transform
// and tick labelling as LayerBars' logScale, c = smallest non-zero |value|
// on that axis). Useful when importance spans several decades.
type ScatterOptions struct {
	SymlogX, SymlogY bool
}

// ScatterWith is Scatter with options.
func ScatterWith(path, title, xlabel, ylabel string, x, y []float64, labels []string, opt ScatterOptions) (err error) {
	defer recoverPanic(&err)
	if len(x) != len(y) || (labels != nil && len(labels) != len(x)) {
		return fmt.Errorf("%w: x %d, y %d, labels %d", errLen, len(x), len(y), len(labels))
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

	p.Add(plotter.NewGrid())
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
	if len(xys) > 0 {
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: plotutil.Color(0), Radius: vg.Points(3.5), Shape: draw.CircleGlyph{}}
		p.Add(sc)
		if labels != nil {
			lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: lbl})
			if err != nil {
				return err
			}
			for i := range lb.TextStyle {
				lb.TextStyle[i].Font.Size = vg.Points(9)
			}
			lb.Offset = vg.Point{X: vg.Points(5), Y: vg.Points(3)}
			p.Add(lb)
		}
	}
	if opt.SymlogX {
		sx.apply(&p.X)
	}
	if opt.SymlogY {
		sy.apply(&p.Y)
	}
	return drawPlot(p, path)
}
