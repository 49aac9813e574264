package trainer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/data"
	"github.com/growthtrain/growthtrain/internal/fsutil"
	"github.com/growthtrain/growthtrain/internal/progress"
	"github.com/growthtrain/growthtrain/model"
	"github.com/growthtrain/growthtrain/optim"
	"github.com/growthtrain/growthtrain/tokenizer"
)

// ErrInterrupted is returned when the run was stopped (Ctrl-C) after saving a checkpoint.
var ErrInterrupted = errors.New("training interrupted; a checkpoint was saved (run again with --resume)")

// Options control a Run beyond what the budget says.
type Options struct {
	Uniform  bool            // train the budget's uniform baseline instead of its phases
	Resume   bool            // continue from the latest checkpoint in the output directory
	Output   string          // overrides [run] output
	Log      io.Writer       // progress lines and the final table (default os.Stdout)
	Progress bool            // draw progress bars on stderr
	Context  context.Context // cancelling it checkpoints and stops the run
	StopAt   int             // checkpoint and stop (ErrStopped) once this many steps are done; 0: run to the end
	// AutoTokenizer is the tokenizer file (tokenizer.json or .gguf) that `tokenizer = "auto"`
	// selects when it exists; otherwise, or when empty, "auto" trains a tokenizer. The CLI passes
	// SmolLM2-135M's GGUF from `make smollm2`.
	AutoTokenizer string
	// Group, when set, makes this process one rank of a data-parallel run (distributed.go,
	// docs/distributed.md): the budget's batch is split over the ranks, and only rank 0 logs and
	// writes files. Every rank must be given the same budget and options.
	Group *torch.ProcessGroup
	// Device, when set, is the device to train on instead of [run] device, without changing the
	// run's fingerprint: a data-parallel rank's own GPU (cuda:LOCAL_RANK).
	Device string
	// Recompute, when set, replaces [run] activation_checkpointing: "all", "none", or layers
	// separated by commas ("0-3,8"). Like the key, it does not change the fingerprint.
	Recompute string
}

// ErrDiverged is wrapped by the error of a run stopped by a NaN or infinite loss or gradient
// norm (docs/failure-model.md: the step is not applied, the state before it is checkpointed).
var ErrDiverged = errors.New("training diverged")

// ErrStopped is returned when Options.StopAt was reached; the run continues with --resume.
var ErrStopped = errors.New("stopped at the requested step; a checkpoint was saved (continue with --resume)")

// Summary is what a run reports, also written to summary.json.
type Summary struct {
	Name          string         `json:"name"`
	Mode          string         `json:"mode"`        // growth or uniform
	Fingerprint   string         `json:"fingerprint"` // budget and tokenizer (see run.fingerprint)
	Tokenizer     string         `json:"tokenizer"`   // where the tokenizer came from
	Params        int64          `json:"params"`
	Layers        int            `json:"layers"`
	Steps         int            `json:"steps"`
	TokensPerStep int            `json:"tokens_per_step"`
	LayerSteps    []int          `json:"layer_steps"`         // per layer: steps in which it was trained
	TotalLayerSt  int64          `json:"layer_steps_total"`   // sum of LayerSteps
	UniformLaySt  int64          `json:"uniform_layer_steps"` // layers x steps
	CostRatio     float64        `json:"cost_ratio"`          // TotalLayerSt / UniformLaySt
	CostReduction float64        `json:"cost_reduction"`      // 1 - CostRatio (the paper's "~54%")
	FLOPs         float64        `json:"flops_estimate"`      // see docs/budget.md
	UniformFLOPs  float64        `json:"uniform_flops_estimate"`
	Seconds       float64        `json:"seconds"`
	TokensPerSec  float64        `json:"tokens_per_second"`
	FinalLoss     float64        `json:"final_train_loss"`
	FinalValLoss  float64        `json:"final_val_loss"`
	Phases        []PhaseSummary `json:"phases"`
	WorldSize     int            `json:"world_size,omitempty"` // ranks of a data-parallel run (omitted: 1)
	// float16 loss scaling: steps skipped because their scaled gradients overflowed, and the
	// loss scale at the end (omitted without loss scaling).
	SkippedSteps int     `json:"skipped_steps,omitempty"`
	LossScale    float64 `json:"loss_scale,omitempty"`
}

