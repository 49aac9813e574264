package analysis

// Recovery speed (the paper's third diagnostic): perturb one layer with Gaussian noise scaled to
// each matrix's own standard deviation, fine-tune, and count the optimizer steps until the
// evaluation perplexity is back within a threshold of the unperturbed model's. The paper reports
// ~200 steps for its critical layers L8/L11 and 0 for the anti-layers L14/L17, and that recovery
// speed correlates with importance.

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/growthtrain/growthtrain/analysis/stats"
	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/model"
	"github.com/growthtrain/growthtrain/optim"
)

// Recovery scopes (RecoveryOptions.Scope).
const (
	RecoveryScopeLayer = "layer" // only the perturbed layer trains (default)
	RecoveryScopeModel = "model" // every parameter trains
)

// ZeroNoise as RecoveryOptions.NoiseFrac perturbs nothing (a control run: 0 steps expected).
const ZeroNoise = -1.0

// RecoveryOptions configures Recovery. Zero values select the defaults.
type RecoveryOptions struct {
	// NoiseFrac: every matrix W of the layer gets W += N(0, (NoiseFrac·std(W))²) elementwise,
	// std(W) the matrix's own standard deviation. Default 0.5 (the paper's "50% noise").
	// The norm weights (1-D) are not perturbed. ZeroNoise disables the perturbation.
	NoiseFrac float64 `json:"noise_frac"`
	// Seed of the noise (layer l uses Seed + 1000003·(l+1)) and of the training batch order
	// (the same order for every layer, so layers see the same data).
	Seed uint64 `json:"seed"`
	// Scope: RecoveryScopeLayer (default) or RecoveryScopeModel.
	Scope string `json:"scope"`
	// LR: constant AdamW learning rate, no warm-up. Default 3e-4: Adam moves each weight by up
	// to ~LR per step, and 50% noise on SmolLM2-135M matrices is ~0.01-0.05 per element, so
	// 3e-4 can undo a layer's damage within tens to a few hundred steps and the 200-step cap
	// separates fast from slow layers; 1e-4 would leave most damaged layers at the cap.
	LR          float64 `json:"lr"`
	WeightDecay float64 `json:"weight_decay"` // default 0 (decay would pull weights away from the original)
	Beta1       float64 `json:"beta1"`        // default 0.9
	Beta2       float64 `json:"beta2"`        // default 0.999
	GradClip    float64 `json:"grad_clip"`    // global norm clip, default 1
	// BatchSize windows per step (default 8) drawn from the training windows in a seeded
	// shuffled order; SeqLen > 0 truncates each window to SeqLen+1 tokens (default: as given).
	BatchSize int `json:"batch_size"`
	SeqLen    int `json:"seq_len"`
	// MaxSteps caps the fine-tuning (default 200); EvalEvery is the evaluation interval
	// (default 10), which is also the resolution of the step counts.
	MaxSteps  int `json:"max_steps"`
	EvalEvery int `json:"eval_every"`
	// Threshold: recovered when PPL ≤ (1 + Threshold) × baseline PPL (default 0.01).
	Threshold float64 `json:"threshold"`
	// Importance (optional), indexed by layer (length = number of layers): e.g. ablation's PPL
	// change. Recovery correlates the step counts with it (see CorrelateImportance).
	Importance     []float64 `json:"-"`
	ImportanceName string    `json:"importance_name,omitempty"`
	// Progress (optional) is called after every fine-tuning step with its number.
	Progress func(step int) `json:"-"`
}

func (o RecoveryOptions) withDefaults() RecoveryOptions {
	if o.NoiseFrac == 0 {
		o.NoiseFrac = 0.5
	}
	if o.Scope == "" {
		o.Scope = RecoveryScopeLayer
	}
	if o.LR == 0 {
		o.LR = 3e-4
	}
	if o.Beta1 == 0 {
		o.Beta1 = 0.9
	}
	if o.Beta2 == 0 {
		o.Beta2 = 0.999
	}
	if o.GradClip == 0 {
		o.GradClip = 1
	}
	if o.BatchSize == 0 {
		o.BatchSize = 8
	}
	if o.MaxSteps == 0 {
		o.MaxSteps = 200
	}
	if o.EvalEvery == 0 {
		o.EvalEvery = 10
	}
	if o.Threshold == 0 {
		o.Threshold = 0.01
	}
	return o
}

