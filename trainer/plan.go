package trainer

import (
	"math/rand/v2"
	"slices"

	"github.com/growthtrain/growthtrain/model"
)

// The plan of a budget: for every step, which layers its forward pass runs and which it trains.
// It is a pure function of the budget (and the run seed, for sampled phases), so a resumed run,
// the accounting and the FLOPs estimate all see the same steps without storing them.

// stepPlan is what one step does to the layers.
type stepPlan struct {
	phase   int
	trained []int  // the layers the step trains, sorted
	skipped []bool // per layer: the identity in this step's forward pass (nil: none)
}

// planner answers plan queries for a budget resolved against a model of n layers.
type planner struct {
	b     *Budget
	n     int
	first []int // per layer: its first phase (-1: none)
}

func newPlanner(b *Budget, layers int) *planner {
	return &planner{b: b, n: layers, first: b.firstPhases(layers)}
}

// absent reports whether layer l is absent (the identity) during phase pi: [growth] ungrown is
// "absent" and no phase up to pi trains it.
func (pl *planner) absent(pi, l int) bool {
	return pl.b.Growth.Ungrown == UngrownAbsent && (pl.first[l] < 0 || pl.first[l] > pi)
}

// absentLayers returns the layers absent during phase pi.
func (pl *planner) absentLayers(pi int) []int {
	var out []int
	for l := 0; l < pl.n; l++ {
		if pl.absent(pi, l) {
			out = append(out, l)
		}
	}
	return out
}

// at returns the plan of global step s (0-based) of phase pi.
func (pl *planner) at(pi, s int) stepPlan {
	p := pl.b.Phases[pi]
	sp := stepPlan{phase: pi, trained: p.layers}
	var skip []bool
	mark := func(l int) {
		if skip == nil {
			skip = make([]bool, pl.n)
		}
		skip[l] = true
	}
	for l := 0; l < pl.n; l++ {
		if pl.absent(pi, l) {
			mark(l)
		}
	}
	if p.Sample > 0 && p.Sample < len(p.layers) {
		sp.trained = sampleLayers(p.layers, p.Sample, pl.b.Run.Seed, s)
		for _, l := range p.layers {
			if _, in := slices.BinarySearch(sp.trained, l); !in {
				mark(l)
			}
		}
	}
	sp.skipped = skip
	return sp
}

// sampleLayers draws k of layers for step s, seeded by the run seed and the step alone (so any
// step's subset is known without replaying the ones before it), sorted.
func sampleLayers(layers []int, k int, seed uint64, s int) []int {
	rng := rand.New(rand.NewPCG(seed, 0x5a17ed0000000000^uint64(s)))
	perm := rng.Perm(len(layers))
	out := make([]int, k)
	for i := range out {
		out[i] = layers[perm[i]]
	}
	slices.Sort(out)
	return out
}

// phaseAt returns the phase of global step s and the step within it (the last phase's end for
// s at or past the total).
func (b *Budget) phaseAt(s int) (int, int) {
	for i, p := range b.Phases {
		if s < p.Steps {
			return i, s
		}
		s -= p.Steps
	}
	return len(b.Phases) - 1, b.Phases[len(b.Phases)-1].Steps
}

// layerSteps returns per layer in how many of the first steps steps it is trained.
func (pl *planner) layerSteps(steps int) []int {
	out := make([]int, pl.n)
	s := 0
	for pi, p := range pl.b.Phases {
		n := min(p.Steps, steps-s)
		if n <= 0 {
			break
		}
		if p.Sample > 0 && p.Sample < len(p.layers) {
			for i := 0; i < n; i++ {
				for _, l := range pl.at(pi, s+i).trained {
					out[l]++
				}
			}
		} else {
			for _, l := range p.layers {
				if l < pl.n {
					out[l] += n
				}
			}
		}
		s += n
	}
	return out
}

// phaseFLOPs returns each phase's estimated FLOPs at tokens tokens per step.
func (pl *planner) phaseFLOPs(f flopModel, tokens float64) []float64 {
	out := make([]float64, len(pl.b.Phases))
	s := 0
	for pi, p := range pl.b.Phases {
		if p.Sample > 0 && p.Sample < len(p.layers) {
			for i := 0; i < p.Steps; i++ {
				sp := pl.at(pi, s+i)
				out[pi] += f.stepOf(p, sp.trained, sp.skipped) * tokens
			}
		} else {
			sp := pl.at(pi, s)
			out[pi] = f.stepOf(p, sp.trained, sp.skipped) * tokens * float64(p.Steps)
		}
		s += p.Steps
	}
	return out
}

// FLOPs is the budget's estimated training FLOPs for a model with config c (the cost
// --match flops compares; absent and skipped layers cost nothing).
func (b *Budget) FLOPs(c model.Config) float64 {
	var sum float64
	for _, f := range newPlanner(b, c.NumHiddenLayers).phaseFLOPs(newFlopModel(c, b.Data.SeqLen), float64(b.TokensPerStep())) {
		sum += f
	}
	return sum
}

// TokensPerStep is the number of tokens one optimisation step trains on.
func (b *Budget) TokensPerStep() int { return b.Data.BatchSize * b.Data.SeqLen * b.Data.GradAccum }
