package trainer

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/optim"
)

// Budget is a training run described by a budget.toml file (docs/budget.md documents every key).
type Budget struct {
	Run        RunConfig        `toml:"run"`
	Model      ModelConfig      `toml:"model"`
	Data       DataConfig       `toml:"data"`
	Optim      OptimConfig      `toml:"optim"`
	Eval       EvalConfig       `toml:"eval"`
	Checkpoint CheckpointConfig `toml:"checkpoint"`
	Growth     GrowthConfig     `toml:"growth,omitempty"`
	Phases     []Phase          `toml:"phase"`

	path string // the file it was read from
}

// RunConfig is the [run] table.
type RunConfig struct {
	Name   string `toml:"name"`
	Seed   uint64 `toml:"seed"`
	Device string `toml:"device"`
	DType  string `toml:"dtype"`
	Output string `toml:"output"`
	// RawRecompute is activation_checkpointing: the layers whose intermediates are recomputed
	// in the backward pass instead of kept (model.LossRecomputing): true or "all", false or
	// "none" (the default), or layers as a phase names them ("8-11", [0, "4-6"]). It trades
	// compute for memory and changes no number, so it is not part of the fingerprint.
	RawRecompute any   `toml:"activation_checkpointing,omitempty"`
	recompute    []int // resolved from RawRecompute against the model's layers
}

// RecomputedLayers returns the layers activation_checkpointing names (after Validate with a
// known layer count).
func (rc RunConfig) RecomputedLayers() []int { return slices.Clone(rc.recompute) }

// ModelConfig is the [model] table: the architecture (an HF config.json or inline dimensions)
// and where its weights start from.
type ModelConfig struct {
	Config                string  `toml:"config"` // path of an HF config.json (inline keys override it)
	Init                  string  `toml:"init"`   // "scratch" or a model path (HF dir, .safetensors, .gguf)
	VocabSize             int     `toml:"vocab_size"`
	HiddenSize            int     `toml:"hidden_size"`
	IntermediateSize      int     `toml:"intermediate_size"`
	NumHiddenLayers       int     `toml:"num_hidden_layers"`
	NumAttentionHeads     int     `toml:"num_attention_heads"`
	NumKeyValueHeads      int     `toml:"num_key_value_heads"`
	MaxPositionEmbeddings int     `toml:"max_position_embeddings"`
	RopeTheta             float64 `toml:"rope_theta"`
	RMSNormEps            float64 `toml:"rms_norm_eps"`
	TieWordEmbeddings     *bool   `toml:"tie_word_embeddings"`
}

// DataConfig is the [data] table.
type DataConfig struct {
	Corpus      []string `toml:"corpus"`    // ["default"] (the embedded corpus) or text files/directories
	Tokenizer   string   `toml:"tokenizer"` // "auto", "train:<vocab size>", or a tokenizer.json / .gguf path
	SeqLen      int      `toml:"seq_len"`
	BatchSize   int      `toml:"batch_size"`
	GradAccum   int      `toml:"grad_accum"`
	ValFraction float64  `toml:"val_fraction"`
	CacheDir    string   `toml:"cache_dir"`
	// TrainTokens > 0 keeps only the first that many tokens of the training split: a small-data
	// regime (e.g. 250000 tokens, about 1 MB of English text), trained for many epochs.
	TrainTokens int `toml:"train_tokens,omitempty"`
}

// OptimConfig is the [optim] table: AdamW and the learning-rate schedule.
type OptimConfig struct {
	LR          float64 `toml:"lr"`
	MinLR       float64 `toml:"min_lr"`
	Beta1       float64 `toml:"beta1"`
	Beta2       float64 `toml:"beta2"`
	Eps         float64 `toml:"eps"`
	WeightDecay float64 `toml:"weight_decay"`
	Warmup      int     `toml:"warmup"`
	Schedule    string  `toml:"schedule"`
	GradClip    float64 `toml:"grad_clip"`
	// Dynamic loss scaling, with dtype = "float16" only (optim.LossScaler): the first scale, a
	// power of two (0: 65536), and the steps without overflow after which it doubles (0: 2000).
	LossScale               float64 `toml:"loss_scale,omitempty"`
	LossScaleGrowthInterval int     `toml:"loss_scale_growth_interval,omitempty"`
}

