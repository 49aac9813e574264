package optim

import (
	"fmt"
	"slices"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// AdamW is the decoupled-weight-decay Adam optimizer over named parameters. Its state (two
// moments and a step count per parameter) is allocated the first time a parameter receives an
// update, so a parameter frozen for the whole run never costs optimizer memory, and the state
// of a parameter persists across phases that train it at different times.
type AdamW struct {
	Config torch.AdamWConfig
	state  map[string]*adamState
}

type adamState struct {
	expAvg, expAvgSq, step *torch.Tensor
}

// NewAdamW returns an optimizer with the given hyper-parameters.
func NewAdamW(cfg torch.AdamWConfig) *AdamW {
	return &AdamW{Config: cfg, state: map[string]*adamState{}}
}

// Param is a named trainable tensor.
type Param struct {
	Name    string
	Tensor  *torch.Tensor
	NoDecay bool // in the no-decay group: exempt from weight decay (norms, biases)
}

// NewParam returns the named tensor as a parameter in its default group: matrices (two or more
// dimensions) are decayed, vectors (norm gains, biases) are not, as in GPT-2/nanoGPT practice.
func NewParam(name string, t *torch.Tensor) Param {
	return Param{Name: name, Tensor: t, NoDecay: t.Dim() < 2}
}

// Params returns NewParam for each name, looking the tensors up with lookup.
func Params(names []string, lookup func(name string) *torch.Tensor) []Param {
	out := make([]Param, len(names))
	for i, n := range names {
		out[i] = NewParam(n, lookup(n))
	}
	return out
}

// Tensors returns the tensors of params, in order.
func Tensors(params []Param) []*torch.Tensor {
	out := make([]*torch.Tensor, len(params))
	for i, p := range params {
		out[i] = p.Tensor
	}
	return out
}

// Update applies one AdamW update at learning rate lr to every parameter in params that has a
// gradient, with one fused kernel call per parameter group (decayed, not decayed). Parameters
// without a gradient are left alone and get no state.
func (o *AdamW) Update(params []Param, lr float64) (err error) {
	defer torch.Recover(&err)
	var decay, noDecay []Param
	for _, p := range params {
		if p.NoDecay {
			noDecay = append(noDecay, p)
		} else {
			decay = append(decay, p)
		}
	}
	cfg := o.Config
	cfg.LR = lr
	o.update(decay, cfg)
	cfg.WeightDecay = 0
	o.update(noDecay, cfg)
	return nil
}

func (o *AdamW) update(params []Param, cfg torch.AdamWConfig) {
	var ps, m, v, s []*torch.Tensor
	for _, p := range params {
		g := p.Tensor.Grad()
		if g == nil {
			continue
		}
		g.Close()
		st := o.state[p.Name]
		if st == nil {
			st = &adamState{
				expAvg:   p.Tensor.ZerosLike(),
				expAvgSq: p.Tensor.ZerosLike(),
				step:     torch.Zeros(nil, torch.WithDevice(p.Tensor.Device())),
			}
			torch.Persist(st.expAvg, st.expAvgSq, st.step) // state outlives the caller's step scope
			o.state[p.Name] = st
		}
		ps, m, v, s = append(ps, p.Tensor), append(m, st.expAvg), append(v, st.expAvgSq), append(s, st.step)
	}
	torch.AdamWStep(ps, m, v, s, cfg)
}

// Names returns the parameters that hold state, sorted.
func (o *AdamW) Names() []string {
	out := make([]string, 0, len(o.state))
	for n := range o.state {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// State returns the named parameter's moments and step count (nil when it has none).
func (o *AdamW) State(name string) (expAvg, expAvgSq, step *torch.Tensor) {
	st := o.state[name]
	if st == nil {
		return nil, nil, nil
	}
	return st.expAvg, st.expAvgSq, st.step
}

// SetState installs restored state for a parameter, taking ownership of the tensors.
func (o *AdamW) SetState(name string, expAvg, expAvgSq, step *torch.Tensor) {
	if old := o.state[name]; old != nil {
		torch.Close(old.expAvg, old.expAvgSq, old.step)
	}
	torch.Persist(expAvg, expAvgSq, step)
	o.state[name] = &adamState{expAvg: expAvg, expAvgSq: expAvgSq, step: step}
}

// StateSize returns how many parameters hold optimizer state.
func (o *AdamW) StateSize() int { return len(o.state) }

// HasState reports whether the named parameter has optimizer state.
func (o *AdamW) HasState(name string) bool { return o.state[name] != nil }

// StepCount returns the number of updates the named parameter has received.
func (o *AdamW) StepCount(name string) (int, error) {
	st := o.state[name]
	if st == nil {
		return 0, nil
	}
	var n float64
	if err := torch.Try(func() { n = st.step.Item() }); err != nil {
		return 0, fmt.Errorf("adamw state of %s: %w", name, err)
	}
	return int(n), nil
}

// Close frees the optimizer state.
func (o *AdamW) Close() {
	for _, st := range o.state {
		torch.Close(st.expAvg, st.expAvgSq, st.step)
	}
	o.state = map[string]*adamState{}
}
