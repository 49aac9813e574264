// Package sweep trains a family of growth methods and the uniform baseline at several compute
// levels and seeds, and answers the questions a user of growth training asks: at equal compute,
// which is better, and how much compute does each need to reach a given loss? It writes
// sweep.json (every run and the aggregates), sweep.csv (one row per run), summary.md and the
// loss-versus-compute figures.
//
// A compute level is a fraction of the uniform baseline's estimated FLOPs at the budget's total
// steps: at level c every method's steps are scaled so that its FLOPs come out at c times that
// (each phase scaled alike; rounding makes them equal to within a step). Seeds change the model
// initialisation, the train/validation split and the data order; at one seed every method sees
// the same split.
package sweep

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/growthtrain/growthtrain/analysis/stats"
	"github.com/growthtrain/growthtrain/internal/fsutil"
	"github.com/growthtrain/growthtrain/internal/jsonx"
	"github.com/growthtrain/growthtrain/trainer"
)

// Options configures Run.
type Options struct {
	Budget  string    // the budget file the methods are built from
	Methods []string  // trainer.Methods names (default: uniform, budget, stack, subnets)
	Levels  []float64 // compute levels, fractions of the uniform run's FLOPs (default 0.25, 0.5, 0.75, 1)
	Seeds   []uint64  // run seeds (default 1, 2, 3)
	// Target is the validation loss whose compute each method's curve is read at; 0: the
	// uniform baseline's mean at the highest level.
	Target    float64
	Output    string
	Resume    bool // keep the runs that finished (summary.json present and matching) and resume the rest
	Log       io.Writer
	Train     trainer.Options // passed to every run (Output, Uniform and Resume are set per run)
	Bootstrap int             // resamples for the speed-up intervals (default 2000)
}

// DefaultMethods are the methods a sweep trains unless told otherwise.
var DefaultMethods = []string{trainer.MethodUniform, trainer.MethodBudget, trainer.MethodStack, trainer.MethodSubnets}

// RunResult is one trained run of the sweep.
type RunResult struct {
	Method  string  `json:"method"`
	Level   float64 `json:"level"`
	Seed    uint64  `json:"seed"`
	Steps   int     `json:"steps"`
	FLOPs   float64 `json:"flops"`
	Seconds float64 `json:"seconds"`
	ValLoss float64 `json:"val_loss"`
	Dir     string  `json:"dir"` // relative to sweep.json's folder
}

// Point is one method at one level, over the seeds.
type Point struct {
	Level   float64     `json:"level"`
	N       int         `json:"n"`
	FLOPs   float64     `json:"flops_mean"`
	Seconds float64     `json:"seconds_mean"`
	Loss    float64     `json:"val_loss_mean"`
	LossSD  jsonx.Float `json:"val_loss_sd"`      // null with one seed
	LossLo  jsonx.Float `json:"val_loss_ci_low"`  // 95% t-interval of the mean
	LossHi  jsonx.Float `json:"val_loss_ci_high"` // (null with one seed)
	// DeltaVsUniform is this method's mean loss minus the uniform baseline's at the same level
	// (negative: better at equal compute), with a 95% Welch interval.
	DeltaVsUniform   float64     `json:"delta_vs_uniform"`
	DeltaVsUniformLo jsonx.Float `json:"delta_vs_uniform_ci_low"`
	DeltaVsUniformHi jsonx.Float `json:"delta_vs_uniform_ci_high"`
}

// Curve is one method's points, by level.
type Curve struct {
	Method string  `json:"method"`
	Points []Point `json:"points"`
	// FLOPsAtTarget is the compute its mean curve needs to reach Result.Target (log-linear
	// interpolation between levels; NaN when the curve never gets there), and SpeedUp the
	// uniform baseline's compute for the same loss divided by this one's, with a bootstrap
	// interval over seeds (resampled within each level).
	FLOPsAtTarget jsonx.Float `json:"flops_at_target"` // null: the target is not reached
	SpeedUp       jsonx.Float `json:"speedup_vs_uniform"`
	SpeedUpLo     jsonx.Float `json:"speedup_ci_low"`
	SpeedUpHi     jsonx.Float `json:"speedup_ci_high"`
}

// Result is sweep.json.
type Result struct {
	Budget  string      `json:"budget"`
	Created string      `json:"created"`
	Methods []string    `json:"methods"`
	Levels  []float64   `json:"levels"`
	Seeds   []uint64    `json:"seeds"`
	Target  float64     `json:"target_val_loss"`
	Runs    []RunResult `json:"runs"`
	Curves  []Curve     `json:"curves"`
	Seconds float64     `json:"seconds"`
}