// PhaseSummary reports one phase.
type PhaseSummary struct {
	Name         string  `json:"name"`
	Layers       []int   `json:"layers"`
	Steps        int     `json:"steps"`
	Seconds      float64 `json:"seconds"`
	TokensPerSec float64 `json:"tokens_per_second"`
	FLOPs        float64 `json:"flops_estimate"`
	TrainLoss    float64 `json:"final_train_loss"`
	ValLoss      float64 `json:"val_loss"`
	// AllReduceBytes is the gradient payload one step of the phase all-reduces in a
	// data-parallel run: the phase's trainable parameters (omitted in one process, and for a
	// phase this process did not train in: one finished before a resume).
	AllReduceBytes int64 `json:"allreduce_bytes_per_step,omitempty"`
	// AllReduceSeconds is the time rank 0 spent in the gradient all-reduce during the phase
	// (by this process: a resumed run counts from the resume), which includes waiting for the
	// slowest rank.
	AllReduceSeconds float64 `json:"allreduce_seconds,omitempty"`
}

// run is the state of one training run.
type run struct {
	b       *Budget
	opts    Options
	out     string
	log     io.Writer
	mode    string
	dev     torch.Device
	dtype   torch.DType
	tok     *tokenizer.Tokenizer
	tokFrom string // the resolved tokenizer: a file, or "train:N"
	fp      string // fingerprint of the budget and the tokenizer
	m       *model.Model
	opt     *optim.AdamW
	stepper optim.Step
	// recompute marks, per layer, the layers recomputed in the backward pass ([run]
	// activation_checkpointing); nil: none.
	recompute []bool
	// With float16 loss scaling: how many steps were skipped (their gradients overflowed).
	skippedSteps int
	sampler      *data.Sampler
	val          [][]int64
	sched        optim.Schedule
	metrics      *metricsLog // nil on ranks other than 0
	dist         dist

	lock *fsutil.Locked // the checkpoint directory's, held for the whole run

	step       int // steps completed
	saved      int // checkpoints written by this process
	savedStep  int // the step whose checkpoint is on disk (written or resumed from); -1: none
	layerSteps []int
	plan       *planner
	flops      flopModel
	flopsDone  float64   // estimated FLOPs of the steps done (metrics.jsonl's cumulative flops)
	phaseTime  []float64 // seconds spent per phase (restored on resume)
	lastLoss   float64
	lastVal    float64
	phaseVal   []float64
	phaseLoss  []float64
	phaseBytes []int64   // all-reduce payload per step, per phase (data-parallel runs)
	phaseComm  []float64 // seconds in the all-reduce per phase, by this process
}

// Run trains the model a budget describes and returns its summary.
func Run(b *Budget, opts Options) (sum *Summary, err error) {
	if opts.Log == nil {
		opts.Log = os.Stdout
	}
	if opts.Context == nil {
		opts.Context = context.Background()
	}
	if opts.Recompute != "" {
		if err := b.SetActivationCheckpointing(opts.Recompute); err != nil {
			return nil, fmt.Errorf("activation checkpointing: %w", err)
		}
	}
	if opts.Uniform {
		b = b.Uniform()
	}
	r := &run{b: b, opts: opts, log: opts.Log, mode: "growth", savedStep: -1, dist: dist{g: opts.Group}}
	if !r.dist.root() {
		r.log, r.opts.Progress = io.Discard, false
	}
	if opts.Uniform {
		r.mode = "uniform"
	}
	r.out = opts.Output
	if r.out == "" {
		r.out = b.Run.Output
	}
	defer torch.Recover(&err)
	defer r.close() // also after a failed setup: it may hold the checkpoint directory's lock
	if err := r.setup(); err != nil {
		return nil, r.dist.failed(err)
	}
	if err := r.train(); err != nil {
		return nil, r.dist.failed(err)
	}
	return r.finish()
}

func (r *run) close() {
	if r.m != nil {
		r.m.Close()
	}
	if r.opt != nil {
		r.opt.Close()
	}
	if r.metrics != nil {
		r.metrics.Close()
	}
	_ = r.lock.Unlock()
}

