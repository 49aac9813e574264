package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/growthtrain/growthtrain/analysis"
	"github.com/growthtrain/growthtrain/analysis/paper"
	"github.com/growthtrain/growthtrain/analysis/report"
	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/data"
	"github.com/growthtrain/growthtrain/internal/fsutil"
	"github.com/growthtrain/growthtrain/internal/progress"
	"github.com/growthtrain/growthtrain/model"
	"github.com/growthtrain/growthtrain/tokenizer"
	"github.com/growthtrain/growthtrain/trainer"
	"github.com/urfave/cli/v2"
)

func analyzeCommand() *cli.Command {
	return &cli.Command{
		Name:      "analyze",
		Usage:     "layer diagnostics: the paper's five (ablation, predictability, recovery, manipulation, structure), the logit lens and block angular distances",
		UsageText: "growthtrain analyze -m MODEL [--data FILE] [--metrics LIST] [--eval-tokens N] [--format png,svg,pdf] -o DIR [--nproc N]",
		Flags: append(append(append(modelFlags(), dataFlags("evaluation text (default: the paper-sized set of 10 short sentences)")...),
			intIn(&cli.IntFlag{Name: "eval-tokens", Value: 16384, Usage: "with --data: evaluate at most this many tokens (0: all)"}, 0, maxTokens, "0: all"),
			intIn(&cli.IntFlag{Name: "seq-len", Value: 256, Usage: "with --data: tokens per evaluation window"}, 2, maxSeqLen, "capped at the model's context"),
			intIn(&cli.IntFlag{Name: "batch", Usage: "windows per forward pass; 0: auto (8 on the CPU, on a GPU as many as fill half its free memory)", DefaultText: "auto"}, 0, maxBatch, "0: auto"),
			&cli.StringFlag{Name: "metrics", Usage: "comma-separated subset of " + strings.Join(analysis.Metrics, ", ") +
				" (default: all of them, except recovery on the CPU, which runs only when named here or when its estimate fits --recovery-budget)"},
			&cli.DurationFlag{Name: "recovery-budget", Value: 10 * time.Minute, Usage: "on the CPU, without recovery in --metrics: run recovery anyway when its estimated time is within this"},
			&cli.StringFlag{Name: "format", Value: "png", Usage: "figure formats, comma-separated: png, svg, pdf"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of every random choice (bootstrap, noise, permutations)"},
			intIn(&cli.IntFlag{Name: "bootstrap", Value: 1000, Usage: "bootstrap resamples per confidence interval"}, 1, maxBootstrap, ""),
			&cli.StringFlag{Name: "recovery-layers", Value: "auto", Usage: "layers for the recovery runs: auto (all on a GPU, 8 spread across depth on the CPU), all, or a list like 8,11,14"},
			intIn(&cli.IntFlag{Name: "recovery-steps", Usage: "fine-tuning steps allowed for recovery; 0: 200 on a GPU (the paper's ~200), 50 on the CPU", DefaultText: "0"}, 0, maxRecovSteps, "0: the default"),
			&cli.StringFlag{Name: "train-data", Usage: "text for recovery fine-tuning, in the formats of --data (default: the embedded corpus' training split)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "directory for analysis.json, tables, figures and report.md"},
		), distFlags()...),
		Action: analyzeAction,
	}
}

// analyzeParams are analyze's settings (its flags; reproduce fills them too).
type analyzeParams struct {
	Model, Tokenizer, Device, DType string
	Data                            string
	Source                          data.RecordOptions // how to read Data and TrainData
	EvalTokens, SeqLen, Batch       int
	Metrics                         []string // nil: the default set (see defaultMetrics)
	RecoveryBudget                  time.Duration
	Formats                         []string
	Seed                            uint64
	Bootstrap                       int
	RecoveryLayers                  string
	RecoverySteps                   int
	TrainData                       string
	Output                          string
	Group                           *torch.ProcessGroup // a rank of a distributed analysis
}

func analyzeAction(c *cli.Context) error {
	if launching(c) {
		return launch(argv, c.Int("nproc"))
	}
	var metrics []string
	for _, m := range strings.Split(c.String("metrics"), ",") {
		if m = strings.TrimSpace(m); m != "" {
			if !slices.Contains(analysis.Metrics, m) {
				return usageError(c, fmt.Errorf("--metrics: unknown metric %q (want %s)", m, strings.Join(analysis.Metrics, ", ")))
			}
			metrics = append(metrics, m)
		}
	}
	formats, err := figureFormats(c)
	if err != nil {
		return err
	}
	src, err := dataSource(c)
	if err != nil {
		return err
	}
	p := analyzeParams{Model: c.String("model"), Tokenizer: c.String("tokenizer"), Device: c.String("device"),
		DType: c.String("dtype"), Data: c.String("data"), Source: src, EvalTokens: c.Int("eval-tokens"), SeqLen: c.Int("seq-len"),
		Batch: c.Int("batch"), Metrics: metrics, RecoveryBudget: c.Duration("recovery-budget"), Formats: formats,
		Seed: c.Uint64("seed"), Bootstrap: c.Int("bootstrap"),
		RecoveryLayers: c.String("recovery-layers"), RecoverySteps: c.Int("recovery-steps"), TrainData: c.String("train-data"),
		Output: c.String("output")}
	// A rank of a distributed analysis (--nproc, torchrun, SLURM): the per-layer runs are
	// sharded over the ranks, rank 0 writes the outputs.
	if e, ok, err := readRankEnv(); err != nil {
		return err
	} else if ok {
		g, dev, err := joinGroup(e, p.Device, c.Duration("dist-timeout"))
		if err != nil {
			return err
		}
		defer g.Close()
		p.Group = g
		if dev != "" {
			p.Device = dev
		}
	}
	_, err = runAnalyze(p)
	if p.Group != nil && err != nil {
		err = fmt.Errorf("rank %d of %d: %w", p.Group.Rank(), p.Group.Size(), err)
	}
	return err
}

// figureFormats parses --format.
func figureFormats(c *cli.Context) ([]string, error) {
	var out []string
	for _, f := range strings.Split(c.String("format"), ",") {
		if f = strings.ToLower(strings.TrimSpace(f)); f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if err := report.CheckFormats(out); err != nil {
		return nil, usageError(c, fmt.Errorf("--format %q: %w", c.String("format"), err))
	}
	return out, nil
}

// absPath returns p as an absolute path (analysis.json records paths that way), or p itself if
// that fails.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// runAnalyze runs the diagnostics and writes their outputs; it returns the report. Stage
// messages and estimates go to stderr, the files written to stdout.
func runAnalyze(p analyzeParams) (*analysis.Report, error) {
	m, tok, err := loadModelFrom(p.Model, p.Tokenizer, p.Device, p.DType)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	e := &analysis.Evaluator{M: m, Batch: p.Batch}
	info := analysis.DataInfo{}
	if p.Data != "" {
		text, err := data.ReadTextAny(p.Data, p.Source)
		if err != nil {
			return nil, err
		}
		ids, err := tok.TryEncode(text)
		if err != nil {
			return nil, err
		}
		if p.EvalTokens > 0 && p.EvalTokens < len(ids) {
			ids = ids[:p.EvalTokens]
		}
		seq := min(p.SeqLen, m.Config.MaxPositionEmbeddings)
		e.Windows = data.Windows(ids, seq)
		info.Eval, info.SeqLen, info.MaxEvalTokens = absPath(p.Data), seq, p.EvalTokens
	} else {
		for _, s := range analysis.PaperSentences {
			ids, err := tok.TryEncode(s)
			if err != nil {
				return nil, err
			}
			e.Windows = append(e.Windows, ids)
		}
		info.Eval = "paper-10-sentences"
	}
	if len(e.Windows) == 0 {
		return nil, fmt.Errorf("no evaluation windows (the evaluation text is too short)")
	}
	info.Windows = len(e.Windows)
	longest := 0
	for _, w := range e.Windows {
		info.Tokens += len(w) - 1
		longest = max(longest, len(w))
	}
	if e.Batch == 0 {
		var why string
		e.Batch, why = analysis.AutoBatch(m, longest, len(e.Windows))
		fmt.Fprintf(os.Stderr, "batch: %d windows per forward pass (%s; --batch sets it)\n", e.Batch, why)
	}
	info.Batch = e.Batch
	root := p.Group == nil || p.Group.Rank() == 0
	metrics, askedRecovery := p.Metrics, slices.Contains(p.Metrics, "recovery")
	if metrics == nil {
		metrics = slices.Clone(analysis.Metrics)
	}
	opts := analysis.RunOptions{Seed: p.Seed, Bootstrap: p.Bootstrap,
		RecoverySteps: p.RecoverySteps, RecoveryBatch: 4,
		// 64-token fine-tuning windows, shorter for a model whose context is not longer (a
		// window is seq_len+1 tokens).
		RecoverySeqLen: min(64, m.Config.MaxPositionEmbeddings-1), Log: os.Stderr,
		ProgressFactory: func(total int, desc, unit string) func(int, int) {
			bar := progress.NewUnits(total, desc, unit)
			return func(done, _ int) { _ = bar.Set(done) }
		}}
	if p.Group != nil {
		opts.Group = p.Group
		if !root {
			opts.Log, opts.ProgressFactory = io.Discard, nil
		}
	}
	if opts.RecoveryLayers, err = recoveryLayers(p.RecoveryLayers, m); err != nil {
		return nil, err
	}
	if opts.RecoverySteps == 0 { // resolved here too: it sizes the fine-tuning windows below
		opts.RecoverySteps = analysis.DefaultRecoverySteps(m.Device)
	}
	if opts.RecoveryLayers == nil {
		for l := 0; l < m.Config.NumHiddenLayers; l++ {
			opts.RecoveryLayers = append(opts.RecoveryLayers, l)
		}
	}
	var train [][]int64
	if slices.Contains(metrics, "recovery") {
		if train, info.TrainSource, err = recoveryWindows(p.TrainData, p.Source, tok, opts, p.Seed); err != nil {
			return nil, err
		}
		info.TrainWindows = len(train)
	}
	if root {
		fmt.Fprintf(os.Stderr, "analyze %s: %d layers, %d evaluation windows (%d tokens) on %v\n",
			p.Model, m.Config.NumHiddenLayers, info.Windows, info.Tokens, m.Device)
	}
	// Time estimates, from a calibration on this model and machine.
	cal, err := analysis.Calibrate(e, train, opts)
	if err != nil {
		return nil, err
	}
	est := cal.Estimate(metrics, m.Config.NumHiddenLayers, len(e.Windows), opts)
	if p.Group != nil {
		// Every rank must drop recovery or none: rank 0's estimate decides.
		all, err := p.Group.AllGatherFloat64s([]float64{est["recovery"]})
		if err != nil {
			return nil, err
		}
		est["recovery"] = all[0][0]
	}
	if slices.Contains(metrics, "recovery") && !askedRecovery && !m.Device.IsCUDA() {
		if d := time.Duration(est["recovery"] * float64(time.Second)); d > p.RecoveryBudget {
			metrics = slices.DeleteFunc(metrics, func(s string) bool { return s == "recovery" })
			fmt.Fprintf(opts.Log, "recovery skipped: on the CPU it would take about %s (%d layers x %d steps), more than --recovery-budget %s; name it in --metrics to run it anyway\n",
				roundDuration(d), len(opts.RecoveryLayers), opts.RecoverySteps, p.RecoveryBudget)
			train, info.TrainWindows, info.TrainSource = nil, 0, ""
		}
	}
	total := 0.0
	fmt.Fprintln(opts.Log, "estimated time (extrapolated from one calibration batch; an estimate, not a promise):")
	for _, name := range metrics {
		total += est[name]
		fmt.Fprintf(opts.Log, "  %-15s ~%s\n", name, roundDuration(time.Duration(est[name]*float64(time.Second))))
	}
	fmt.Fprintf(opts.Log, "  %-15s ~%s\n", "total", roundDuration(time.Duration(total*float64(time.Second))))
	opts.Metrics = metrics
	rep, err := analysis.Run(e, train, analysis.ModelInfo{Path: absPath(p.Model), Config: m.Config, Params: m.NumParams(),
		Device: m.Device.String(), DType: m.DType.String()}, info, opts)
	if err != nil {
		return nil, err
	}
	if !root {
		return rep, nil
	}
	if err := report.WriteWith(p.Output, rep, report.Options{Formats: p.Formats}); err != nil {
		return nil, err
	}
	fmt.Printf("%s\n", filepath.Join(p.Output, "analysis.json"))
	fmt.Printf("%s\n", filepath.Join(p.Output, "report.md"))
	return rep, nil
}

// roundDuration rounds d for a human: seconds under a minute, else minutes.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d < 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d < time.Minute:
		return d.Round(time.Second)
	}
	return d.Round(time.Minute)
}

// recoveryLayers resolves --recovery-layers. On the CPU, "auto" takes 8 layers spread over the
// depth (the paper's L8, L11, L14 and L17, paper.RecoveryLayers, among them when the model has
// the paper's 30 layers), because each recovery run fine-tunes the whole model's forward and
// backward for up to --recovery-steps.
func recoveryLayers(spec string, m *model.Model) ([]int, error) {
	L := m.Config.NumHiddenLayers
	switch spec {
	case "all":
		return nil, nil
	case "auto", "":
		if m.Device.IsCUDA() || L <= 8 {
			return nil, nil
		}
		set := map[int]bool{0: true, L - 1: true}
		if L == paper.NumLayers {
			for _, l := range paper.RecoveryLayers() {
				set[l] = true
			}
		}
		for i := 0; len(set) < 8; i++ {
			set[(i*L)/8] = true
		}
		var out []int
		for l := 0; l < L; l++ {
			if set[l] {
				out = append(out, l)
			}
		}
		return out, nil
	}
	var out []int
	for _, f := range strings.Split(spec, ",") {
		l, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || l < 0 || l >= L {
			return nil, fmt.Errorf("--recovery-layers %q: want auto, all, or layer numbers in 0-%d", spec, L-1)
		}
		out = append(out, l)
	}
	return out, nil
}

// recoveryWindows draws the fine-tuning windows: seq_len+1 tokens at seeded random offsets of
// the training text.
func recoveryWindows(path string, src data.RecordOptions, tok *tokenizer.Tokenizer, opts analysis.RunOptions, seed uint64) ([][]int64, string, error) {
	var docs []data.Document
	source := path
	if path == "" {
		all, err := data.DefaultCorpus()
		if err != nil {
			return nil, "", err
		}
		if docs, _, err = data.Split(all, 0.05, seed); err != nil {
			return nil, "", err
		}
		source = "embedded corpus (training split)"
	} else {
		var err error
		if src.Format == data.FormatJSONL || src.Format == data.FormatParquet ||
			(src.Format == "" || src.Format == data.FormatAuto) && data.DetectFormat(path) != data.FormatText {
			docs, err = data.ReadDocuments(path, src)
		} else {
			docs, err = data.LoadFiles(path)
		}
		if err != nil {
			return nil, "", err
		}
		source = absPath(path)
	}
	// The same separator as the trainer's: a tokenizer without EOS gets id 0 (trainer.Separator).
	tokens, err := data.Tokenize(docs, tok, trainer.Separator(tok), 0)
	if err != nil {
		return nil, "", err
	}
	s, err := data.NewSampler(tokens, opts.RecoverySeqLen, opts.RecoveryBatch, seed)
	if err != nil {
		return nil, "", fmt.Errorf("recovery text: %w", err)
	}
	var out [][]int64
	for len(out) < opts.RecoverySteps*opts.RecoveryBatch {
		out = append(out, s.Next()...)
	}
	return out, source, nil
}

func budgetCommand() *cli.Command {
	return &cli.Command{
		Name:      "budget",
		Usage:     "derive a training budget (phases, per-layer steps) from analysis.json at a target cost",
		UsageText: "growthtrain budget --from DIR/analysis.json --cost 0.46 [--steps N] [--template base.toml] -o budget.toml",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "from", Required: true, Usage: "analysis.json written by growthtrain analyze"},
			floatIn(&cli.Float64Flag{Name: "cost", Value: 0.46, Usage: "layer-steps as a fraction of uniform training (the paper: ~0.46)"}, 0, 1, true, ""),
			intIn(&cli.IntFlag{Name: "steps", Value: 1000, Usage: "length of the run: the most important layers train every step"}, 1, trainer.MaxSteps, ""),
			intIn(&cli.IntFlag{Name: "phases", Value: 6, Usage: "at most this many phases"}, 1, trainer.MaxLayers, ""),
			&cli.StringFlag{Name: "variant", Value: analysis.AblateNeighbourAverage, Usage: "ablation variant giving importance and anti-layers"},
			&cli.StringFlag{Name: "template", Usage: "budget TOML whose [run]/[model]/[data]/... tables to keep (its phases are replaced)"},
			intIn(&cli.IntFlag{Name: "layers", Usage: "derive for a model of this many layers, mapping the diagnostics by relative depth; 0: the template's num_hidden_layers, else the analysed model's", DefaultText: "0"}, 0, trainer.MaxLayers, "0: as described"),
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "budget file to write"},
		},
		Action: budgetAction,
	}
}