// Run trains every method at every level and seed (resuming what it can) and writes the outputs.
func Run(o Options) (*Result, error) {
	if len(o.Methods) == 0 {
		o.Methods = DefaultMethods
	}
	if len(o.Levels) == 0 {
		o.Levels = []float64{0.25, 0.5, 0.75, 1}
	}
	if len(o.Seeds) == 0 {
		o.Seeds = []uint64{1, 2, 3}
	}
	if o.Bootstrap <= 0 {
		o.Bootstrap = 2000
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Train.Log == nil {
		o.Train.Log = io.Discard // each run's own table; the sweep reports a line per run
	}
	if !slices.Contains(o.Methods, trainer.MethodUniform) {
		return nil, errors.New("sweep: the methods must include uniform (the baseline everything is compared with)")
	}
	for _, l := range o.Levels {
		if !(l > 0) || math.IsInf(l, 0) {
			return nil, fmt.Errorf("sweep: compute level %v: want a positive fraction", l)
		}
	}
	if !(o.Target >= 0) || math.IsInf(o.Target, 0) {
		return nil, fmt.Errorf("sweep: target loss %v: want a finite number >= 0", o.Target)
	}
	start := time.Now()
	base, err := trainer.LoadBudget(o.Budget)
	if err != nil {
		return nil, err
	}
	cfg, err := trainer.PlanConfig(base, o.Train)
	if err != nil {
		return nil, err
	}
	L := cfg.NumHiddenLayers
	uniform, err := base.Method(trainer.MethodUniform, L)
	if err != nil {
		return nil, err
	}
	unitFLOPs := uniform.FLOPs(cfg) // the uniform run at the budget's steps: level 1
	res := &Result{Budget: o.Budget, Created: time.Now().UTC().Format(time.RFC3339), Methods: o.Methods, Levels: o.Levels, Seeds: o.Seeds}
	total := len(o.Methods) * len(o.Levels) * len(o.Seeds)
	n := 0
	for _, level := range o.Levels {
		for _, seed := range o.Seeds {
			for _, method := range o.Methods {
				n++
				b, err := trainer.LoadBudget(o.Budget)
				if err != nil {
					return nil, err
				}
				b.Run.Seed = seed
				mb, err := b.Method(method, L)
				if err != nil {
					return nil, err
				}
				sb, err := mb.Scaled(level * unitFLOPs / mb.FLOPs(cfg))
				if err != nil {
					return nil, fmt.Errorf("%s at level %g: %w", method, level, err)
				}
				rel := filepath.Join(method, "level-"+strconv.FormatFloat(level, 'f', -1, 64), "seed-"+strconv.FormatUint(seed, 10))
				dir := filepath.Join(o.Output, rel)
				t := o.Train
				t.Output, t.Uniform = dir, false
				t.Resume = o.Resume && trainer.HasCheckpoint(sb, dir)
				fmt.Fprintf(o.Log, "[%d/%d] %s, level %g (%d steps), seed %d\n", n, total, method, level, sb.TotalSteps(), seed)
				sum, err := trainer.Run(sb, t)
				if err != nil {
					return nil, fmt.Errorf("%s at level %g, seed %d: %w", method, level, seed, err)
				}
				fmt.Fprintf(o.Log, "    val loss %.4f, %.3g FLOPs, %.1fs\n", sum.FinalValLoss, sum.FLOPs, sum.Seconds)
				res.Runs = append(res.Runs, RunResult{Method: method, Level: level, Seed: seed, Steps: sum.Steps,
					FLOPs: sum.FLOPs, Seconds: sum.Seconds, ValLoss: sum.FinalValLoss, Dir: rel})
			}
		}
	}
	res.Seconds = time.Since(start).Seconds()
	if err := res.aggregate(o.Target, o.Bootstrap); err != nil {
		return nil, err
	}
	return res, res.Write(o.Output)
}

// aggregate fills the curves from the runs: means and intervals per method and level, the
// target loss, and the compute each method needs to reach it.
func (r *Result) aggregate(target float64, iters int) error {
	by := map[string]map[float64][]RunResult{}
	for _, run := range r.Runs {
		if by[run.Method] == nil {
			by[run.Method] = map[float64][]RunResult{}
		}
		by[run.Method][run.Level] = append(by[run.Method][run.Level], run)
	}
	levels := slices.Clone(r.Levels)
	sort.Float64s(levels)
	uni := by[trainer.MethodUniform]
	if len(uni) == 0 {
		return errors.New("sweep: no uniform runs")
	}
	if target == 0 {
		target = mean(losses(uni[levels[len(levels)-1]]))
	}
	r.Target = target
	uniFLOPs := func(pick func([]RunResult) []float64) float64 {
		var fl, ls []float64
		for _, l := range levels {
			fl = append(fl, mean(flops(uni[l])))
			ls = append(ls, mean(pick(uni[l])))
		}
		return crossing(fl, ls, target)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	resample := func(rs []RunResult) []float64 {
		out := make([]float64, len(rs))
		for i := range out {
			out[i] = rs[rng.IntN(len(rs))].ValLoss
		}
		return out
	}
	for _, m := range r.Methods {
		c := Curve{Method: m}
		var fl, ls []float64
		for _, l := range levels {
			rs := by[m][l]
			p := Point{Level: l, N: len(rs), FLOPs: mean(flops(rs)), Seconds: mean(secs(rs))}
			v := losses(rs)
			var sd, lo, hi, dlo, dhi float64
			p.Loss, sd = meanSD(v)
			lo, hi = tInterval(v)
			p.DeltaVsUniform, dlo, dhi = welch(v, losses(uni[l]))
			p.LossSD, p.LossLo, p.LossHi = jsonx.Float(sd), jsonx.Float(lo), jsonx.Float(hi)
			p.DeltaVsUniformLo, p.DeltaVsUniformHi = jsonx.Float(dlo), jsonx.Float(dhi)
			c.Points = append(c.Points, p)
			fl, ls = append(fl, p.FLOPs), append(ls, p.Loss)
		}
		at := crossing(fl, ls, target)
		c.FLOPsAtTarget = jsonx.Float(at)
		c.SpeedUp = jsonx.Float(uniFLOPs(losses) / at)
		// Bootstrap: resample the seeds at every level of both curves, independently.
		var ufl []float64 // the uniform curve's FLOPs: fixed, only its losses are resampled
		for _, l := range levels {
			ufl = append(ufl, mean(flops(uni[l])))
		}
		var reps []float64
		for i := 0; i < iters; i++ {
			var mu, uu []float64
			for _, l := range levels {
				mu = append(mu, mean(resample(by[m][l])))
				uu = append(uu, mean(resample(uni[l])))
			}
			if s := crossing(ufl, uu, target) / crossing(fl, mu, target); !math.IsNaN(s) && !math.IsInf(s, 0) {
				reps = append(reps, s)
			}
		}
		c.SpeedUpLo, c.SpeedUpHi = jsonx.Float(math.NaN()), jsonx.Float(math.NaN())
		if len(reps) >= iters/2 { // an interval only when most resamples reach the target
			sort.Float64s(reps)
			c.SpeedUpLo, c.SpeedUpHi = jsonx.Float(quantile(reps, 0.025)), jsonx.Float(quantile(reps, 0.975))
		}
		r.Curves = append(r.Curves, c)
	}
	return nil
}

// crossing returns the FLOPs at which the piecewise log-linear curve (flops ascending, loss)
// first comes down to target: interpolated in log FLOPs between the bracketing points, NaN when
// it never does. A curve already below target at its first point reads its first FLOPs only if
// equal; below it the answer is extrapolation, which it refuses (NaN).
func crossing(fl, loss []float64, target float64) float64 {
	for i := range fl {
		if loss[i] == target {
			return fl[i]
		}
		if i > 0 && loss[i-1] > target && loss[i] < target {
			f := (loss[i-1] - target) / (loss[i-1] - loss[i])
			return math.Pow(10, math.Log10(fl[i-1])+f*(math.Log10(fl[i])-math.Log10(fl[i-1])))
		}
	}
	return math.NaN()
}

func losses(rs []RunResult) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = r.ValLoss
	}
	return out
}

