package sweep

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/internal/testref"
	"github.com/growthtrain/growthtrain/trainer"
)

func TestMain(m *testing.M) { testref.RunWithCommandRuntime(m) }

func TestCrossing(t *testing.T) {
	fl := []float64{1e9, 1e10, 1e11}
	loss := []float64{6, 5, 4}
	for _, tc := range []struct {
		target, want float64
	}{
		{5, 1e10},                   // on a point
		{5.5, math.Pow(10, 9.5)},    // halfway in log FLOPs
		{4.25, math.Pow(10, 10.75)}, // three quarters into the second segment
		{3.9, math.NaN()},           // never reached
		{6.5, math.NaN()},           // already below at the first level: extrapolation refused
	} {
		got := crossing(fl, loss, tc.target)
		if math.IsNaN(tc.want) != math.IsNaN(got) || !math.IsNaN(got) && math.Abs(got-tc.want) > 1e-6*tc.want {
			t.Errorf("target %v: %v, want %v", tc.target, got, tc.want)
		}
	}
}

func TestIntervals(t *testing.T) {
	lo, hi := tInterval([]float64{1, 2, 3})
	// mean 2, sd 1, t(0.975, 2) = 4.3027: 2 +- 4.3027/sqrt(3)
	if h := 4.302652729911275 / math.Sqrt(3); math.Abs(lo-(2-h)) > 1e-9 || math.Abs(hi-(2+h)) > 1e-9 {
		t.Fatalf("t-interval [%v, %v]", lo, hi)
	}
	d, dlo, dhi := welch([]float64{1, 2, 3}, []float64{2, 3, 4})
	if d != -1 || !(dlo < -1 && dhi > -1) || math.Abs((dhi+dlo)/2+1) > 1e-12 {
		t.Fatalf("Welch: %v [%v, %v]", d, dlo, dhi)
	}
	if lo, _ := tInterval([]float64{1}); !math.IsNaN(lo) {
		t.Fatal("an interval from one value")
	}
}

// A method whose losses equal the uniform's at half the compute needs half the compute: speed-up
// 2 (its interval contains 2); the uniform method's own speed-up is 1.
func TestAggregateSpeedUp(t *testing.T) {
	r := &Result{Methods: []string{"uniform", "fast"}, Levels: []float64{0.25, 0.5, 1}, Seeds: []uint64{1, 2, 3}}
	base := map[float64]float64{0.25: 6, 0.5: 5.5, 1: 5}
	for _, l := range r.Levels {
		for i, s := range r.Seeds {
			noise := []float64{-0.01, 0, 0.01}[i]
			r.Runs = append(r.Runs, RunResult{Method: "uniform", Level: l, Seed: s, FLOPs: l * 1e12, ValLoss: base[l] + noise})
			// "fast" at level l reaches what uniform reaches at 2l: 0.25 -> 5.5, 0.5 -> 5, 1 -> 4.5.
			r.Runs = append(r.Runs, RunResult{Method: "fast", Level: l, Seed: s, FLOPs: l * 1e12, ValLoss: base[l] - 0.5 + noise})
		}
	}
	if err := r.aggregate(5.25, 500); err != nil {
		t.Fatal(err)
	}
	u, f := r.Curves[0], r.Curves[1]
	if math.Abs(float64(u.SpeedUp)-1) > 1e-9 || math.Abs(float64(f.SpeedUp)-2) > 1e-6 {
		t.Fatalf("speed-ups: uniform %v, fast %v", u.SpeedUp, f.SpeedUp)
	}
	if !(float64(f.SpeedUpLo) <= 2 && float64(f.SpeedUpHi) >= 2) {
		t.Fatalf("interval [%v, %v] misses 2", f.SpeedUpLo, f.SpeedUpHi)
	}
	if p := f.Points[2]; math.Abs(p.DeltaVsUniform+0.5) > 1e-9 || !(float64(p.DeltaVsUniformHi) < 0) {
		t.Fatalf("delta at level 1: %v [%v, %v]", p.DeltaVsUniform, p.DeltaVsUniformLo, p.DeltaVsUniformHi)
	}
}

