package report

import (
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
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
	if b.Dx() != WidthPx || b.Dy() != HeightPx {
		t.Errorf("%s: size %dx%d, want %dx%d", path, b.Dx(), b.Dy(), WidthPx, HeightPx)
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
	if err := Heatmap(p, "Cross-layer cosine similarity", m, labels, labels); err != nil {
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
	if err := Heatmap(p, "diverging", big, long, nil); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, p)
	// Constant matrix does not panic (colour range widened).
	p = filepath.Join(dir, "heat_const.png")
	if err := Heatmap(p, "constant", [][]float64{{1, 1}, {1, 1}}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := Heatmap(p, "empty", nil, nil, nil); err == nil {
		t.Error("expected error for empty heatmap")
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
	if err := Lines(p, "Recovery after re-initialisation", "step", "loss", series); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, p)
	if err := Lines(p, "bad", "x", "y", []Series{{Name: "a", X: []float64{1}, Y: nil}}); err == nil {
		t.Error("expected length error")
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

func TestAllNonFinite(t *testing.T) {
	// Entirely NaN/Inf input: no panic, a (mostly empty) PNG is still written.
	dir := t.TempDir()
	nan := []float64{math.NaN(), math.Inf(1), math.NaN()}
	if err := LayerBars(filepath.Join(dir, "a.png"), "nan", "y", nan, nan, nan, map[int]string{1: "critical"}, true); err != nil {
		t.Fatal(err)
	}
	if err := Lines(filepath.Join(dir, "b.png"), "nan", "x", "y", []Series{{Name: "s", X: []float64{1, 2, 3}, Y: nan}}); err != nil {
		t.Fatal(err)
	}
	if err := Scatter(filepath.Join(dir, "c.png"), "nan", "x", "y", nan, nan, nil); err != nil {
		t.Fatal(err)
	}
	if err := Heatmap(filepath.Join(dir, "d.png"), "nan", [][]float64{nan, nan}, nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"a.png", "b.png", "c.png", "d.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

// TestWriteSamples writes sample PNGs to $REPORT_SAMPLES_DIR for visual
// inspection (skipped when unset).
func TestWriteSamples(t *testing.T) {
	dir := os.Getenv("REPORT_SAMPLES_DIR")
	if dir == "" {
		t.Skip("REPORT_SAMPLES_DIR not set")
	}
	v, lo, hi := importance(30)
	hl := map[int]string{0: "critical", 5: "anti"}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(LayerBars(filepath.Join(dir, "bars_symlog.png"), "Layer ablation: PPL change", "PPL change (fraction)", v, lo, hi, hl, true))
	must(LayerBars(filepath.Join(dir, "bars_linear.png"), "Layer ablation: PPL change", "PPL change (fraction)", v, lo, hi, hl, false))
	n := 30
	m := make([][]float64, n)
	labels := make([]string, n)
	for i := range m {
		labels[i] = fmt.Sprintf("%d", i)
		m[i] = make([]float64, n)
		for j := range m[i] {
			m[i][j] = math.Exp(-math.Abs(float64(i-j)) / 5)
		}
	}
	m[2][3] = math.NaN()
	must(Heatmap(filepath.Join(dir, "heat.png"), "Cross-layer cosine similarity (q_proj)", m, labels, labels))
	var series []Series
	for k := 0; k < 3; k++ {
		s := Series{Name: fmt.Sprintf("layer %d", k*7)}
		for i := 0; i <= 50; i++ {
			x := float64(i * 20)
			s.X = append(s.X, x)
			s.Y = append(s.Y, 3+float64(k+1)*math.Exp(-x/float64(200+100*k)))
		}
		series = append(series, s)
	}
	series[1].Y[10] = math.NaN()
	must(Lines(filepath.Join(dir, "lines.png"), "Recovery", "step", "loss", series))
	x, y := make([]float64, n), make([]float64, n)
	for i := range x {
		x[i], y[i] = v[i], 100+40*math.Sin(float64(i))
	}
	must(ScatterWith(filepath.Join(dir, "scatter.png"), "Recovery steps vs importance", "importance", "steps", x, y, labels, ScatterOptions{SymlogX: true}))
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
