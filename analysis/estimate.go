package analysis

import (
	"fmt"
	"runtime"
	"time"

	"github.com/growthtrain/growthtrain/analysis/stats"
	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/model"
	"gonum.org/v1/gonum/mat"
)

// Time estimates: before Run, a small calibration on the model at hand (one batch through the
// layers and the head, one recovery fine-tuning step, one matrix's SVD and a pass over one weight
// type) is extrapolated with each diagnostic's count of that work. They are estimates: contention
// for the cores, early recovery and caches change the real time, often by tens of percent.

// Calibration is what the estimates are extrapolated from, in seconds.
type Calibration struct {
	Layer     float64 // one decoder layer on one evaluation window
	Head      float64 // final norm, LM head and loss on one evaluation window
	TrainStep float64 // one recovery fine-tuning step (forward, backward, update); 0 if not measured
	SVDLayer  float64 // the structure measures of one layer's seven matrices
	Dot       float64 // one pass over one layer's weights of every type (the Gram engine's unit)
}

// Calibrate measures c on the first batch of e's windows and, when train is given, one recovery
// fine-tuning step (the model is restored bitwise, as after Recovery).
func Calibrate(e *Evaluator, train [][]int64, opts RunOptions) (c Calibration, err error) {
	defer torch.Recover(&err)
	m := e.M
	L := m.Config.NumHiddenLayers
	batch := e.batchSize()
	wins := e.Windows[:min(batch, len(e.Windows))]
	if len(wins) == 0 {
		return c, fmt.Errorf("calibration: no evaluation windows")
	}
	var cerr error
	torch.WithScope(func(s *torch.Scope) {
		torch.NoGrad(func() {
			b, err := model.Pack(wins, model.Whole, m.Device)
			if err != nil {
				cerr = err
				return
			}
			h := m.Embed(b.Inputs)
			torch.Synchronize(m.Device)
			t0 := time.Now()
			for l := 0; l < L; l++ {
				h = m.Block(l, h)
			}
			_ = h.Sum(false).Item() // waits for the device
			t1 := time.Now()
			_ = m.HeadLoss(h, b.Targets, model.LossOptions{Reduction: model.LossPerRow}).Sum(false).Item()
			t2 := time.Now()
			n := float64(len(wins))
			c.Layer = t1.Sub(t0).Seconds() / float64(L) / n
			c.Head = t2.Sub(t1).Seconds() / n
		})
	})
	if cerr != nil {
		return c, cerr
	}
	t := time.Now()
	for _, typ := range MatrixTypes {
		p := m.Param(model.LayerPrefix(0) + matrixSuffix[typ])
		shape := p.Shape()
		_ = stats.Metrics(mat.NewDense(int(shape[0]), int(shape[1]), p.Float64s()))
	}
	c.SVDLayer = time.Since(t).Seconds()
	t = time.Now()
	var dot float64
	for _, n := range m.LayerParamNames(0) {
		w := m.Param(n).Float64s()
		for _, v := range w {
			dot += v * v
		}
	}
	_ = dot
	c.Dot = time.Since(t).Seconds()
	if len(train) > 0 {
		// Two fine-tuning steps, timed between the first's end and the second's: the
		// perturbation and the evaluations are left out. Threshold -1 (a target perplexity of
		// 0) keeps a layer the noise does not hurt from "recovering" before any step.
		var t1, t2 time.Time
		ro := RecoveryOptions{Seed: opts.Seed, MaxSteps: 2, EvalEvery: 2, Threshold: -1,
			BatchSize: opts.RecoveryBatch, SeqLen: opts.RecoverySeqLen,
			Progress: func(step int) {
				switch step {
				case 1:
					t1 = time.Now()
				case 2:
					t2 = time.Now()
				}
			}}
		if _, err := Recovery(m, &Evaluator{M: m, Windows: wins[:1], Batch: 1}, train, []int{L / 2}, ro); err != nil {
			return c, fmt.Errorf("calibration: %w", err)
		}
		if !t1.IsZero() && !t2.IsZero() {
			c.TrainStep = t2.Sub(t1).Seconds()
		}
	}
	return c, nil
}

// Estimate returns the estimated seconds of each metric of opts (RecoveryLayers: the layers that
// recovery would study) for W evaluation windows on a model of L layers, from c. Recovery is
// estimated at its step cap for every layer: early recovery only shortens it.
func (c Calibration) Estimate(metrics []string, L, W int, opts RunOptions) map[string]float64 {
	fwd := float64(L)*c.Layer + c.Head // one window through the model
	out := map[string]float64{}
	for _, m := range metrics {
		switch m {
		case "ablation":
			// One baseline pass, then every variant of every layer re-runs the layers from the
			// ablated one and the head.
			work := fwd
			for l := 0; l < L; l++ {
				work += float64(len(AblationVariants)) * (float64(L-l)*c.Layer + c.Head)
			}
			out[m] = work * float64(W)
		case "predictability":
			// The Gram engine (pairs of layers, every type), its permutation nulls, and the
			// substitution sweep of up to 10 layers.
			out[m] = c.Dot*float64(L*(L+1)/2)*4 + float64(min(10, L))*fwd*float64(W)
		case "recovery":
			layers := len(opts.RecoveryLayers)
			if opts.RecoveryLayers == nil {
				layers = L
			}
			step := c.TrainStep
			if step == 0 {
				step = 3 * fwd * float64(max(1, opts.RecoveryBatch)) // forward + backward ≈ 3 forwards
			}
			evals := float64(opts.RecoverySteps)/10 + 2
			out[m] = float64(layers) * (float64(opts.RecoverySteps)*step + evals*fwd*float64(W))
		case "manipulation":
			mods := len(DefaultAlphas) + 5
			out[m] = (fwd + float64(mods)*(float64(L-L/3)*c.Layer+c.Head)) * float64(W)
		case "structure":
			// The SVDs run on every core; the hidden-state pass adds the attention probabilities.
			out[m] = c.SVDLayer*float64(L)/float64(max(1, runtime.GOMAXPROCS(0))) + 2*fwd*float64(W)
		case "lens":
			out[m] = (float64(L)*c.Layer + 3*float64(L+1)*c.Head) * float64(W)
		case "blocks":
			out[m] = (float64(L)*c.Layer + c.Head) * float64(W) * 1.5
		}
	}
	return out
}
