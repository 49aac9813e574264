package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/model"
	"github.com/growthtrain/growthtrain/optim"
)

// The metrics that choose which layers to prune.
const (
	// PruneSkip: the perplexity change when the whole block is skipped (the skip ablation).
	PruneSkip = "skip"
	// PruneNeighbourAverage: the change when the layer's weights are replaced by the average of
	// its neighbours' (the neighbour-average ablation).
	PruneNeighbourAverage = "neighbour-average"
	// PruneBlockInfluence: ShortGPT's Block Influence, 1 - mean cosine similarity between a
	// layer's input and output hidden states over every evaluation token.
	PruneBlockInfluence = "block-influence"
	// PruneAngular: the n-layer angular distance of Gromov et al., arccos(cos(h_l, h_{l+n}))/π
	// averaged over every evaluation token (the paper uses the last token only); the k
	// contiguous layers starting where it is smallest are dropped together.
	PruneAngular = "angular"
)

// PruneMetrics lists the metrics PruneChoice accepts.
var PruneMetrics = []string{PruneSkip, PruneNeighbourAverage, PruneBlockInfluence, PruneAngular}

// PruneChoice is the layers a metric picks for removal.
type PruneChoice struct {
	Metric string
	Drop   []int     // ascending
	Scores []float64 // per layer (angular: per starting layer of a k-block); smaller = less important
}

// ChoosePrune scores the layers of e.M on e's windows by metric and returns the k least
// important: the k smallest scores (ties to the lower layer), or for angular the k-layer block
// with the smallest distance. Scores of the ablations are single-layer changes; removing several
// layers is not additive, which is why the result reports perplexity after the removal too.
func ChoosePrune(e *Evaluator, metric string, k int) (*PruneChoice, error) {
	L := e.M.Config.NumHiddenLayers
	if k < 1 || k >= L {
		return nil, fmt.Errorf("prune: k = %d, want 1 <= k < %d layers", k, L)
	}
	pc := &PruneChoice{Metric: metric}
	switch metric {
	case PruneSkip, PruneNeighbourAverage:
		variant := AblateSkip
		if metric == PruneNeighbourAverage {
			variant = AblateNeighbourAverage
		}
		a, err := Ablation(e, AblationOptions{Variants: []string{variant}, Bootstrap: 1})
		if err != nil {
			return nil, err
		}
		pc.Scores = a.Importance(variant)
	case PruneBlockInfluence, PruneAngular:
		n := 1
		if metric == PruneAngular {
			n = k
		}
		s, err := hiddenDistances(e, n, metric == PruneAngular)
		if err != nil {
			return nil, err
		}
		pc.Scores = s
	default:
		return nil, fmt.Errorf("prune: unknown metric %q (one of %v)", metric, PruneMetrics)
	}
	order := make([]int, len(pc.Scores))
	for i := range order {
		order[i] = i
	}
	key := func(x float64) float64 { // a non-finite score (the model broke) is most important
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return math.Inf(1)
		}
		return x
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch x, y := key(pc.Scores[a]), key(pc.Scores[b]); {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	if metric == PruneAngular {
		for l := order[0]; l < order[0]+k; l++ {
			pc.Drop = append(pc.Drop, l)
		}
	} else {
		pc.Drop = slices.Clone(order[:k])
		slices.Sort(pc.Drop)
	}
	return pc, nil
}

// hiddenDistances returns, for each l in [0, L-n], the mean over every predicted-or-not token of
// all windows of 1 - cos(h_l, h_{l+n}) (angular false) or arccos(cos(h_l, h_{l+n}))/π (true),
// where h_l is the input of layer l.
func hiddenDistances(e *Evaluator, n int, angular bool) (out []float64, err error) {
	m := e.M
	L := m.Config.NumHiddenLayers
	sums := make([]float64, L-n+1)
	var count float64
	defer torch.Recover(&err)
	for _, w := range e.Windows {
		if len(w) == 0 {
			continue
		}
		torch.WithScope(func(s *torch.Scope) {
			torch.NoGrad(func() {
				res, ferr := m.Forward(torch.FromSlice(w, 1, int64(len(w))).ToDevice(m.Device), model.ForwardOptions{CaptureHidden: true})
				if ferr != nil {
					err = ferr
					return
				}
				for l := range sums {
					a, b := res.Hidden[l].To(torch.Float64), res.Hidden[l+n].To(torch.Float64)
					cos := a.Mul(b).Sum(false, -1).Div(a.Square().Sum(false, -1).Sqrt().Mul(b.Square().Sum(false, -1).Sqrt())).Clamp(-1, 1)
					for _, c := range cos.Float64s() {
						if angular {
							sums[l] += math.Acos(c) / math.Pi
						} else {
							sums[l] += 1 - c
						}
					}
				}
			})
		})
		if err != nil {
			return nil, err
		}
		count += float64(len(w))
	}
	if count == 0 {
		return nil, fmt.Errorf("prune: no evaluation tokens")
	}
	for l := range sums {
		sums[l] /= count
	}
	return sums, nil
}

// HealOptions configures Heal.
type HealOptions struct {
	Steps, BatchSize int
	LR               float64 // AdamW learning rate (default 1e-4)
	GradClip         float64 // default 1
	Seed             uint64
}

// Heal fine-tunes every parameter of m for opts.Steps AdamW steps on batches of the train
// windows (shuffled by Seed, cycled), as a pruned model is healed before use; it returns the
// training loss of each step.
func Heal(m *model.Model, train [][]int64, opts HealOptions) ([]float64, error) {
	if opts.Steps < 1 {
		return nil, nil
	}
	if len(train) == 0 {
		return nil, fmt.Errorf("heal: no training windows")
	}
	if opts.BatchSize < 1 {
		opts.BatchSize = 4
	}
	if opts.LR == 0 {
		opts.LR = 1e-4
	}
	if opts.GradClip == 0 {
		opts.GradClip = 1
	}
	names := m.Names()
	if err := m.SetTrainable(true, names...); err != nil {
		return nil, err
	}
	opt := optim.NewAdamW(torch.AdamWConfig{LR: opts.LR, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8})
	defer opt.Close()
	params := optim.Params(names, m.Param)
	stepper := optim.Step{Optimizer: opt, GradClip: opts.GradClip, CheckFinite: true}
	order := rand.New(rand.NewPCG(opts.Seed, 0x4ea1)).Perm(len(train))
	next := 0
	var losses []float64
	for step := 1; step <= opts.Steps; step++ {
		batch := make([][]int64, 0, opts.BatchSize)
		for len(batch) < opts.BatchSize {
			if next == len(order) {
				next = 0
			}
			batch = append(batch, train[order[next]])
			next++
		}
		res, err := wholeBatchStep(&stepper, m, params, opts.LR, batch)
		if err != nil {
			return losses, fmt.Errorf("heal step %d: %w", step, err)
		}
		l, _, err := res.Read()
		res.Close()
		if err != nil {
			return losses, err
		}
		losses = append(losses, l)
	}
	if err := optim.ZeroGrad(params); err != nil {
		return losses, err
	}
	return losses, nil
}