// RecoveryPoint is one evaluation of a recovery curve.
type RecoveryPoint struct {
	Step int       `json:"step"`
	PPL  JSONFloat `json:"ppl"`
}

// RecoveryLayer is the recovery of one perturbed layer.
type RecoveryLayer struct {
	Layer        int       `json:"layer"`
	PerturbedPPL JSONFloat `json:"perturbed_ppl"`
	// PerturbedChange = PerturbedPPL / base PPL - 1.
	PerturbedChange JSONFloat `json:"perturbed_change"`
	// Steps until PPL ≤ target: 0 when the perturbation never left the threshold; MaxSteps
	// when not recovered (then Recovered is false).
	Steps     int             `json:"steps"`
	Recovered bool            `json:"recovered"`
	FinalPPL  JSONFloat       `json:"final_ppl"`
	Curve     []RecoveryPoint `json:"curve"`
	// NoiseStd: the noise standard deviation used per matrix (name within the layer).
	NoiseStd map[string]float64 `json:"noise_std"`
	Seconds  float64            `json:"seconds"`
}

// RecoveryCorrelation is Spearman's ρ between recovery steps and an importance measure.
type RecoveryCorrelation struct {
	Name       string      `json:"name"`
	Importance []JSONFloat `json:"importance"` // aligned with RecoveryResult.Layers
	Rho        JSONFloat   `json:"rho"`
	P          JSONFloat   `json:"p"`
	N          int         `json:"n"`
	Method     string      `json:"method"`
	// NotRecovered layers enter with steps = CensorValue (MaxSteps + 1: ranked above every
	// recovered layer, tied among themselves).
	NotRecovered int `json:"not_recovered"`
	CensorValue  int `json:"censor_value"`
}

// RecoveryResult is the outcome of Recovery.
type RecoveryResult struct {
	Options     RecoveryOptions      `json:"options"`
	BasePPL     JSONFloat            `json:"base_ppl"`
	TargetPPL   JSONFloat            `json:"target_ppl"` // (1 + Threshold) × BasePPL
	Layers      []RecoveryLayer      `json:"layers"`
	Correlation *RecoveryCorrelation `json:"correlation,omitempty"`
	Seconds     float64              `json:"seconds"`
}

