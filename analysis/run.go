package analysis

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/internal/fsutil"
	"github.com/growthtrain/growthtrain/internal/jsonx"
	"github.com/growthtrain/growthtrain/model"
)

// PaperSentences is the paper-sized evaluation set: ten short English sentences. The paper's own
// ten are not published; these are ours (plain, varied everyday prose). Effects smaller than a
// few percent are noise at this size: the bootstrap intervals say so.
var PaperSentences = []string{
	"The cat sat quietly by the window and watched the rain fall on the garden.",
	"Scientists have discovered a new species of frog in the forests of South America.",
	"She opened the old wooden box and found a bundle of letters tied with a ribbon.",
	"The train to the city leaves every morning at seven o'clock from the main station.",
	"Learning a new language takes patience, practice and a willingness to make mistakes.",
	"The committee will meet next week to discuss the budget for the coming year.",
	"After the storm, the fishermen repaired their nets and waited for calmer seas.",
	"Water boils at one hundred degrees Celsius at sea level.",
	"He planted tomatoes, beans and sunflowers in the small garden behind his house.",
	"The museum's new exhibition shows paintings from the early twentieth century.",
}

// Metrics are the diagnostics Run knows, in the order it runs them: the paper's five, then the
// logit lens and the block angular distances.
var Metrics = []string{"ablation", "predictability", "recovery", "manipulation", "structure", "lens", "blocks"}

// RunOptions configures Run.
type RunOptions struct {
	Metrics        []string  `json:"metrics"` // subset of Metrics (default all)
	Seed           uint64    `json:"seed"`
	Bootstrap      int       `json:"bootstrap_iters"`    // resamples for every CI (default 1000)
	RecoveryLayers []int     `json:"recovery_layers"`    // nil: all layers
	RecoverySteps  int       `json:"recovery_max_steps"` // cap (default: 200 on a GPU, 50 on the CPU)
	RecoveryBatch  int       `json:"recovery_batch"`     // windows per fine-tuning step (default 4)
	RecoverySeqLen int       `json:"recovery_seq_len"`   // tokens per fine-tuning window (0: as given)
	ImportanceFrom string    `json:"importance_from"`    // ablation variant recovery correlates with
	Log            io.Writer `json:"-"`
	// ProgressFactory (optional) makes a progress callback for a stage of total units (unit:
	// "window" for the evaluation passes, "step" for recovery's fine-tuning).
	ProgressFactory func(total int, desc, unit string) func(done, total int) `json:"-"`
	// Group, when set, shards the per-layer runs (ablation variants, recovery fine-tuning,
	// manipulation) over its ranks and merges them (shard.go), so every rank's report is the
	// one process's; the diagnostics that are one computation (predictability, structure, lens,
	// blocks) run on rank 0 only, whose report is the one to write.
	Group Group `json:"-"`
}

// Report is analysis.json: everything the diagnostics found, with what produced it.
type Report struct {
	Tool           string                `json:"tool"`
	Created        string                `json:"created"`
	Model          ModelInfo             `json:"model"`
	Data           DataInfo              `json:"data"`
	Options        RunOptions            `json:"options"`
	Seconds        map[string]float64    `json:"seconds"`
	Ablation       *AblationResult       `json:"ablation,omitempty"`
	Predictability *PredictabilityResult `json:"predictability,omitempty"`
	Recovery       *RecoveryResult       `json:"recovery,omitempty"`
	Manipulation   *ManipulationResult   `json:"manipulation,omitempty"`
	Structure      *StructureResult      `json:"structure,omitempty"`
	Lens           *LensResult           `json:"lens,omitempty"`
	Blocks         *BlocksResult         `json:"blocks,omitempty"`
}

// ModelInfo identifies the analysed model.
type ModelInfo struct {
	Path   string       `json:"path"`
	Config model.Config `json:"config"`
	Params int64        `json:"params"`
	Device string       `json:"device"`
	DType  string       `json:"dtype"`
}

// DataInfo describes the evaluation and fine-tuning data.
type DataInfo struct {
	Eval          string `json:"eval"` // "paper-10-sentences" or the file
	Windows       int    `json:"windows"`
	Tokens        int    `json:"tokens"`
	TrainWindows  int    `json:"train_windows,omitempty"`
	TrainSource   string `json:"train_source,omitempty"`
	SeqLen        int    `json:"seq_len,omitempty"`
	MaxEvalTokens int    `json:"max_eval_tokens,omitempty"`
	Batch         int    `json:"batch,omitempty"` // windows per forward pass
}

// DefaultRecoverySteps is the recovery step cap: the paper's ~200 on a GPU, 50 on the CPU
// (where each step is a full forward and backward of the model).
func DefaultRecoverySteps(dev torch.Device) int {
	if dev.IsCUDA() {
		return 200
	}
	return 50
}

