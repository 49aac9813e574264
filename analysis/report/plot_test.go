package report

import (
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

// checkPNG decodes path and checks its size and that it is not blank
// (grey-level variance across pixels well above zero).
func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b := img.Bounds()
	if b.Dx() < 1000 || b.Dy() < 500 {
		t.Errorf("%s: size %dx%d, want at least 1000x500 (%d dpi)", path, b.Dx(), b.Dy(), PNGDPI)
	}
	var s, ss, n float64
	nonWhite := 0
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bb, _ := img.At(x, y).RGBA()
			v := float64(r+g+bb) / 3 / 65535
			s += v
			ss += v * v
			n++
			if v < 0.95 {
				nonWhite++
			}
		}
	}
	variance := ss/n - (s/n)*(s/n)
	if variance < 1e-3 || float64(nonWhite)/n < 0.01 {
		t.Errorf("%s looks blank: variance %.5f, non-white fraction %.4f", path, variance, float64(nonWhite)/n)
	}
}

func importance(n int) (v, lo, hi []float64) {
	v, lo, hi = make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range v {
		v[i] = 0.02 * float64(i%7+1)
		if i == 0 {
			v[i] = 634.19 // +63,419%
		}
		if i == 5 {
			v[i] = -0.006
		}
		lo[i], hi[i] = v[i]-0.3*math.Abs(v[i]), v[i]+0.3*math.Abs(v[i])
	}
	return
}

func TestLayerBars(t *testing.T) {
	dir := t.TempDir()
	v, lo, hi := importance(30)
	hl := map[int]string{0: "critical", 5: "anti", 7: "other-class"}
	for _, logScale := range []bool{false, true} {
		p := filepath.Join(dir, fmt.Sprintf("bars_log%v.png", logScale))
		if err := LayerBars(p, "Layer ablation importance", "PPL change", v, lo, hi, hl, logScale); err != nil {
			t.Fatal(err)
		}
		checkPNG(t, p)
	}
	// No CIs, no highlights, nested output dir.
	p := filepath.Join(dir, "sub", "plain.png")
	if err := LayerBars(p, "plain", "y", v, nil, nil, nil, false); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, p)
	if err := LayerBars(p, "bad", "y", v, lo[:3], hi, nil, false); err == nil {
		t.Error("expected length error")
	}
}

func TestHeatmap(t *testing.T) {
	dir := t.TempDir()
	n := 30
	m := make([][]float64, n)
	labels := make([]string, n)
	for i := range m {
		labels[i] = fmt.Sprintf("L%d", i)
		m[i] = make([]float64, n)
		for j := range m[i] {
			m[i][j] = math.Exp(-math.Abs(float64(i-j)) / 5)
		}
	}
	p := filepath.Join(dir, "heat.png")
	if err := Heatmap(p, "Cross-layer cosine similarity", m, labels, labels, HeatmapOptions{XLabel: "layer", YLabel: "layer", SkipDiagonal: true}); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, p)
	// Diverging (mixed sign), long labels, ragged rows, NaN/Inf, large grid.
	big := make([][]float64, 80)
	long := make([]string, 80)
	for i := range big {
		long[i] = fmt.Sprintf("layers.%d.mlp", i)
		big[i] = make([]float64, 80)
		for j := range big[i] {
			big[i][j] = math.Sin(float64(i*j) / 300)
		}
	}
	big[3][4], big[5][6] = math.NaN(), math.Inf(1)
	big[10] = big[10][:40]
	p = filepath.Join(dir, "heat_div.png")
	if err := Heatmap(p, "diverging", big, long, nil, HeatmapOptions{}); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, p)
	// A constant matrix (or one whose only variation is the diagonal) is a note, not a flat map.
	p = filepath.Join(dir, "heat_const.png")
	if err := Heatmap(p, "constant", [][]float64{{1, 0.5}, {0.5, 1}}, nil, nil, HeatmapOptions{SkipDiagonal: true}); err != nil {
		t.Fatal(err)
	}
	checkNote(t, p)
	if err := Heatmap(p, "empty", nil, nil, nil, HeatmapOptions{}); err == nil {
		t.Error("expected error for empty heatmap")
	}
}

// checkNote checks that path is a Note (half the height of a figure), not a drawn figure.
func checkNote(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := int(math.Round(float64(FigHeight/vg.Inch) / 2 * PNGDPI)); cfg.Height != want {
		t.Errorf("%s: %dx%d, not a note (height %d)", path, cfg.Width, cfg.Height, want)
	}
}