func (r *run) setup() error {
	b := r.b
	r.dev, _ = torch.ParseDevice(b.Run.Device)
	if r.opts.Device != "" {
		var err error
		if r.dev, err = torch.ParseDevice(r.opts.Device); err != nil {
			return err
		}
	}
	r.dtype, _ = torch.ParseDType(b.Run.DType)
	if r.dev.IsCUDA() && !torch.CUDAAvailable() {
		return fmt.Errorf("[run] device %s: CUDA is not available here", r.dev)
	}
	torch.ManualSeed(b.Run.Seed)
	if err := r.dist.check(b); err != nil {
		return fmt.Errorf("%s: %w", b.path, err)
	}
	if err := os.MkdirAll(r.out, 0o755); err != nil {
		return err
	}
	docs, err := loadCorpus(b)
	if err != nil {
		return err
	}
	train, val, err := data.Split(docs, b.Data.ValFraction, b.Run.Seed)
	if err != nil {
		return fmt.Errorf("[data] %w", err)
	}
	if r.tok, r.tokFrom, err = resolveTokenizer(b, train, r.opts.AutoTokenizer); err != nil {
		return err
	}
	cfg, err := modelConfig(b, r.tok.VocabSize())
	if err != nil {
		return err
	}
	if err := b.SetNumLayers(cfg.NumHiddenLayers); err != nil {
		return fmt.Errorf("%s: %w", b.path, err)
	}
	if cfg.TieWordEmbeddings {
		for i, p := range b.Phases {
			if p.TrainHead != p.TrainEmbeddings {
				return fmt.Errorf("%s: phase %d (%q): the head is tied to the embeddings, so train_head and train_embeddings must agree", b.path, i+1, p.Name)
			}
		}
	}
	sep := Separator(r.tok)
	key := tokenizerKey(r.tok)
	r.fp = fingerprint(b, key)
	if err := r.dist.agree(r.fp); err != nil {
		return err
	}
	cache := b.Resolve(b.Data.CacheDir)
	trainTok, err := data.TokenizeCached(train, r.tok, sep, cache, key)
	if err != nil {
		return err
	}
	valTok, err := data.TokenizeCached(val, r.tok, sep, cache, key)
	if err != nil {
		return err
	}
	if n := b.Data.TrainTokens; n > 0 && n < len(trainTok) {
		trainTok = trainTok[:n] // the small-data regime: a prefix of the training split
	}
	if r.sampler, err = data.NewSampler(trainTok, b.Data.SeqLen, b.Data.BatchSize, b.Run.Seed); err != nil {
		return fmt.Errorf("training split: %w", err)
	}
	r.val = data.EvalWindows(valTok, b.Data.SeqLen, b.Eval.Tokens)
	if len(r.val) == 0 {
		return fmt.Errorf("the validation split (%d tokens) is shorter than one window of %d", len(valTok), b.Data.SeqLen+1)
	}
	fmt.Fprintf(r.log, "%s [%s]: corpus %d documents (%d train, %d val), %d train / %d val tokens, vocab %d\n",
		b.Run.Name, r.mode, len(docs), len(train), len(val), len(trainTok), len(valTok), r.tok.VocabSize())

	if r.m, err = initModel(b, cfg); err != nil {
		return err
	}
	// Parameters and optimizer state are float32 (float64 when asked); a lower [run] dtype is
	// the compute precision (mixed precision through autocast): in bfloat16 itself, weight
	// decay and updates smaller than half a bfloat16 step would be lost (docs/budget.md).
	params := torch.Float32
	if r.dtype == torch.Float64 {
		params = torch.Float64
	}
	if err := r.m.To(r.dev, params); err != nil {
		return err
	}
	if err := r.dist.broadcast(r.m.Param, r.m.Names(), "the initial parameters"); err != nil {
		return err
	}
	r.m.Compute = r.dtype
	precision := params.String()
	if r.m.Mixed() {
		precision = fmt.Sprintf("float32 parameters, %v compute", r.dtype)
	}
	fmt.Fprintf(r.log, "model: %d layers, hidden %d, %.2fM parameters on %v, %s\n",
		cfg.NumHiddenLayers, cfg.HiddenSize, float64(r.m.NumParams())/1e6, r.dev, precision)
	o := b.Optim
	r.opt = optim.NewAdamW(torch.AdamWConfig{LR: o.LR, Beta1: o.Beta1, Beta2: o.Beta2, Eps: o.Eps, WeightDecay: o.WeightDecay})
	r.stepper = optim.Step{Optimizer: r.opt, GradClip: o.GradClip, CheckFinite: true}
	if r.dtype == torch.Float16 {
		// float16's 5 exponent bits lose small gradients: dynamic loss scaling (optim.LossScaler)
		r.stepper.Scaler = o.Scaler()
	}
	if r.dist.on() {
		r.stepper.Reduce = r.dist.reduceGrads
	}
	if ls := b.Run.RecomputedLayers(); len(ls) > 0 {
		r.recompute = make([]bool, cfg.NumHiddenLayers)
		for _, l := range ls {
			r.recompute[l] = true
		}
		fmt.Fprintf(r.log, "activation checkpointing: layers %s recompute their intermediates in the backward pass\n", layerList(ls))
	}
	r.sched = optim.Schedule{Kind: o.Schedule, PeakLR: o.LR, MinLR: o.MinLR, Warmup: o.Warmup, Total: b.TotalSteps()}
	if err := r.sched.Validate(); err != nil {
		return fmt.Errorf("[optim] %w", err)
	}
	r.layerSteps = make([]int, cfg.NumHiddenLayers)
	r.plan = newPlanner(b, cfg.NumHiddenLayers)
	r.flops = newFlopModel(cfg, b.Data.SeqLen)
	r.phaseTime = make([]float64, len(b.Phases))
	r.phaseVal = make([]float64, len(b.Phases))
	r.phaseLoss = make([]float64, len(b.Phases))
	r.phaseBytes = make([]int64, len(b.Phases))
	r.phaseComm = make([]float64, len(b.Phases))
	for i := range r.phaseVal {
		r.phaseVal[i], r.phaseLoss[i] = math.NaN(), math.NaN()
	}
	r.lastVal, r.lastLoss = math.NaN(), math.NaN()
	// Rank 0 owns the checkpoint directory (its lock, its recovery); every rank reads the
	// checkpoint it resumes from, after that recovery.
	if r.dist.root() {
		if err := r.openCheckpointDir(); err != nil {
			return err
		}
		if !r.opts.Resume {
			if err := r.freshOutput(); err != nil {
				return err
			}
		}
	}
	if err := r.dist.barrier("waiting for rank 0's checkpoint directory"); err != nil {
		return err
	}
	if r.opts.Resume {
		if err := r.resume(); err != nil {
			return err
		}
		if err := r.dist.broadcast(r.m.Param, r.m.Names(), "the resumed parameters"); err != nil {
			return err
		}
	} else if err := r.silenceAbsent(); err != nil {
		return err
	}
	// The FLOPs of the steps already done, added step by step as train adds them.
	tokens := float64(b.Data.BatchSize * b.Data.SeqLen * b.Data.GradAccum)
	for s := 0; s < r.step; s++ {
		pi, _ := b.phaseAt(s)
		sp := r.plan.at(pi, s)
		r.flopsDone += r.flops.stepOf(b.Phases[pi], sp.trained, sp.skipped) * tokens
	}
	if !r.dist.root() {
		return nil
	}
	r.metrics, err = openMetrics(filepath.Join(r.out, "metrics.jsonl"), r.step)
	return err
}