func budgetAction(c *cli.Context) error {
	from := c.String("from")
	rep, err := analysis.ReadReport(from)
	if err != nil {
		return err
	}
	if rep.Ablation == nil {
		return fmt.Errorf("%s has no ablation results (run analyze with the ablation metric)", from)
	}
	v := rep.Ablation.Variant(c.String("variant"))
	if v == nil {
		return fmt.Errorf("%s has no ablation variant %q", from, c.String("variant"))
	}
	L := rep.Model.Config.NumHiddenLayers
	importance := make([]float64, L)
	anti := make([]bool, L)
	for _, la := range v.Layers {
		importance[la.Layer] = float64(la.Change)
		anti[la.Layer] = la.Anti
	}
	var recovery []float64
	if rep.Recovery != nil {
		recovery = make([]float64, L)
		for _, rl := range rep.Recovery.Layers {
			recovery[rl.Layer] = float64(rl.Steps)
		}
	}
	n := c.Int("layers")
	var tb *trainer.Budget // the template, loaded once: its layer count, and its paths below
	if t := c.String("template"); t != "" {
		if tb, err = trainer.LoadBudget(t); err != nil {
			return fmt.Errorf("--template: %w", err)
		}
		if n == 0 {
			n = tb.Model.NumHiddenLayers
		}
	}
	if n > 0 && n != L {
		if importance, anti, recovery, err = analysis.MapDepth(importance, anti, recovery, n); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "mapped the diagnostics of %d layers onto %d by relative depth\n", L, n)
	}
	d, err := analysis.DeriveBudget(importance, anti, recovery, analysis.BudgetOptions{Cost: c.Float64("cost"), Steps: c.Int("steps"), Phases: c.Int("phases")})
	if err != nil {
		return err
	}
	var head string
	if t := c.String("template"); t != "" {
		raw, err := os.ReadFile(t)
		if err != nil {
			return err
		}
		head = string(raw)
		if i := strings.Index(head, "[[phase]]"); i >= 0 {
			head = head[:i]
		}
		head = rebaseTemplatePaths(head, tb, t, c.String("output"))
		// The template's opening comment describes its own phases, not these: replace it with
		// where this budget comes from.
		lines := strings.SplitAfter(head, "\n")
		k := 0
		for k < len(lines) && (strings.HasPrefix(strings.TrimSpace(lines[k]), "#") || strings.TrimSpace(lines[k]) == "") {
			k++
		}
		head = fmt.Sprintf("# Derived by growthtrain budget from %s (%d layers", from, L)
		if n > 0 && n != L {
			head += fmt.Sprintf(", mapped onto %d by relative depth", n)
		}
		head += fmt.Sprintf(") with the model, data and optimizer of %s.\n# Relative paths below are the template's, rewritten to resolve from this file's folder.\n\n", t) + strings.Join(lines[k:], "")
	} else {
		head = defaultBudgetHead(rep, from, max(n, 0))
	}
	src := head + "\n" + d.TOML(true)
	out := c.String("output")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := fsutil.WriteFile(out, []byte(src)); err != nil {
		return err
	}
	fmt.Printf("%s\n", out)
	fmt.Fprintf(os.Stderr, "%d phases, %d steps, cost ratio %.3f (asked %.3f)\n", len(d.Phases), d.TotalSteps, d.CostRatio, c.Float64("cost"))
	for _, p := range d.Phases {
		fmt.Fprintf(os.Stderr, "  %-14s %5d steps  layers %v\n", p.Name, p.Steps, p.Layers)
	}
	return nil
}