func TestLines(t *testing.T) {
	dir := t.TempDir()
	var series []Series
	for k := 0; k < 4; k++ {
		s := Series{Name: fmt.Sprintf("layer %d", k*7)}
		for i := 0; i <= 50; i++ {
			x := float64(i * 20)
			s.X = append(s.X, x)
			s.Y = append(s.Y, 3+float64(k)*math.Exp(-x/float64(200+100*k)))
		}
		series = append(series, s)
	}
	series[1].Y[10] = math.NaN() // gap
	series[2].Y[30] = math.Inf(1)
	p := filepath.Join(dir, "lines.png")
	series[0].Lo, series[0].Hi = make([]float64, 51), make([]float64, 51)
	for i, y := range series[0].Y {
		series[0].Lo[i], series[0].Hi[i] = y-0.2, y+0.2
	}
	series = append(series, Series{Name: "target", X: []float64{0, 1000}, Y: []float64{3, 3}, Reference: true})
	for _, opt := range []LinesOptions{{}, {IntegerX: true, LogY: true}} {
		if err := Lines(p, "Recovery after re-initialisation", "step", "loss", series, opt); err != nil {
			t.Fatal(err)
		}
		checkPNG(t, p)
	}
	if err := Lines(p, "bad", "x", "y", []Series{{Name: "a", X: []float64{1}, Y: nil}}, LinesOptions{}); err == nil {
		t.Error("expected length error")
	}
	if err := Lines(p, "bad band", "x", "y", []Series{{Name: "a", X: []float64{1, 2}, Y: []float64{1, 2}, Lo: []float64{1}}}, LinesOptions{}); err == nil {
		t.Error("expected length error for the band")
	}
}

func TestScatter(t *testing.T) {
	dir := t.TempDir()
	n := 30
	x, y := make([]float64, n), make([]float64, n)
	labels := make([]string, n)
	for i := range x {
		x[i] = float64(i) * 0.1
		y[i] = 100 + 40*math.Sin(float64(i))
		labels[i] = fmt.Sprintf("L%d", i)
	}
	x[3] = math.NaN()
	p := filepath.Join(dir, "scatter.png")
	if err := Scatter(p, "Recovery steps vs importance", "importance", "steps to recover", x, y, labels); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, p)
	if err := ScatterWith(p, "symlog", "x", "y", x, y, labels, ScatterOptions{SymlogX: true, SymlogY: true}); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, p)
	if err := Scatter(p, "no labels", "x", "y", x, y, nil); err != nil {
		t.Fatal(err)
	}
	if err := Scatter(p, "bad", "x", "y", x, y, labels[:2]); err == nil {
		t.Error("expected length error")
	}
}

// Degenerate data (all undefined, one point, constant) makes a note instead of a misleading
// figure, never a panic.
func TestDegenerateFiguresAreNotes(t *testing.T) {
	dir := t.TempDir()
	nan := []float64{math.NaN(), math.Inf(1), math.NaN()}
	one := []float64{math.NaN(), 2, math.NaN()}
	flat := []float64{0.5, 0.5, 0.5}
	x := []float64{1, 2, 3}
	cases := []struct {
		name string
		draw func(path string) error
	}{
		{"bars all NaN", func(p string) error {
			return LayerBars(p, "nan", "y", nan, nan, nan, map[int]string{1: "critical"}, true)
		}},
		{"bars constant", func(p string) error { return LayerBars(p, "flat", "y", flat, nil, nil, nil, false) }},
		{"lines all NaN", func(p string) error {
			return Lines(p, "nan", "x", "y", []Series{{Name: "s", X: x, Y: nan}, {Name: "ref", X: x, Y: flat, Reference: true}}, LinesOptions{})
		}},
		{"lines one point", func(p string) error {
			return Lines(p, "one", "x", "y", []Series{{Name: "s", X: x, Y: one}}, LinesOptions{})
		}},
		{"lines non-positive on a log axis", func(p string) error {
			return Lines(p, "log", "x", "y", []Series{{Name: "s", X: x, Y: []float64{0, -1, 2}}}, LinesOptions{LogY: true})
		}},
		{"scatter all NaN", func(p string) error { return Scatter(p, "nan", "x", "y", nan, nan, nil) }},
		{"scatter one point", func(p string) error { return Scatter(p, "one", "x", "y", one, one, nil) }},
		{"scatter constant y", func(p string) error { return Scatter(p, "flat", "x", "y", x, flat, nil) }},
		{"heatmap all NaN", func(p string) error { return Heatmap(p, "nan", [][]float64{nan, nan}, nil, nil, HeatmapOptions{}) }},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, fmt.Sprintf("%d.png", i))
			if err := tc.draw(p); err != nil {
				t.Fatal(err)
			}
			checkNote(t, p)
		})
	}
	// One bar is a figure, not a note: a one-layer model has one layer to show.
	p := filepath.Join(dir, "one-bar.png")
	if err := LayerBars(p, "one layer", "y", []float64{3}, nil, nil, nil, false); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, p)
}