// Scaler returns the loss scaler the [optim] keys describe.
func (o OptimConfig) Scaler() *optim.LossScaler {
	sc := optim.NewLossScaler()
	if o.LossScale != 0 {
		sc.Scale = o.LossScale
	}
	if o.LossScaleGrowthInterval != 0 {
		sc.GrowthInterval = o.LossScaleGrowthInterval
	}
	return sc
}

// EvalConfig is the [eval] table.
type EvalConfig struct {
	Every  int `toml:"every"`  // validation every N steps (0: only at the end of each phase)
	Tokens int `toml:"tokens"` // validation tokens per evaluation (0: the whole validation split)
}

// CheckpointConfig is the [checkpoint] table.
type CheckpointConfig struct {
	Every int    `toml:"every"` // 0: only at the end of the run (and on Ctrl-C)
	Dir   string `toml:"dir"`   // default: <run.output>/checkpoints
	Keep  int    `toml:"keep"`  // how many checkpoints to keep (default 2)
}

// GrowthConfig is the [growth] table: what a layer is before the first phase that trains it.
type GrowthConfig struct {
	// Ungrown is "frozen" (default: the layer sits in the forward pass at its initial weights,
	// frozen, as in the paper's six phases) or "absent" (the layer is the identity, costing no
	// compute, until its first phase grows it with that phase's init; a layer no phase trains
	// stays absent, and is saved with zero output projections so that every saved model computes
	// what the trainer computed).
	Ungrown string `toml:"ungrown,omitempty"`
}

// Ungrown layer modes ([growth] ungrown; "" means UngrownFrozen).
const (
	UngrownFrozen = "frozen"
	UngrownAbsent = "absent"
)

// Phase is one [[phase]] table: a span of steps that trains a subset of the layers.
type Phase struct {
	Name            string   `toml:"name"`
	Layers          []string `toml:"-"` // filled from RawLayers: "all", "8-11", "3"
	RawLayers       any      `toml:"layers"`
	Steps           int      `toml:"steps"`
	LRScale         float64  `toml:"lr_scale"`
	TrainEmbeddings bool     `toml:"train_embeddings"`
	TrainFinalNorm  bool     `toml:"train_final_norm"`
	TrainHead       bool     `toml:"train_head"`
	Init            string   `toml:"init"`
	// Sample > 0 trains, at each step, a random subset of that many of the phase's layers and
	// skips its other layers for that step (progressive subnetworks, RaPTr): seeded by the run
	// seed and the step. 0: every layer of the phase every step.
	Sample int `toml:"sample,omitempty"`

	layers []int // resolved indices, sorted
}

// TrainedLayers returns the phase's layer indices (after Validate).
func (p Phase) TrainedLayers() []int { return slices.Clone(p.layers) }

// LoadBudget reads and validates a budget file. Unknown keys are errors naming the key and line.
func LoadBudget(path string) (*Budget, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("budget: %w", err)
	}
	b, err := ParseBudget(src, path)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// ParseBudget decodes a budget from TOML source; name is used in messages and to resolve
// relative paths.
func ParseBudget(src []byte, name string) (*Budget, error) {
	b := defaultBudget()
	b.path = name
	md, err := toml.Decode(string(src), b)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return nil, fmt.Errorf("%s:%d: %s", name, perr.Position.Line, perr.Message)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// BurntSushi/toml wraps a negative integer around into a uint64 without a word.
	var signed struct {
		Run struct {
			Seed any `toml:"seed"`
		} `toml:"run"`
	}
	if _, err := toml.Decode(string(src), &signed); err == nil {
		if v, ok := signed.Run.Seed.(int64); ok && v < 0 {
			return nil, fmt.Errorf("%s:%d: [run] seed %d: want a whole number >= 0", name, keyLine(src, toml.Key{"run", "seed"}), v)
		}
	}
	// BurntSushi/toml matches keys to fields case-insensitively, so "[[Phase]]" beside
	// "[[phase]]" would fill the same phases, the one decoded last winning (map order: the same
	// file could parse one way and then another). TOML keys are case-sensitive and every budget
	// key is lowercase: a key that is not is refused.
	for _, k := range md.Keys() {
		for _, part := range k {
			if part != strings.ToLower(part) {
				return nil, fmt.Errorf("%s:%d: key %q: budget keys are lowercase (TOML keys are case-sensitive)", name, keyLine(src, k), k.String())
			}
		}
	}
	if und := md.Undecoded(); len(und) > 0 {
		var msgs []string
		for _, k := range und {
			msgs = append(msgs, fmt.Sprintf("%s:%d: unknown key %q", name, keyLine(src, k), k.String()))
		}
		return nil, errors.New(strings.Join(msgs, "\n"))
	}
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return b, nil
}