func flops(rs []RunResult) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = r.FLOPs
	}
	return out
}

func secs(rs []RunResult) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = r.Seconds
	}
	return out
}

// The sample statistics are the diagnostics' (analysis/stats): one definition of each.
var (
	mean   = stats.Mean
	meanSD = stats.MeanSD
)

// tInterval is the 95% Student t-interval of the mean of x (NaN with fewer than 2 values).
func tInterval(x []float64) (lo, hi float64) {
	m, sd := meanSD(x)
	if len(x) < 2 {
		return math.NaN(), math.NaN()
	}
	h := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(len(x) - 1)}.Quantile(0.975) * sd / math.Sqrt(float64(len(x)))
	return m - h, m + h
}

// welch returns mean(a) - mean(b) with its 95% Welch interval (NaN bounds when it is undefined).
func welch(a, b []float64) (d, lo, hi float64) {
	ma, sa := meanSD(a)
	mb, sb := meanSD(b)
	d = ma - mb
	if len(a) < 2 || len(b) < 2 {
		return d, math.NaN(), math.NaN()
	}
	va, vb := sa*sa/float64(len(a)), sb*sb/float64(len(b))
	se := math.Sqrt(va + vb)
	if se == 0 {
		return d, d, d
	}
	nu := (va + vb) * (va + vb) / (va*va/float64(len(a)-1) + vb*vb/float64(len(b)-1))
	h := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: nu}.Quantile(0.975) * se
	return d, d - h, d + h
}

func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(i)
	return sorted[i]*(1-f) + sorted[i+1]*f
}

// Write saves sweep.json, sweep.csv, summary.md and the figures into dir, atomically each.
func (r *Result) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("sweep.json: %w", err)
	}
	if err := fsutil.WriteFile(filepath.Join(dir, "sweep.json"), append(raw, '\n')); err != nil {
		return err
	}
	if err := fsutil.WriteFile(filepath.Join(dir, "sweep.csv"), []byte(r.CSV())); err != nil {
		return err
	}
	if err := fsutil.WriteFile(filepath.Join(dir, "summary.md"), []byte(r.Markdown())); err != nil {
		return err
	}
	return r.Plots(dir)
}
