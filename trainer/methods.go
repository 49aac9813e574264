package trainer

import (
	"fmt"
	"slices"
	"strings"
)

// Methods a comparison or sweep can train from one budget file: its [run], [model], [data],
// [optim] and [eval] tables with the phases replaced, all over the budget's total steps (a
// compute level then scales the steps).
var Methods = []string{MethodUniform, MethodBudget, MethodBudgetAbsent, MethodStack, MethodSubnets}

// The methods.
const (
	// MethodUniform trains every layer every step: the baseline.
	MethodUniform = "uniform"
	// MethodBudget is the budget's phases as written (the paper's six phases in the demo).
	MethodBudget = "budget"
	// MethodBudgetAbsent is the budget's phases with layers absent until their first phase
	// ([growth] ungrown = "absent") instead of frozen in place.
	MethodBudgetAbsent = "budget-absent"
	// MethodStack grows depth by stacking (G_stack): the bottom half trains alone for the first
	// quarter of the steps, then the top half appears as copies of it, in order, and every
	// layer trains.
	MethodStack = "stack"
	// MethodSubnets trains progressive random subnetworks (RaPTr): four stages of equal length
	// that train random subsets of a quarter, a half, three quarters and all of the layers
	// each step, the others skipped; embeddings, head and final norm always.
	MethodSubnets = "subnets"
)

// Method returns the budget variant the named method trains, for a model of layers layers.
func (b *Budget) Method(name string, layers int) (*Budget, error) {
	if layers < 1 {
		return nil, fmt.Errorf("method %s: the model's layer count is unknown", name)
	}
	total := b.TotalSteps()
	shared := func(p Phase) Phase {
		p.TrainEmbeddings, p.TrainFinalNorm, p.TrainHead, p.LRScale = true, true, true, 1
		return p
	}
	out := *b
	out.Phases = slices.Clone(b.Phases)
	out.Growth = GrowthConfig{}
	switch name {
	case MethodUniform:
		return b.Uniform(), nil
	case MethodBudget:
		out.Growth = b.Growth
	case MethodBudgetAbsent:
		out.Growth = GrowthConfig{Ungrown: UngrownAbsent}
	case MethodStack:
		if layers < 2 || total < 4 {
			return nil, fmt.Errorf("method %s needs at least 2 layers and 4 steps", name)
		}
		half := layers / 2
		first := max(1, total/4)
		out.Growth = GrowthConfig{Ungrown: UngrownAbsent}
		out.Phases = []Phase{
			shared(Phase{Name: "shallow", RawLayers: fmt.Sprintf("0-%d", half-1), Steps: first}),
			shared(Phase{Name: "stacked", RawLayers: "all", Steps: total - first, Init: fmt.Sprintf("copy:0-%d", half-1)}),
		}
	case MethodSubnets:
		stages := 4
		if total < stages {
			return nil, fmt.Errorf("method %s needs at least %d steps", name, stages)
		}
		out.Phases = nil
		done := 0
		for i := 1; i <= stages; i++ {
			steps := total*i/stages - done
			done += steps
			k := max(1, layers*i/stages)
			p := shared(Phase{Name: fmt.Sprintf("subnets-%d", k), RawLayers: "all", Steps: steps})
			if k < layers {
				p.Sample = k
			}
			out.Phases = append(out.Phases, p)
		}
	default:
		return nil, fmt.Errorf("unknown method %q (want %s)", name, strings.Join(Methods, ", "))
	}
	out.Run.Name = b.Run.Name + "-" + name
	if err := out.SetNumLayers(layers); err != nil {
		return nil, fmt.Errorf("method %s: %w", name, err)
	}
	return &out, nil
}