func defaultBudget() *Budget {
	return &Budget{
		Run:        RunConfig{Name: "run", Seed: 1, Device: "cpu", DType: "float32", Output: "runs/run"},
		Model:      ModelConfig{Init: "scratch"},
		Data:       DataConfig{Corpus: []string{"default"}, Tokenizer: "auto", SeqLen: 128, BatchSize: 8, GradAccum: 1, ValFraction: 0.05, CacheDir: ".cache/tokens"},
		Optim:      OptimConfig{LR: 1e-3, MinLR: 1e-4, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1, Schedule: "cosine", GradClip: 1.0},
		Eval:       EvalConfig{Every: 0, Tokens: 32768},
		Checkpoint: CheckpointConfig{Keep: 2},
	}
}

var rangeRe = regexp.MustCompile(`^\s*(\d+)\s*-\s*(\d+)\s*$`)

// Bounds that keep a budget from making the trainer allocate or loop without limit before it
// has done any work: layer counts (phases are resolved per layer) and steps (their sum must
// not overflow).
const (
	MaxLayers = 4096
	MaxSteps  = 1 << 40
)

// finite reports whether x is neither NaN nor infinite.
func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// Validate checks the budget and resolves each phase's layers. Errors name the key or phase.
func (b *Budget) Validate() error {
	if _, err := torch.ParseDevice(b.Run.Device); err != nil {
		return fmt.Errorf("[run] device: %w", err)
	}
	dt, err := torch.ParseDType(b.Run.DType)
	if err != nil || !dt.IsFloating() {
		return fmt.Errorf("[run] dtype %q: want float32, bfloat16 or float16 (or float64)", b.Run.DType)
	}
	if b.Run.Output == "" {
		return errors.New("[run] output must name a directory")
	}
	mc := b.Model
	for _, f := range []struct {
		key string
		v   int
	}{{"vocab_size", mc.VocabSize}, {"hidden_size", mc.HiddenSize}, {"intermediate_size", mc.IntermediateSize},
		{"num_hidden_layers", mc.NumHiddenLayers}, {"num_attention_heads", mc.NumAttentionHeads},
		{"num_key_value_heads", mc.NumKeyValueHeads}, {"max_position_embeddings", mc.MaxPositionEmbeddings}} {
		if f.v < 0 {
			return fmt.Errorf("[model] %s %d: want a positive number (or leave it out)", f.key, f.v)
		}
	}
	if mc.NumHiddenLayers > MaxLayers {
		return fmt.Errorf("[model] num_hidden_layers %d: at most %d", mc.NumHiddenLayers, MaxLayers)
	}
	for _, f := range []struct {
		key string
		v   float64
	}{{"rope_theta", mc.RopeTheta}, {"rms_norm_eps", mc.RMSNormEps}} {
		if f.v != 0 && !(f.v > 0 && finite(f.v)) {
			return fmt.Errorf("[model] %s %g: want a finite number > 0 (or leave it out)", f.key, f.v)
		}
	}
	d := b.Data
	switch {
	case len(d.Corpus) == 0:
		return errors.New(`[data] corpus is empty (use ["default"] for the embedded corpus)`)
	case d.SeqLen < 2:
		return fmt.Errorf("[data] seq_len %d: want at least 2", d.SeqLen)
	case d.BatchSize < 1:
		return fmt.Errorf("[data] batch_size %d: want at least 1", d.BatchSize)
	case d.GradAccum < 1:
		return fmt.Errorf("[data] grad_accum %d: want at least 1", d.GradAccum)
	case !(d.ValFraction > 0 && d.ValFraction < 1):
		return fmt.Errorf("[data] val_fraction %g: want a fraction in (0, 1)", d.ValFraction)
	case d.TrainTokens < 0 || (d.TrainTokens > 0 && d.TrainTokens < d.SeqLen+1):
		return fmt.Errorf("[data] train_tokens %d: want 0 (all) or at least seq_len + 1 = %d", d.TrainTokens, d.SeqLen+1)
	}
	if err := checkTokenizerSpec(d.Tokenizer); err != nil {
		return fmt.Errorf("[data] tokenizer: %w", err)
	}
	o := b.Optim
	for _, f := range []struct {
		key  string
		v    float64
		ok   bool
		want string
	}{
		{"lr", o.LR, o.LR > 0, "> 0"},
		{"min_lr", o.MinLR, o.MinLR >= 0 && o.MinLR <= o.LR, "in [0, lr]"},
		{"beta1", o.Beta1, o.Beta1 >= 0 && o.Beta1 < 1, "in [0, 1)"},
		{"beta2", o.Beta2, o.Beta2 >= 0 && o.Beta2 < 1, "in [0, 1)"},
		{"eps", o.Eps, o.Eps > 0, "> 0"},
		{"weight_decay", o.WeightDecay, o.WeightDecay >= 0, ">= 0"},
		{"grad_clip", o.GradClip, o.GradClip >= 0, ">= 0 (0: no clipping)"},
	} {
		if !f.ok || !finite(f.v) {
			return fmt.Errorf("[optim] %s %g: want a finite number %s", f.key, f.v, f.want)
		}
	}
	if o.LossScale != 0 || o.LossScaleGrowthInterval != 0 {
		if dt != torch.Float16 {
			return fmt.Errorf("[optim] loss_scale and loss_scale_growth_interval apply to dtype \"float16\" only (this budget's is %q)", b.Run.DType)
		}
		if o.LossScale != 0 && (!optim.IsLossScale(o.LossScale) || o.LossScale > 1<<24) {
			return fmt.Errorf("[optim] loss_scale %g: want a power of two from 2^-14 to 2^24 (0: 65536)", o.LossScale)
		}
		if o.LossScaleGrowthInterval < 0 {
			return fmt.Errorf("[optim] loss_scale_growth_interval %d: want a positive number of steps (0: 2000)", o.LossScaleGrowthInterval)
		}
	}
	switch o.Schedule {
	case "cosine", "linear", "constant":
	default:
		return fmt.Errorf("[optim] schedule %q: want cosine, linear or constant", o.Schedule)
	}
	if b.Eval.Every < 0 || b.Eval.Tokens < 0 || b.Checkpoint.Every < 0 || b.Checkpoint.Keep < 0 {
		return errors.New("[eval] every/tokens and [checkpoint] every/keep must not be negative")
	}
	if len(b.Phases) == 0 {
		return errors.New("no [[phase]] tables: a budget needs at least one phase")
	}
	switch b.Growth.Ungrown { // "" is the default, frozen (left empty: it keeps fingerprints)
	case "", UngrownFrozen, UngrownAbsent:
	default:
		return fmt.Errorf("[growth] ungrown %q: want %q or %q", b.Growth.Ungrown, UngrownFrozen, UngrownAbsent)
	}
	layers := b.Model.NumHiddenLayers
	if layers <= 0 && b.Model.Config == "" && b.Model.Init == "scratch" {
		return errors.New("[model] num_hidden_layers must be positive (or give config/init)")
	}
	names := map[string]bool{}
	total := 0
	for i := range b.Phases {
		p := &b.Phases[i]
		label := fmt.Sprintf("phase %d", i+1)
		if p.Name != "" {
			label = fmt.Sprintf("phase %d (%q)", i+1, p.Name)
		}
		if p.Name == "" {
			p.Name = fmt.Sprintf("phase%d", i+1)
		}
		if names[p.Name] {
			return fmt.Errorf("%s: the name is used by an earlier phase", label)
		}
		names[p.Name] = true
		if p.Steps <= 0 {
			return fmt.Errorf("%s: steps = %d, want a positive number", label, p.Steps)
		}
		if p.Steps > MaxSteps-total {
			return fmt.Errorf("%s: steps = %d: the phases' steps add up to more than %d", label, p.Steps, MaxSteps)
		}
		total += p.Steps
		if p.LRScale == 0 {
			p.LRScale = 1
		}
		if !(p.LRScale > 0 && finite(p.LRScale)) {
			return fmt.Errorf("%s: lr_scale %g: want a finite number > 0", label, p.LRScale)
		}
		specs, err := layerSpecs(p.RawLayers)
		if err != nil {
			return fmt.Errorf("%s: layers: %w", label, err)
		}
		p.Layers = specs
		if layers > 0 {
			if p.layers, err = ResolveLayers(specs, layers); err != nil {
				return fmt.Errorf("%s: %w", label, err)
			}
			if len(p.layers) == 0 && !p.TrainEmbeddings && !p.TrainFinalNorm && !p.TrainHead {
				return fmt.Errorf("%s: trains nothing (no layers, no embeddings, norm or head)", label)
			}
		}
		if err := checkInit(p.Init, layers); err != nil {
			return fmt.Errorf("%s: init: %w", label, err)
		}
		if p.Sample < 0 || (layers > 0 && p.Sample > len(p.layers)) {
			return fmt.Errorf("%s: sample %d: want 0 (all) to its %d layers", label, p.Sample, len(p.layers))
		}
	}
	if layers > 0 && b.Growth.Ungrown == UngrownAbsent {
		// A layer can only be copied from once it exists.
		first := b.firstPhases(layers)
		for i, p := range b.Phases {
			seq, _ := ParseInits(p.Init)
			for _, is := range seq {
				if is.Kind != "copy" {
					continue
				}
				for src := is.Layer; src <= is.LayerEnd; src++ {
					if first[src] < 0 || first[src] >= i {
						return fmt.Errorf("phase %d (%q): init copy of layer %d, which is absent then ([growth] ungrown = \"absent\" and no earlier phase trains it)", i+1, p.Name, src)
					}
				}
			}
		}
	}
	specs, err := recomputeSpecs(b.Run.RawRecompute)
	if err != nil {
		return fmt.Errorf("[run] activation_checkpointing: %w", err)
	}
	b.Run.recompute = nil
	if layers > 0 {
		if b.Run.recompute, err = ResolveLayers(specs, layers); err != nil {
			return fmt.Errorf("[run] activation_checkpointing: %w", err)
		}
	}
	if o.Warmup < 0 || o.Warmup > total {
		return fmt.Errorf("[optim] warmup %d: want 0 to the run's %d steps", o.Warmup, total)
	}
	return nil
}