// A whole sweep on the tiny budget: every method at every level comes out at that level's
// compute, and sweep.json, sweep.csv (numbers a reader parses) and the figures are written.
func TestSweepEndToEnd(t *testing.T) {
	dir := t.TempDir()
	budget := tinyBudget(t, dir)
	out := filepath.Join(dir, "sweep")
	res, err := Run(Options{Budget: budget, Methods: []string{trainer.MethodUniform, trainer.MethodStack, trainer.MethodSubnets},
		Levels: []float64{0.5, 1}, Seeds: []uint64{1, 2}, Output: out, Bootstrap: 50,
		Train: trainer.Options{Log: nil}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 12 {
		t.Fatalf("%d runs", len(res.Runs))
	}
	var unit float64
	for _, r := range res.Runs {
		if r.Method == trainer.MethodUniform && r.Level == 1 {
			unit = r.FLOPs
		}
	}
	for _, r := range res.Runs {
		if want := r.Level * unit; math.Abs(r.FLOPs-want) > 0.15*want {
			t.Errorf("%s at level %g: %.3g FLOPs, want about %.3g", r.Method, r.Level, r.FLOPs, want)
		}
	}
	raw, err := os.ReadFile(filepath.Join(out, "sweep.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(raw, &back); err != nil || len(back.Curves) != 3 || len(back.Runs) != 12 {
		t.Fatalf("sweep.json: %v (%d curves)", err, len(back.Curves))
	}
	f, err := os.Open(filepath.Join(out, "sweep.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) != 13 {
		t.Fatalf("sweep.csv: %v, %d rows", err, len(rows))
	}
	for _, row := range rows[1:] {
		for _, j := range []int{1, 3, 4, 5, 6} {
			if _, err := strconv.ParseFloat(row[j], 64); err != nil {
				t.Fatalf("column %s is not a number: %q", rows[0][j], row[j])
			}
		}
	}
	for _, f := range []string{"summary.md", "loss_vs_flops.png", "loss_vs_flops.svg", "loss_vs_wall.png"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v", f, err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(out, "summary.md"))
	if !strings.Contains(string(md), "speed-up vs uniform") {
		t.Fatalf("summary.md:\n%s", md)
	}
}

// tinyBudget writes a 4-layer budget over eight documents cut from model/testdata's text.
func tinyBudget(t *testing.T, dir string) string {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(testref.RepoRoot(t), "model", "testdata", "moby_dick_ch1-3.txt"))
	if err != nil {
		t.Fatal(err)
	}
	paras := strings.Split(string(text), "\n\n")
	corpus := filepath.Join(dir, "corpus")
	if err := os.MkdirAll(corpus, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 8; i++ {
		var part []string
		for j := i; j < len(paras); j += 8 {
			part = append(part, paras[j])
		}
		if err := os.WriteFile(filepath.Join(corpus, "doc"+strconv.Itoa(i)+".txt"), []byte(strings.Join(part, "\n\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src := `
[run]
name = "tiny"
seed = 1
[model]
num_hidden_layers = 4
hidden_size = 32
intermediate_size = 64
num_attention_heads = 2
num_key_value_heads = 1
max_position_embeddings = 64
[data]
corpus = ["corpus"]
tokenizer = "train:300"
seq_len = 16
batch_size = 4
val_fraction = 0.2
cache_dir = "cache"
[optim]
lr = 1e-2
min_lr = 1e-3
warmup = 2
[eval]
tokens = 512
[[phase]]
name = "core"
layers = "1-2"
steps = 8
train_embeddings = true
train_head = true
train_final_norm = true
[[phase]]
name = "all"
layers = "all"
steps = 8
train_embeddings = true
train_head = true
train_final_norm = true
`
	path := filepath.Join(dir, "budget.toml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