// Run computes the selected diagnostics on the model behind e (and train windows for recovery)
// and returns the report. The model is unchanged afterwards.
func Run(e *Evaluator, train [][]int64, info ModelInfo, data DataInfo, opts RunOptions) (*Report, error) {
	if len(opts.Metrics) == 0 {
		opts.Metrics = Metrics
	}
	for _, m := range opts.Metrics {
		if !slices.Contains(Metrics, m) {
			return nil, fmt.Errorf("unknown metric %q (want %s)", m, strings.Join(Metrics, ", "))
		}
	}
	if opts.Bootstrap <= 0 {
		opts.Bootstrap = 1000
	}
	if opts.RecoverySteps <= 0 {
		opts.RecoverySteps = DefaultRecoverySteps(e.M.Device)
	}
	if opts.RecoveryBatch <= 0 {
		opts.RecoveryBatch = 4
	}
	if opts.ImportanceFrom == "" {
		opts.ImportanceFrom = AblateNeighbourAverage
	}
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	progress := func(total int, desc, unit string) func(int, int) {
		if opts.ProgressFactory == nil {
			return nil
		}
		return opts.ProgressFactory(total, desc, unit)
	}
	want := func(m string) bool { return slices.Contains(opts.Metrics, m) }
	g := opts.Group
	root := g == nil || g.Rank() == 0
	// The sweeps of ablation and manipulation shard their modifications; recovery shards whole
	// runs, whose own evaluations (and rank 0's predictability and structure) are not sharded.
	se := e
	if g != nil {
		se = &Evaluator{M: e.M, Windows: e.Windows, Batch: e.Batch, Group: g}
	}
	r := &Report{Tool: "growthtrain analyze", Created: time.Now().UTC().Format(time.RFC3339), Model: info, Data: data,
		Options: opts, Seconds: map[string]float64{}}
	L := e.M.Config.NumHiddenLayers
	timed := func(name string, f func() error) error {
		fmt.Fprintf(log, "%s ...\n", name)
		t := time.Now()
		err := f()
		r.Seconds[name] = time.Since(t).Seconds()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintf(log, "%s done in %.1fs\n", name, r.Seconds[name])
		return nil
	}
	// Ablation comes first: manipulation picks its layers, and recovery correlates with it.
	if want("ablation") || want("manipulation") || want("recovery") {
		if err := timed("ablation", func() (err error) {
			r.Ablation, err = Ablation(se, AblationOptions{Bootstrap: opts.Bootstrap, Seed: opts.Seed,
				Progress: progress(len(e.Windows), "ablation", "window")})
			return err
		}); err != nil {
			return nil, err
		}
	}
	if want("predictability") && root {
		if err := timed("predictability", func() (err error) {
			r.Predictability, err = Predictability(e.M, e, PredictabilityOptions{Seed: opts.Seed, BootstrapIters: opts.Bootstrap})
			return err
		}); err != nil {
			return nil, err
		}
	}
	if want("recovery") {
		if len(train) == 0 {
			return nil, fmt.Errorf("recovery needs training windows")
		}
		layers := opts.RecoveryLayers
		if layers == nil {
			for l := 0; l < L; l++ {
				layers = append(layers, l)
			}
		}
		r.Options.RecoveryLayers = layers // as studied, not nil for "all"
		if err := timed("recovery", func() (err error) {
			ro := RecoveryOptions{Seed: opts.Seed, MaxSteps: opts.RecoverySteps, BatchSize: opts.RecoveryBatch, SeqLen: opts.RecoverySeqLen}
			// The bar counts fine-tuning steps over this rank's layers; a layer that recovers
			// early jumps to its end.
			total := len(layers) * opts.RecoverySteps
			p := progress(total, "recovery", "step")
			runs := make([]*RecoveryResult, len(layers))
			for i, l := range layers {
				if !mine(g, i) {
					continue
				}
				if p != nil {
					ro.Progress = func(step int) { p(i*opts.RecoverySteps+step, total) }
				}
				if runs[i], err = Recovery(e.M, e, train, []int{l}, ro); err != nil {
					return err
				}
				if p != nil {
					p((i+1)*opts.RecoverySteps, total)
				}
			}
			if err := gatherValues(g, runs); err != nil {
				return err
			}
			for _, one := range runs {
				if r.Recovery == nil {
					r.Recovery = one
				} else {
					r.Recovery.Layers = append(r.Recovery.Layers, one.Layers...)
					r.Recovery.Seconds += one.Seconds
				}
			}
			if r.Ablation != nil {
				return r.Recovery.CorrelateImportance("ablation "+opts.ImportanceFrom, r.Ablation.Importance(opts.ImportanceFrom))
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	if want("manipulation") {
		if err := timed("manipulation", func() (err error) {
			layers := DefaultManipulationLayers(r.Ablation, AblateSkip)
			r.Manipulation, err = Manipulation(se, layers, ManipulationOptions{Seed: opts.Seed, Bootstrap: opts.Bootstrap,
				Predict: PredictorFor(MethodNeighbors, 0), Progress: progress(len(e.Windows), "manipulation", "window")})
			return err
		}); err != nil {
			return nil, err
		}
	}
	if want("structure") && root {
		if err := timed("structure", func() (err error) {
			r.Structure, err = Structure(e, StructureOptions{Progress: progress(len(e.Windows), "structure", "window")})
			return err
		}); err != nil {
			return nil, err
		}
	}
	if want("lens") && root {
		if err := timed("lens", func() (err error) {
			r.Lens, err = Lens(e, LensOptions{Bootstrap: opts.Bootstrap, Seed: opts.Seed, Progress: progress(len(e.Windows), "lens", "window")})
			return err
		}); err != nil {
			return nil, err
		}
	}
	if want("blocks") && root {
		if err := timed("blocks", func() (err error) {
			r.Blocks, err = Blocks(e, BlocksOptions{Progress: progress(len(e.Windows), "blocks", "window")})
			return err
		}); err != nil {
			return nil, err
		}
	}
	if !want("ablation") {
		r.Ablation = nil // computed only to serve the others
	}
	return r, nil
}

// WriteJSON saves the report as dir/analysis.json (creating dir), the file ReadReport reads
// back; package report renders the tables, plots and report.md beside it.
func (r *Report) WriteJSON(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Empty lists are written as [] (null means an undefined number only): docs/analysis.md.
	raw, err := json.MarshalIndent(jsonx.NonNil(r), "", "  ")
	if err != nil {
		return fmt.Errorf("analysis.json: %w", err)
	}
	return fsutil.WriteFile(filepath.Join(dir, "analysis.json"), append(raw, '\n'))
}

// ReadReport loads an analysis.json.
func ReadReport(path string) (*Report, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}