// defaultBudgetHead writes [run], [model] and [data] tables for the analysed model's
// architecture (with layers layers when > 0), trained from scratch with its tokenizer on the
// embedded corpus. The tokenizer path is written absolute, so the budget runs wherever it is
// saved: analysis.json's model path is absolute, or (older files) relative to analysis.json's
// folder.
func defaultBudgetHead(rep *analysis.Report, from string, layers int) string {
	c := rep.Model.Config
	if layers > 0 {
		c.NumHiddenLayers = layers
	}
	tok := rep.Model.Path
	if !filepath.IsAbs(tok) {
		tok = filepath.Join(filepath.Dir(from), tok)
	}
	tok = absPath(defaultTokenizerPath(tok)) // as analyze found it: in the directory, beside the file, or the .gguf itself
	return fmt.Sprintf(`# Budget derived from %s by growthtrain budget.
# Architecture of %s, trained from scratch on the embedded corpus.

[run]
name = "derived"
output = "runs/derived"

[model]
num_hidden_layers = %d
hidden_size = %d
intermediate_size = %d
num_attention_heads = %d
num_key_value_heads = %d
max_position_embeddings = %d
rope_theta = %g
rms_norm_eps = %g
tie_word_embeddings = %v

[data]
corpus = ["default"]
tokenizer = %q
seq_len = %d
batch_size = 8
`, from, rep.Model.Path, c.NumHiddenLayers, c.HiddenSize, c.IntermediateSize, c.NumAttentionHeads, c.NumKeyValueHeads,
		c.MaxPositionEmbeddings, c.RopeTheta, c.RMSNormEps, c.TieWordEmbeddings, tok, min(256, c.MaxPositionEmbeddings))
}