// Every figure is written in the format its extension names.
func TestFigureFormats(t *testing.T) {
	dir := t.TempDir()
	v, lo, hi := importance(30)
	magic := map[string]string{"png": "\x89PNG", "svg": "<?xml", "pdf": "%PDF-"}
	for _, ext := range Formats {
		p := filepath.Join(dir, "bars."+ext)
		if err := LayerBars(p, "Layer ablation", "PPL change (%)", v, lo, hi, map[int]string{0: "critical"}, true); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(p)
		if err != nil || !strings.HasPrefix(string(raw), magic[ext]) {
			t.Fatalf("%s: not a %s file (%v)", p, ext, err)
		}
	}
	if err := LayerBars(filepath.Join(dir, "bars.jpg"), "x", "y", v, nil, nil, nil, false); err == nil || !strings.Contains(err.Error(), `unknown figure format "jpg"`) {
		t.Fatalf("jpg: %v", err)
	}
	for _, tc := range []struct {
		in   []string
		want string
	}{{[]string{"png", "svg", "pdf"}, ""}, {nil, "no figure format"}, {[]string{"png", "eps"}, `unknown figure format "eps"`}} {
		if err := CheckFormats(tc.in); (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckFormats(%v) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestTicks(t *testing.T) {
	labels := func(ts []plot.Tick) []string {
		var out []string
		for _, tk := range ts {
			if tk.Label != "" {
				out = append(out, tk.Label)
			}
		}
		return out
	}
	cases := []struct {
		name   string
		ticker plot.Ticker
		lo, hi float64
		want   []string
	}{
		{"integer, small range", integerTicks{}, -0.4, 5.3, []string{"0", "1", "2", "3", "4", "5"}},
		{"integer, steps", integerTicks{}, 0, 200, []string{"0", "20", "40", "60", "80", "100", "120", "140", "160", "180", "200"}},
		{"integer, never fractions", integerTicks{}, 0, 1.5, []string{"0", "1"}},
		{"log, decades", logTicks{}, 0.5, 2e4, []string{"1", "10", "10²", "10³", "10⁴"}},
		{"log, within a decade", logTicks{}, 9, 60, []string{"10", "20", "50"}},
		{"log, small values", logTicks{}, 1e-5, 0.2, []string{"1e-5", "1e-4", "0.001", "0.01", "0.1"}},
		{"log, narrow range", logTicks{}, 4.6e4, 5.3e4, []string{"46000", "48000", "50000", "52000"}},
		{"linear, narrow range", linearTicks{}, 10.79, 10.851, []string{"10.79", "10.82", "10.85"}}, // not "11, 11, 11"
		{"linear, integers", linearTicks{}, 0, 40, []string{"0", "20", "40"}},
		{"linear, around zero", linearTicks{}, -0.03, 0.021, []string{"-0.02", "0.00", "0.02"}},
		{"linear, two majors only", linearTicks{}, -39, 2, []string{"-30", "0", "-20", "-10"}}, // gonum labels -30 and 0 only
	}
	for _, tc := range cases {
		if got := labels(tc.ticker.Ticks(tc.lo, tc.hi)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// Heatmap axes label at most 32 cells at a round step, and leave out the unlabelled ticks of a
// long axis (576 singular values drew a ruler).
func TestLabelTicks(t *testing.T) {
	for _, tc := range []struct{ n, ticks, labels, step int }{{9, 9, 9, 1}, {30, 30, 30, 1}, {60, 60, 30, 2}, {576, 29, 29, 20}} {
		ts := labelTicks(tc.n, nil, func(i int) float64 { return float64(i) })
		labels := 0
		for _, tk := range ts {
			if tk.Label != "" {
				labels++
				if int(tk.Value)%tc.step != 0 || tk.Label != strconv.Itoa(int(tk.Value)) {
					t.Errorf("n=%d: label %q at %v", tc.n, tk.Label, tk.Value)
				}
			}
		}
		if len(ts) != tc.ticks || labels != tc.labels {
			t.Errorf("n=%d: %d ticks, %d labelled; want %d, %d", tc.n, len(ts), labels, tc.ticks, tc.labels)
		}
	}
}

// A symlog axis is widened to show a power of ten on a side whose data reach a third of the way
// to it, not for a whisker just below 0 (it left a band of empty plot under the bars).
func TestSymlogRange(t *testing.T) {
	s := newSymlog([]float64{12.7, 5e5}) // c = 12.7: the first power is 100
	for _, tc := range []struct{ min, wantMin float64 }{{-3, -3}, {-60, -100}, {-500, -500}} {
		ax := plot.Axis{Min: s.f(tc.min), Max: s.f(5e5)}
		s.apply(&ax)
		if math.Abs(ax.Min-s.f(tc.wantMin)) > 1e-12 {
			t.Errorf("data down to %g: axis from %g, want %g", tc.min, ax.Min, s.f(tc.wantMin))
		}
	}
}

func TestSymlog(t *testing.T) {
	s := newSymlog([]float64{0, -0.006, 634.19, math.NaN()})
	if s.c != 0.006 {
		t.Fatalf("c = %g, want 0.006", s.c)
	}
	if s.f(0) != 0 || s.f(-5) != -s.f(5) || !math.IsNaN(s.f(math.Inf(1))) {
		t.Error("symlog must be odd, 0 at 0, NaN for Inf")
	}
	if got, want := s.f(0.006), math.Log10(2); math.Abs(got-want) > 1e-15 {
		t.Errorf("f(c) = %g, want log10(2)", got)
	}
	// monotone
	prev := math.Inf(-1)
	for _, v := range []float64{-1e3, -1, -0.01, 0, 0.001, 0.1, 10, 1e5} {
		if f := s.f(v); !(f > prev) {
			t.Errorf("not increasing at %g", v)
		} else {
			prev = f
		}
	}
}