// SetNumLayers resolves the phases against a model of n layers (when the layer count comes from
// a config.json or checkpoint rather than the budget).
func (b *Budget) SetNumLayers(n int) error {
	b.Model.NumHiddenLayers = n
	return b.Validate()
}

func layerSpecs(raw any) ([]string, error) {
	switch v := raw.(type) {
	case nil:
		return nil, errors.New(`missing: give "all", a range like "8-11", or a list like [0, "4-6"]`)
	case string:
		return []string{v}, nil
	case int64:
		return []string{strconv.FormatInt(v, 10)}, nil
	case []any:
		var out []string
		for _, e := range v {
			switch x := e.(type) {
			case string:
				out = append(out, x)
			case int64:
				out = append(out, strconv.FormatInt(x, 10))
			default:
				return nil, fmt.Errorf("element %v: want a layer number or a range string", e)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%v: want \"all\", a range string, or a list", raw)
}

// SetActivationCheckpointing replaces [run] activation_checkpointing with spec as a command
// line gives it: "all", "none", or layers separated by commas ("0-3,8"); then validates.
func (b *Budget) SetActivationCheckpointing(spec string) error {
	var raw []any
	for _, f := range strings.Split(spec, ",") {
		if f = strings.TrimSpace(f); f != "" {
			raw = append(raw, f)
		}
	}
	if len(raw) == 0 {
		return fmt.Errorf("%q: want all, none, or layers such as 0-3,8", spec)
	}
	specs, err := recomputeSpecs(raw)
	if err != nil {
		return err
	}
	if n := b.Model.NumHiddenLayers; n > 0 { // else checked once the model's layers are known
		if _, err := ResolveLayers(specs, n); err != nil {
			return err
		}
	}
	b.Run.RawRecompute = raw
	return b.Validate()
}

// recomputeSpecs reads activation_checkpointing: a bool, or layer specs as a phase's layers.
func recomputeSpecs(raw any) ([]string, error) {
	switch v := raw.(type) {
	case nil:
		return nil, nil
	case bool:
		if v {
			return []string{"all"}, nil
		}
		return nil, nil
	}
	specs, err := layerSpecs(raw)
	if err != nil {
		return nil, fmt.Errorf(`%w (or true, false)`, err)
	}
	return specs, nil
}

// ResolveLayers turns layer specs ("all", "8-11", "3") into sorted unique indices in [0, n).
func ResolveLayers(specs []string, n int) ([]int, error) {
	set := map[int]bool{}
	for _, s := range specs {
		s = strings.TrimSpace(s)
		switch {
		case s == "all":
			for i := 0; i < n; i++ {
				set[i] = true
			}
		case s == "none" || s == "":
		case rangeRe.MatchString(s):
			m := rangeRe.FindStringSubmatch(s)
			lo, _ := strconv.Atoi(m[1])
			hi, _ := strconv.Atoi(m[2])
			if lo > hi || hi >= n {
				return nil, fmt.Errorf("layer range %q is outside 0-%d", s, n-1)
			}
			for i := lo; i <= hi; i++ {
				set[i] = true
			}
		default:
			i, err := strconv.Atoi(s)
			if err != nil {
				return nil, fmt.Errorf("layer %q: want a number, a range like 8-11, or all", s)
			}
			if i < 0 || i >= n {
				return nil, fmt.Errorf("layer %d is outside 0-%d", i, n-1)
			}
			set[i] = true
		}
	}
	out := make([]int, 0, len(set))
	for i := range set {
		out = append(out, i)
	}
	slices.Sort(out)
	return out, nil
}

func checkTokenizerSpec(s string) error {
	if s == "auto" || s == "" {
		return nil
	}
	if rest, ok := strings.CutPrefix(s, "train:"); ok {
		n, err := strconv.Atoi(rest)
		if err != nil || n < 260 {
			return fmt.Errorf("%q: want train:<vocab size>, at least 260", s)
		}
	}
	return nil
}

// InitStrategy is a parsed phase init: what happens to the phase's layers when it starts.
type InitStrategy struct {
	Kind     string  // keep, random, copy, neighbour-average, scale
	Layer    int     // for copy: the first source layer
	LayerEnd int     // for copy: the last source layer (= Layer for one)
	Alpha    float64 // for scale
}

// ParseInit parses keep, random, copy:<layer>, copy:<first>-<last>, neighbour-average (or
// neighbor-average) and scale:<alpha>. copy:<layer> gives every layer of the phase a copy of
// that layer; copy:<first>-<last> gives the phase's layers, in order, copies of that block of
// layers, repeated as needed (stacking, as G_stack grows depth: layers 4-7 from "copy:0-3").
func ParseInit(s string) (InitStrategy, error) {
	switch s {
	case "", "keep":
		return InitStrategy{Kind: "keep"}, nil
	case "random":
		return InitStrategy{Kind: "random"}, nil
	case "neighbour-average", "neighbor-average":
		return InitStrategy{Kind: "neighbour-average"}, nil
	}
	if rest, ok := strings.CutPrefix(s, "copy:"); ok {
		if m := rangeRe.FindStringSubmatch(rest); m != nil {
			lo, _ := strconv.Atoi(m[1])
			hi, err := strconv.Atoi(m[2])
			if err != nil || lo > hi || hi >= MaxLayers {
				return InitStrategy{}, fmt.Errorf("%q: want copy:<first>-<last> with first <= last", s)
			}
			return InitStrategy{Kind: "copy", Layer: lo, LayerEnd: hi}, nil
		}
		n, err := strconv.Atoi(rest)
		if err != nil || n < 0 || n >= MaxLayers {
			return InitStrategy{}, fmt.Errorf("%q: want copy:<layer number> or copy:<first>-<last>", s)
		}
		return InitStrategy{Kind: "copy", Layer: n, LayerEnd: n}, nil
	}
	if rest, ok := strings.CutPrefix(s, "scale:"); ok {
		a, err := strconv.ParseFloat(rest, 64)
		if err != nil || !(a > 0 && finite(a)) {
			return InitStrategy{}, fmt.Errorf("%q: want scale:<finite factor > 0>", s)
		}
		return InitStrategy{Kind: "scale", Alpha: a}, nil
	}
	return InitStrategy{}, fmt.Errorf("%q: want keep, random, copy:<layer>, copy:<first>-<last>, neighbour-average or scale:<alpha>", s)
}

// ParseInits parses a comma-separated sequence of strategies, applied in order (e.g.
// "neighbour-average,scale:0.9", the paper's connective phase).
func ParseInits(s string) ([]InitStrategy, error) {
	var out []InitStrategy
	for _, part := range strings.Split(s, ",") {
		is, err := ParseInit(strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		if is.Kind != "keep" {
			out = append(out, is)
		}
	}
	return out, nil
}

func checkInit(s string, layers int) error {
	seq, err := ParseInits(s)
	if err != nil {
		return err
	}
	for _, is := range seq {
		if is.Kind == "copy" && layers > 0 && is.LayerEnd >= layers {
			return fmt.Errorf("copy:%d: layer outside 0-%d", is.LayerEnd, layers-1)
		}
	}
	return nil
}

// firstPhases returns, per layer, the index of the first phase that trains it (-1: none).
func (b *Budget) firstPhases(layers int) []int {
	first := make([]int, layers)
	for i := range first {
		first[i] = -1
	}
	for i, p := range b.Phases {
		for _, l := range p.layers {
			if l < layers && first[l] < 0 {
				first[l] = i
			}
		}
	}
	return first
}

// Resolve makes a path in the budget relative to the budget file's directory.
func (b *Budget) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || b.path == "" {
		return p
	}
	return filepath.Join(filepath.Dir(b.path), p)
}

// TotalSteps is the sum of the phases' steps.
func (b *Budget) TotalSteps() int {
	n := 0
	for _, p := range b.Phases {
		n += p.Steps
	}
	return n
}

// Uniform returns the baseline of b: the same model, data and optimizer, one phase training
// everything for the same total number of steps.
func (b *Budget) Uniform() *Budget {
	u := *b
	u.Phases = []Phase{{
		Name: "uniform", Layers: []string{"all"}, RawLayers: "all", Steps: b.TotalSteps(), LRScale: 1,
		TrainEmbeddings: true, TrainFinalNorm: true, TrainHead: true, Init: "keep",
	}}
	u.Growth = GrowthConfig{}
	_ = u.Validate()
	return &u
}

// Fingerprint is a hash of everything that determines the training trajectory, so a resumed
// run can refuse a checkpoint made under a different budget.
func (b *Budget) Fingerprint() string {
	var buf bytes.Buffer
	c := *b
	c.Checkpoint = CheckpointConfig{} // where and how often checkpoints go does not change training
	c.Run.Output = ""
	c.Run.RawRecompute = nil // recomputation changes memory and time, not the trajectory
	if err := toml.NewEncoder(&buf).Encode(c); err != nil {
		return ""
	}
	sum := sha256.Sum256(buf.Bytes())
	return hex.EncodeToString(sum[:12])
}

// keyLine finds the line where key k (a dotted TOML key path, array tables counted) is set,
// for error messages; 0 when not found. BurntSushi/toml reports undecoded keys without
// positions, so this follows table headers in the source.
func keyLine(src []byte, k toml.Key) int {
	if len(k) == 0 {
		return 0
	}
	want := k[len(k)-1]
	table := strings.Join(k[:len(k)-1], ".")
	sc := bufio.NewScanner(bytes.NewReader(src))
	current, line := "", 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(s, "[") {
			current = strings.Trim(s, "[] \t")
			if i := strings.IndexByte(current, '#'); i >= 0 {
				current = strings.TrimSpace(strings.Trim(current[:i], "[] \t"))
			}
			if current == table || table == "" && current == want {
				if table == "" {
					return line
				}
			}
			continue
		}
		if current != table {
			continue
		}
		if name, _, ok := strings.Cut(s, "="); ok && strings.Trim(strings.TrimSpace(name), `"'`) == want {
			return line
		}
	}
	return 0
}