// freshOutput refuses to overwrite the checkpoints of an earlier run without --resume.
func (r *run) freshOutput() error {
	if len(listCheckpoints(r.checkpointDir())) > 0 {
		return fmt.Errorf("%s already holds checkpoints of a run: pass --resume to continue it, or choose another output directory", r.checkpointDir())
	}
	return nil
}

func (r *run) train() error {
	b := r.b
	total := b.TotalSteps()
	tokensPerStep := b.Data.BatchSize * b.Data.SeqLen * b.Data.GradAccum
	var params []optim.Param
	current := -1
	var bar interface {
		Add(int) error
		Finish() error
		Describe(string)
	}
	phaseStart := time.Now()
	for r.step < total {
		// A stop comes before anything of the next step, a phase's init included: a checkpoint
		// at a phase boundary holds the weights before the init, and resuming applies it once.
		stop, interrupted, err := r.stopRequested()
		if err != nil {
			return err
		}
		if stop {
			if current >= 0 {
				r.phaseTime[current] += time.Since(phaseStart).Seconds()
			}
			if err := r.saveCheckpoint(); err != nil {
				return err
			}
			if interrupted {
				return ErrInterrupted
			}
			return ErrStopped
		}
		pi, inPhase := b.phaseAt(r.step)
		p := b.Phases[pi]
		if pi != current {
			if bar != nil {
				_ = bar.Finish()
			}
			if current >= 0 {
				r.phaseTime[current] += time.Since(phaseStart).Seconds()
			}
			current = pi
			testHook("phase-start", pi+1)
			r.setPresence(pi)
			if inPhase == 0 {
				if err := r.applyInit(pi); err != nil {
					return err
				}
				if err := r.dist.broadcast(r.m.Param, r.layerParamNames(p.layers), fmt.Sprintf("phase %d's init", pi+1)); err != nil {
					return err
				}
				testHook("init-applied", pi+1)
			}
			var err error
			if params, err = r.setTrainable(p); err != nil {
				return err
			}
			fmt.Fprintf(r.log, "phase %d/%d %q: steps %d-%d, layers %s, lr x%g\n", pi+1, len(b.Phases), p.Name,
				r.step+1, r.step+p.Steps-inPhase, layerList(p.layers), p.LRScale)
			pb := progress.NewTo(os.Stderr, r.opts.Progress, p.Steps, p.Name, "step")
			_ = pb.Set(inPhase)
			bar = pb
			phaseStart = time.Now()
		}
		t0 := time.Now()
		lr := r.sched.LR(r.step) * p.LRScale
		sp := r.plan.at(pi, r.step)
		r.skip(sp.skipped) // a sampled phase skips the layers it does not train this step
		rec, err := r.trainStep(params, lr)
		r.setPresence(pi)
		if nf := (*optim.NonFiniteError)(nil); errors.As(err, &nf) {
			r.phaseTime[current] += time.Since(phaseStart).Seconds()
			return r.diverged(metric{Step: r.step + 1, Phase: p.Name, Loss: number(nf.Loss), LR: number(lr), GradNorm: number(nf.GradNorm)},
				fmt.Sprintf("step %d: loss %v, gradient norm %v; the step was not applied", r.step+1, nf.Loss, nf.GradNorm))
		}
		if err != nil {
			return err
		}
		for _, l := range sp.trained {
			r.layerSteps[l]++
		}
		if r.dist.on() {
			if inPhase == 0 || r.dist.stepBytes != r.phaseBytes[pi] {
				fmt.Fprintf(r.log, "  all-reduce: %d bytes of gradients per step over %d ranks\n", r.dist.stepBytes, r.dist.size())
			}
			r.phaseBytes[pi] = r.dist.stepBytes
			r.phaseComm[pi] += r.dist.stepTime.Seconds()
		}
		r.flopsDone += r.flops.stepOf(p, sp.trained, sp.skipped) * float64(tokensPerStep) // as setup replays it
		r.step++
		loss := float64(rec.Loss)
		r.lastLoss = loss
		r.phaseLoss[pi] = loss
		rate := float64(tokensPerStep) / time.Since(t0).Seconds()
		rec.Step, rec.Phase, rec.LR, rec.TokensPerSec, rec.FLOPs = r.step, p.Name, number(lr), number(rate), number(r.flopsDone)
		phaseEnd := inPhase+1 == p.Steps
		if (b.Eval.Every > 0 && r.step%b.Eval.Every == 0) || phaseEnd {
			v, err := r.validate()
			if err != nil {
				return err
			}
			rec.ValLoss = (*number)(&v)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				r.phaseTime[current] += time.Since(phaseStart).Seconds()
				return r.diverged(rec, fmt.Sprintf("validation loss %v after step %d", v, r.step))
			}
			r.lastVal, r.phaseVal[pi] = v, v
		}
		if err := r.metrics.Write(rec); err != nil {
			return err
		}
		testHook("step-done", r.step)
		bar.Describe(fmt.Sprintf("%s loss %.3f %.0f tok/s", p.Name, loss, rate))
		_ = bar.Add(1)
		if phaseEnd {
			fmt.Fprintf(r.log, "  end of %s: train loss %.4f, val loss %.4f\n", p.Name, loss, r.phaseVal[pi])
		}
		if b.Checkpoint.Every > 0 && r.step%b.Checkpoint.Every == 0 && r.step < total {
			r.phaseTime[current] += time.Since(phaseStart).Seconds()
			phaseStart = time.Now()
			if err := r.saveCheckpoint(); err != nil {
				return err
			}
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	if current >= 0 {
		r.phaseTime[current] += time.Since(phaseStart).Seconds()
	}
	return r.saveCheckpoint()
}

// diverged ends a run whose step rec (its training step refused, or its validation loss) was not
// finite: it records rec in metrics.jsonl, checkpoints the current state (the last whose loss
// and gradients were finite) unless a parameter itself is not finite, and returns the error that
// stops the run.
func (r *run) diverged(rec metric, what string) error {
	rec.Diverged = true
	if err := r.metrics.Write(rec); err != nil {
		return err
	}
	finite, err := r.paramsFinite()
	if err != nil {
		return err
	}
	if !finite {
		return fmt.Errorf("%w: %s; the parameters are no longer finite, so no checkpoint was written (the existing ones are kept): lower [optim] lr or a phase's lr_scale",
			ErrDiverged, what)
	}
	if err := r.saveCheckpoint(); err != nil {
		return fmt.Errorf("%w: %s; saving a checkpoint failed: %w", ErrDiverged, what, err)
	}
	return fmt.Errorf("%w: %s; checkpoint of step %d: %s (lower [optim] lr or a phase's lr_scale)",
		ErrDiverged, what, r.step, filepath.Join(r.checkpointDir(), checkpointName(r.step)))
}

// paramsFinite reports whether every parameter of the model is finite.
func (r *run) paramsFinite() (ok bool, err error) {
	defer torch.Recover(&err)
	ok = true
	for _, n := range r.m.Names() {
		torch.WithScope(func(s *torch.Scope) {
			p := r.m.Param(n)
			if int64(p.IsFinite().Sum(false).Item()) != p.Numel() {
				ok = false
			}
		})
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

// trainStep runs one optimisation step of grad_accum micro-batches and returns what
// metrics.jsonl records of it: the mean loss and the gradient norm before clipping (read here,
// at the trainer's logging cadence: every step is logged), and with float16 the loss scale and
// whether the step was skipped.
func (r *run) trainStep(params []optim.Param, lr float64) (metric, error) {
	res, err := r.stepper.RunLosses(params, lr, r.b.Data.GradAccum, func(int) (optim.Loss, error) {
		return r.trainLoss(r.dist.shard(r.sampler.Next()))
	})
	if err != nil {
		return metric{}, fmt.Errorf("step %d: %w", r.step+1, err)
	}
	defer res.Close()
	if res.Skipped {
		r.skippedSteps++
	}
	loss, gnorm, err := res.Read()
	if err != nil {
		return metric{}, err
	}
	if r.dist.on() {
		// The logged loss is the global batch's: the mean of the ranks' equal shares. The
		// gradient norm was measured after the reduction, so it already is.
		s, err := r.dist.sums(loss)
		if err != nil {
			return metric{}, fmt.Errorf("step %d: %w", r.step+1, err)
		}
		loss = s[0] / float64(r.dist.size())
	}
	return metric{Loss: number(loss), GradNorm: number(gnorm), LossScale: res.LossScale, Skipped: res.Skipped}, nil
}

// batchLoss is the mean next-token cross-entropy of windows of seq_len+1 tokens.
func (r *run) batchLoss(batch [][]int64) (*torch.Tensor, error) {
	b, err := model.Pack(batch, model.Shifted, r.dev)
	if err != nil {
		return nil, err
	}
	return r.m.Loss(b, model.LossOptions{})
}

// trainLoss is batchLoss for a training step, with the layers of [run] activation_checkpointing
// recomputed in the backward pass (none: the plain pass, and Finish does nothing).
func (r *run) trainLoss(batch [][]int64) (optim.Loss, error) {
	b, err := model.Pack(batch, model.Shifted, r.dev)
	if err != nil {
		return optim.Loss{}, err
	}
	rc, err := r.m.LossRecomputing(b, model.LossOptions{}, r.recompute)
	if err != nil {
		return optim.Loss{}, err
	}
	return optim.Loss{Value: rc.Loss, Finish: rc.Backward}, nil
}

// validate returns the mean next-token loss on the validation windows. In a data-parallel run
// each rank evaluates its own share of them (rank k every size-th window from the k-th, in
// batches of its share of batch_size) and the token-weighted sums are added over the ranks.
func (r *run) validate() (v float64, err error) {
	defer torch.Recover(&err)
	var sum float64
	var count int64
	val := r.val
	if r.dist.on() {
		val = nil
		for i := r.dist.rank(); i < len(r.val); i += r.dist.size() {
			val = append(val, r.val[i])
		}
	}
	bs := r.b.Data.BatchSize / r.dist.size()
	for i := 0; i < len(val); i += bs {
		batch := val[i:min(i+bs, len(val))]
		torch.WithScope(func(s *torch.Scope) {
			torch.NoGrad(func() {
				var l *torch.Tensor
				if l, err = r.batchLoss(batch); err != nil {
					return
				}
				tokens := int64(len(batch)) * int64(len(batch[0])-1)
				sum += l.Item() * float64(tokens)
				count += tokens
			})
		})
		if err != nil {
			return 0, fmt.Errorf("validation: %w", err)
		}
	}
	if r.dist.on() {
		s, err := r.dist.sums(sum, float64(count))
		if err != nil {
			return 0, fmt.Errorf("validation: %w", err)
		}
		sum, count = s[0], int64(s[1])
	}
	return sum / float64(count), nil
}

// setPresence makes the layers absent in phase pi the identity ([growth] ungrown = "absent")
// and every other layer present.
func (r *run) setPresence(pi int) {
	for l := range r.m.Layers {
		r.m.Layers[l].Skip = r.plan.absent(pi, l)
	}
}

// skip makes the layers marked in skipped (nil: none) the identity for the next step.
func (r *run) skip(skipped []bool) {
	for l, s := range skipped {
		if s {
			r.m.Layers[l].Skip = true
		}
	}
}

// silenceAbsent zeroes the output projections (o_proj, down_proj) of the layers absent at the
// start of a fresh run: an absent layer is skipped in the trainer's forward pass, and with zero
// output projections it is the identity in every other reader of a saved model too
// (transformers included). Its first phase overwrites its weights (see applyInit).
func (r *run) silenceAbsent() (err error) {
	defer torch.Recover(&err)
	for _, l := range r.plan.absentLayers(0) {
		for _, n := range []string{"self_attn.o_proj.weight", "mlp.down_proj.weight"} {
			name := model.LayerPrefix(l) + n
			torch.WithScope(func(s *torch.Scope) { err = r.m.SetParam(name, r.m.Param(name).ZerosLike()) })
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// setTrainable freezes everything but the phase's layers and chosen shared parts, and returns
// the trainable parameters. Frozen parameters record no gradient, so backward stops below the
// lowest trainable part, and the optimizer never allocates state for them.
func (r *run) setTrainable(p Phase) ([]optim.Param, error) {
	names := r.m.Names()
	if err := r.m.SetTrainable(false, names...); err != nil {
		return nil, err
	}
	var train []string
	for _, l := range p.layers {
		train = append(train, r.m.LayerParamNames(l)...)
	}
	if p.TrainEmbeddings || (p.TrainHead && r.m.Config.TieWordEmbeddings) {
		train = append(train, "model.embed_tokens.weight")
	}
	if p.TrainFinalNorm {
		train = append(train, "model.norm.weight")
	}
	if p.TrainHead && !r.m.Config.TieWordEmbeddings {
		train = append(train, "lm_head.weight")
	}
	if err := r.m.SetTrainable(true, train...); err != nil {
		return nil, err
	}
	return optim.Params(train, r.m.Param), nil
}

// applyInit applies the phase's init strategy to its layers.
func (r *run) applyInit(pi int) (err error) {
	p := r.b.Phases[pi]
	seq, _ := ParseInits(p.Init)
	// An absent layer grows here: its weights until now were placeholders (zero outputs), so
	// unless the init starts by overwriting them (copy, neighbour average, random), it starts
	// from a fresh random init, as a new layer would.
	var growing []int
	if r.b.Growth.Ungrown == UngrownAbsent {
		for _, l := range p.layers {
			if r.plan.first[l] == pi {
				growing = append(growing, l)
			}
		}
	}
	overwrites := len(seq) > 0 && seq[0].Kind != "scale"
	if (len(seq) == 0 || len(p.layers) == 0) && len(growing) == 0 {
		return nil
	}
	defer torch.Recover(&err)
	// Seeded by run seed and phase, so a resumed run re-creates exactly the same weights.
	gen := torch.NewGenerator(r.b.Run.Seed*1000003+uint64(pi), torch.CPU)
	defer gen.Close()
	if len(growing) > 0 && !overwrites {
		if err := r.initLayers(growing, InitStrategy{Kind: "random"}, gen); err != nil {
			return err
		}
		fmt.Fprintf(r.log, "  layers %s grown from a random init\n", layerList(growing))
	}
	for _, is := range seq {
		if err := r.initLayers(p.layers, is, gen); err != nil {
			return err
		}
	}
	if len(seq) > 0 {
		fmt.Fprintf(r.log, "  init %s applied to layers %s\n", p.Init, layerList(p.layers))
	}
	return nil
}

// initLayers applies one init strategy to the given layers. Neighbour averages read the
// current weights of the neighbours, which for a run of adjacent layers may already be re-inited.
func (r *run) initLayers(layers []int, is InitStrategy, gen *torch.Generator) (err error) {
	defer torch.Recover(&err)
	n := r.m.Config.NumHiddenLayers
	for i, l := range layers {
		src := is.Layer // copy: the block's layers in order, repeated
		if w := is.LayerEnd - is.Layer + 1; w > 1 {
			src += i % w
		}
		switch is.Kind {
		case "scale":
			if err := r.m.ScaleLayer(l, is.Alpha, model.AllMatrices); err != nil {
				return err
			}
		case "copy", "neighbour-average", "random":
			for _, name := range r.m.LayerParamNames(l) {
				suffix := strings.TrimPrefix(name, model.LayerPrefix(l))
				var v *torch.Tensor
				torch.WithScope(func(s *torch.Scope) {
					dst := r.m.Param(name)
					switch is.Kind {
					case "copy":
						v = r.m.Param(model.LayerPrefix(src) + suffix)
					case "neighbour-average":
						lo, hi := max(l-1, 0), min(l+1, n-1) // end layers use their one neighbour
						a, b := r.m.Param(model.LayerPrefix(lo)+suffix), r.m.Param(model.LayerPrefix(hi)+suffix)
						v = a.Add(b).MulScalar(0.5)
					case "random":
						switch {
						case strings.HasSuffix(name, "norm.weight"):
							v = dst.OnesLike()
						case strings.HasSuffix(name, ".bias"):
							v = dst.ZerosLike()
						default:
							v = torch.Randn(dst.Shape(), torch.WithGenerator(gen)).MulScalar(0.02)
						}
					}
					err = r.m.SetParam(name, v)
				})
				if err != nil {
					return fmt.Errorf("init %s of layer %d: %w", is.Kind, l, err)
				}
			}
		}
	}
	return nil
}

func (r *run) finish() (*Summary, error) {
	b := r.b
	cfg := r.m.Config
	s := &Summary{
		Name: b.Run.Name, Mode: r.mode, Fingerprint: r.fp, Tokenizer: r.tokFrom, Params: r.m.NumParams(),
		Layers: cfg.NumHiddenLayers, Steps: b.TotalSteps(),
		TokensPerStep: b.Data.BatchSize * b.Data.SeqLen * b.Data.GradAccum,
		LayerSteps:    slices.Clone(r.layerSteps), FinalLoss: r.lastLoss, FinalValLoss: r.lastVal,
	}
	for _, n := range r.layerSteps {
		s.TotalLayerSt += int64(n)
	}
	s.UniformLaySt = int64(cfg.NumHiddenLayers) * int64(s.Steps)
	s.CostRatio = float64(s.TotalLayerSt) / float64(s.UniformLaySt)
	s.CostReduction = 1 - s.CostRatio
	fl := newFlopModel(cfg, b.Data.SeqLen)
	phaseFLOPs := r.plan.phaseFLOPs(fl, float64(s.TokensPerStep))
	for i, p := range b.Phases {
		ps := PhaseSummary{Name: p.Name, Layers: slices.Clone(p.layers), Steps: p.Steps, Seconds: r.phaseTime[i],
			TrainLoss: r.phaseLoss[i], ValLoss: r.phaseVal[i], AllReduceBytes: r.phaseBytes[i], AllReduceSeconds: r.phaseComm[i]}
		ps.FLOPs = phaseFLOPs[i]
		if ps.Seconds > 0 {
			ps.TokensPerSec = float64(s.TokensPerStep*p.Steps) / ps.Seconds
		}
		s.FLOPs += ps.FLOPs
		s.Seconds += ps.Seconds
		s.Phases = append(s.Phases, ps)
	}
	s.UniformFLOPs = fl.step(b.Uniform().Phases[0]) * float64(s.TokensPerStep) * float64(s.Steps)
	if s.Seconds > 0 {
		s.TokensPerSec = float64(s.TokensPerStep*s.Steps) / s.Seconds
	}
	if r.dist.on() {
		s.WorldSize = r.dist.size()
	}
	if sc := r.stepper.Scaler; sc != nil {
		s.SkippedSteps, s.LossScale = r.skippedSteps, sc.Scale
	}
	if !r.dist.root() {
		return s, nil
	}
	if err := writeJSONAtomic(filepath.Join(r.out, "summary.json"), s); err != nil {
		return nil, err
	}
	PrintSummary(r.log, s)
	return s, nil
}

// PrintSummary writes the per-phase table and the budget accounting.
func PrintSummary(w io.Writer, s *Summary) {
	fmt.Fprintf(w, "\n%s [%s]: %d steps, %d tokens/step, %.2fM parameters\n", s.Name, s.Mode, s.Steps, s.TokensPerStep, float64(s.Params)/1e6)
	fmt.Fprintf(w, "%-16s %-14s %6s %9s %10s %10s %10s\n", "phase", "layers", "steps", "seconds", "tokens/s", "GFLOPs", "val loss")
	for _, p := range s.Phases {
		fmt.Fprintf(w, "%-16s %-14s %6d %9.1f %10.0f %10.1f %10.4f\n", p.Name, layerList(p.Layers), p.Steps, p.Seconds, p.TokensPerSec, p.FLOPs/1e9, p.ValLoss)
	}
	fmt.Fprintf(w, "layer-steps %d of %d uniform: cost ratio %.3f (reduction %.1f%%); estimated FLOPs %.3g vs %.3g uniform\n",
		s.TotalLayerSt, s.UniformLaySt, s.CostRatio, 100*s.CostReduction, s.FLOPs, s.UniformFLOPs)
	fmt.Fprintf(w, "per-layer trained steps: %v\n", s.LayerSteps)
	fmt.Fprintf(w, "final train loss %.4f, final val loss %.4f, %.1fs, %.0f tokens/s\n", s.FinalLoss, s.FinalValLoss, s.Seconds, s.TokensPerSec)
	if s.LossScale > 0 {
		fmt.Fprintf(w, "float16 loss scaling: %d steps skipped (gradients overflowed), loss scale now %g\n", s.SkippedSteps, s.LossScale)
	}
	if s.WorldSize > 0 {
		var parts []string
		for _, p := range s.Phases {
			parts = append(parts, fmt.Sprintf("%s %d (%.1fs)", p.Name, p.AllReduceBytes, p.AllReduceSeconds))
		}
		fmt.Fprintf(w, "data parallel over %d ranks; gradient bytes all-reduced per step (time in all-reduce): %s\n", s.WorldSize, strings.Join(parts, ", "))
	}
}

// layerList formats sorted layer indices compactly: "0-3,8,10-11".
func layerList(ls []int) string {
	if len(ls) == 0 {
		return "-"
	}
	var parts []string
	for i := 0; i < len(ls); {
		j := i
		for j+1 < len(ls) && ls[j+1] == ls[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", ls[i], ls[j]))
		} else {
			parts = append(parts, fmt.Sprint(ls[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