// Recovery perturbs each of layers in turn, fine-tunes the model on the train windows (each of
// SeqLen+1 tokens: inputs and next-token targets), measures the steps to recover e's
// perplexity, and restores the original weights, so m is bitwise unchanged afterwards (also its
// requires-grad flags; gradients are dropped).
func Recovery(m *model.Model, e *Evaluator, train [][]int64, layers []int, opts RecoveryOptions) (res *RecoveryResult, err error) {
	defer torch.Recover(&err)
	start := time.Now()
	opts = opts.withDefaults()
	L := m.Config.NumHiddenLayers
	switch {
	case e == nil || e.M != m:
		return nil, errors.New("recovery: the Evaluator must evaluate the same model")
	case len(train) == 0:
		return nil, errors.New("recovery: no training windows")
	case opts.Scope != RecoveryScopeLayer && opts.Scope != RecoveryScopeModel:
		return nil, fmt.Errorf("recovery: scope %q, want %q or %q", opts.Scope, RecoveryScopeLayer, RecoveryScopeModel)
	case opts.NoiseFrac < 0 && opts.NoiseFrac != ZeroNoise:
		return nil, fmt.Errorf("recovery: negative noise fraction %v (use ZeroNoise for none)", opts.NoiseFrac)
	case opts.Importance != nil && len(opts.Importance) != L:
		return nil, fmt.Errorf("recovery: %d importance values for %d layers", len(opts.Importance), L)
	}
	for _, w := range train {
		if len(w) < 2 {
			return nil, errors.New("recovery: a training window has fewer than 2 tokens")
		}
	}
	for _, l := range layers {
		if l < 0 || l >= L {
			return nil, fmt.Errorf("recovery: layer %d out of range [0, %d)", l, L)
		}
	}
	base, err := e.NLL()
	if err != nil {
		return nil, err
	}
	tokens := e.Tokens()
	res = &RecoveryResult{Options: opts, BasePPL: JSONFloat(Perplexity(base, tokens))}
	res.TargetPPL = JSONFloat((1 + opts.Threshold) * float64(res.BasePPL))
	for _, l := range layers {
		t0 := time.Now()
		rl, err := recoverLayer(m, e, train, l, opts, float64(res.TargetPPL))
		if err != nil {
			return nil, fmt.Errorf("recovery of layer %d: %w", l, err)
		}
		rl.PerturbedChange = JSONFloat(float64(rl.PerturbedPPL)/float64(res.BasePPL) - 1)
		rl.Seconds = time.Since(t0).Seconds()
		res.Layers = append(res.Layers, *rl)
	}
	if opts.Importance != nil {
		name := opts.ImportanceName
		if name == "" {
			name = "importance"
		}
		if err := res.CorrelateImportance(name, opts.Importance); err != nil {
			return nil, err
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// recoverLayer runs one perturbation and fine-tuning and always restores the model.
func recoverLayer(m *model.Model, e *Evaluator, train [][]int64, l int, opts RecoveryOptions, target float64) (rl *RecoveryLayer, err error) {
	defer torch.Recover(&err)
	names := m.Names()
	trainNames := m.LayerParamNames(l)
	if opts.Scope == RecoveryScopeModel {
		trainNames = names
	}
	// Save what training can change, and every requires-grad flag.
	saved := map[string]*torch.Tensor{}
	flags := map[string]bool{}
	for _, n := range names {
		flags[n] = m.Param(n).RequiresGrad()
	}
	for _, n := range trainNames {
		c := m.Param(n).Detach().Clone()
		torch.Persist(c)
		saved[n] = c
	}
	opt := optim.NewAdamW(torch.AdamWConfig{LR: opts.LR, Beta1: opts.Beta1, Beta2: opts.Beta2, Eps: 1e-8, WeightDecay: opts.WeightDecay})
	defer func() {
		opt.Close()
		rerr := torch.Try(func() {
			for n, c := range saved {
				p := m.Param(n)
				p.SetGradNone()
				torch.NoGrad(func() { p.CopyFrom(c) })
				c.Close()
			}
			for _, n := range names {
				p := m.Param(n)
				p.SetGradNone()
				p.SetRequiresGrad(flags[n])
			}
		})
		if err == nil && rerr != nil {
			err = fmt.Errorf("restoring the model: %w", rerr)
		}
	}()

	rl = &RecoveryLayer{Layer: l, NoiseStd: map[string]float64{}}
	// Perturb every matrix of the layer.
	if opts.NoiseFrac > 0 {
		gen := torch.NewGenerator(opts.Seed+1000003*uint64(l+1), torch.CPU)
		defer gen.Close()
		for _, n := range m.LayerParamNames(l) {
			p := m.Param(n)
			if p.Dim() < 2 {
				continue
			}
			torch.WithScope(func(s *torch.Scope) {
				torch.NoGrad(func() {
					std := p.Detach().To(torch.Float32).Std(false).Item() * opts.NoiseFrac
					noise := torch.Randn(p.Shape(), torch.WithGenerator(gen)).MulScalar(std).ToDeviceDType(p.Device(), p.DType())
					p.AddInPlace(noise, 1)
					rl.NoiseStd[n[len(model.LayerPrefix(l)):]] = std
				})
			})
		}
	}
	ppl := func() (float64, error) {
		nll, err := e.NLL()
		if err != nil {
			return 0, err
		}
		return Perplexity(nll, e.Tokens()), nil
	}
	p0, err := ppl()
	if err != nil {
		return nil, err
	}
	rl.PerturbedPPL, rl.FinalPPL = JSONFloat(p0), JSONFloat(p0)
	rl.Curve = append(rl.Curve, RecoveryPoint{Step: 0, PPL: JSONFloat(p0)})
	if p0 <= target {
		rl.Recovered = true
		return rl, nil
	}

	// Fine-tune.
	if err := m.SetTrainable(false, names...); err != nil {
		return nil, err
	}
	if err := m.SetTrainable(true, trainNames...); err != nil {
		return nil, err
	}
	params := optim.Params(trainNames, m.Param)
	stepper := optim.Step{Optimizer: opt, GradClip: opts.GradClip}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x5eed0f7ec0e7))
	order := rng.Perm(len(train))
	next := 0
	rl.Steps = opts.MaxSteps
	for step := 1; step <= opts.MaxSteps; step++ {
		batch := make([][]int64, 0, opts.BatchSize)
		for len(batch) < opts.BatchSize {
			if next == len(order) {
				next = 0
			}
			w := train[order[next]]
			next++
			if opts.SeqLen > 0 && len(w) > opts.SeqLen+1 {
				w = w[:opts.SeqLen+1]
			}
			batch = append(batch, w)
		}
		res, err := wholeBatchStep(&stepper, m, params, opts.LR, batch)
		if err != nil {
			return nil, fmt.Errorf("fine-tuning step %d: %w", step, err)
		}
		res.Close()
		if opts.Progress != nil {
			opts.Progress(step)
		}
		if step%opts.EvalEvery == 0 || step == opts.MaxSteps {
			p, err := ppl()
			if err != nil {
				return nil, err
			}
			rl.FinalPPL = JSONFloat(p)
			rl.Curve = append(rl.Curve, RecoveryPoint{Step: step, PPL: JSONFloat(p)})
			if p <= target {
				rl.Steps, rl.Recovered = step, true
				break
			}
		}
	}
	return rl, nil
}

// CorrelateImportance sets r.Correlation to Spearman's ρ (stats.Spearman, with its p-value)
// between the recovery steps of the studied layers and importance (indexed by layer). Layers
// not recovered within the cap enter as MaxSteps + 1 (censored: ranked above all recovered
// layers and tied among themselves). Non-finite importance values are left out.
func (r *RecoveryResult) CorrelateImportance(name string, importance []float64) error {
	c := &RecoveryCorrelation{Name: name, CensorValue: r.Options.MaxSteps + 1}
	var steps, imp []float64
	for _, rl := range r.Layers {
		if rl.Layer >= len(importance) {
			return fmt.Errorf("no importance value for layer %d (%d given)", rl.Layer, len(importance))
		}
		v := importance[rl.Layer]
		c.Importance = append(c.Importance, JSONFloat(v))
		s := float64(rl.Steps)
		if !rl.Recovered {
			s = float64(c.CensorValue)
			c.NotRecovered++
		}
		steps, imp = append(steps, s), append(imp, v)
	}
	sp := stats.Spearman(steps, imp)
	c.Rho, c.P, c.N, c.Method = JSONFloat(sp.R), JSONFloat(sp.P), sp.N, sp.Method
	r.Correlation = c
	return nil
}

// wholeBatchStep is one fine-tuning step of m on batch in the Whole layout, the one the
// evaluation uses, so fine-tuning (recovery, pruning's healing) sees the same numerics.
func wholeBatchStep(stepper *optim.Step, m *model.Model, params []optim.Param, lr float64, batch [][]int64) (optim.Result, error) {
	return stepper.Run(params, lr, 1, func(int) (*torch.Tensor, error) {
		b, err := model.Pack(batch, model.Whole, m.Device)
		if err != nil {
			return nil, err
		}
		return m.Loss(b, model.LossOptions{})
	})
}
