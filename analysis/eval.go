// Package analysis computes the paper's layer-anatomy diagnostics on growthtrain's model graph:
// ablation, weight predictability, recovery speed, manipulation robustness and structure. This
// file holds the evaluation engine they share: per-window negative log-likelihoods, with
// modifications evaluated from cached hidden states so the layers below a modified layer run
// once per batch, not once per modification.
package analysis

import (
	"fmt"
	"math"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/model"
)

// Evaluator scores a model on a fixed set of token windows.
type Evaluator struct {
	M       *model.Model
	Windows [][]int64 // each window predicts its tokens 1..len-1 from those before
	Batch   int       // windows per forward pass (0: DefaultBatch)
	// Group, when set, shards Sweep's modifications over its ranks (shard.go); every rank gets
	// every result.
	Group Group
}

// Tokens returns the number of predicted tokens of each window.
func (e *Evaluator) Tokens() []float64 {
	out := make([]float64, len(e.Windows))
	for i, w := range e.Windows {
		out[i] = float64(len(w) - 1)
	}
	return out
}

// Perplexity of per-window NLL sums: exp(total NLL / total tokens).
func Perplexity(nll, tokens []float64) float64 {
	var s, n float64
	for i := range nll {
		s += nll[i]
		n += tokens[i]
	}
	return math.Exp(s / n)
}

// Mod is a change to the model evaluated by Sweep: Apply changes the model (weights or layer
// controls) and returns how to undo it. From is the first layer whose computation it changes:
// everything below is taken from the baseline's cached hidden states.
type Mod struct {
	Name  string
	From  int
	Apply func(m *model.Model) (undo func(), err error)
}

// NLL returns the summed next-token NLL of every window under the model as it is.
func (e *Evaluator) NLL() ([]float64, error) {
	base, _, err := e.Sweep(nil, nil)
	return base, err
}

// Sweep evaluates the baseline and every modification on all windows. It returns per-window
// NLL sums: base[w] and out[mod][w]. progress (optional) is called after each batch.
func (e *Evaluator) Sweep(mods []Mod, progress func(done, total int)) (base []float64, out [][]float64, err error) {
	L := e.M.Config.NumHiddenLayers
	for _, md := range mods {
		if md.From < 0 || md.From > L {
			return nil, nil, fmt.Errorf("modification %q starts at layer %d, outside 0-%d", md.Name, md.From, L)
		}
	}
	base = make([]float64, len(e.Windows))
	out = make([][]float64, len(mods))
	for i := range out {
		out[i] = make([]float64, len(e.Windows))
	}
	err = e.Pass(func(start int, wins [][]int64, b model.Batch, hidden []*torch.Tensor) error {
		// Every result stays on the device until the batch is done: one read per batch instead
		// of one per modification (each read waits for a GPU to finish).
		rows := []*torch.Tensor{windowNLL(e.M, hidden[L], b.Targets)}
		var own []int // the modifications this rank computes
		for mi, md := range mods {
			if !mine(e.Group, mi) {
				continue
			}
			own = append(own, mi)
			undo, err := md.Apply(e.M)
			if err != nil {
				return fmt.Errorf("modification %q: %w", md.Name, err)
			}
			torch.WithScope(func(s2 *torch.Scope) {
				h := hidden[md.From]
				for l := md.From; l < L; l++ {
					h = e.M.Block(l, h)
				}
				rows = append(rows, s2.Keep(windowNLL(e.M, h, b.Targets)))
			})
			undo()
		}
		all := torch.Stack(rows, 0).Float64s() // [1 + mods, windows of the batch]
		n := len(wins)
		copy(base[start:], all[:n])
		for k, mi := range own {
			copy(out[mi][start:], all[(k+1)*n:(k+2)*n])
		}
		return nil
	}, progress)
	if err != nil {
		return nil, nil, err
	}
	if err := gatherRows(e.Group, out, len(e.Windows)); err != nil {
		return nil, nil, err
	}
	return base, out, nil
}

// hiddenStates runs the embeddings and every decoder layer on b: hidden[0] is the input of
// layer 0 (the embeddings), hidden[l+1] layer l's output, before the final norm (the
// TransformerLens resid_pre / resid_post order; HF's hidden_states are the same except that
// their last entry is after the final norm).
func (e *Evaluator) hiddenStates(b model.Batch) []*torch.Tensor {
	L := e.M.Config.NumHiddenLayers
	hidden := make([]*torch.Tensor, L+1)
	h := e.M.Embed(b.Inputs)
	hidden[0] = h
	for l := 0; l < L; l++ {
		h = e.M.Block(l, h)
		hidden[l+1] = h
	}
	return hidden
}

// Pass runs the baseline forward pass over the windows, batch by batch and without gradients,
// and calls f with each batch: the index of its first window, its windows, the packed batch and
// its hidden states (hiddenStates). Everything f creates is freed when it returns, so f should
// read its results once, at its end. progress (optional) is called after each batch.
func (e *Evaluator) Pass(f func(start int, wins [][]int64, b model.Batch, hidden []*torch.Tensor) error, progress func(done, total int)) (err error) {
	defer torch.Recover(&err)
	batch := e.batchSize()
	for start := 0; start < len(e.Windows); start += batch {
		wins := e.Windows[start:min(start+batch, len(e.Windows))]
		var berr error
		torch.WithScope(func(s *torch.Scope) {
			torch.NoGrad(func() {
				b, err := model.Pack(wins, model.Whole, e.M.Device)
				if err != nil {
					berr = err
					return
				}
				berr = f(start, wins, b, e.hiddenStates(b))
			})
		})
		if berr != nil {
			return berr
		}
		if progress != nil {
			progress(min(start+batch, len(e.Windows)), len(e.Windows))
		}
	}
	return nil
}

// windowNLL is the summed next-token NLL of each window (row) from the last layer's output h: a
// [B] float64 tensor on the device.
func windowNLL(m *model.Model, h, targets *torch.Tensor) *torch.Tensor {
	return m.HeadLoss(h, targets, model.LossOptions{Reduction: model.LossPerRow})
}

// LayerWeights is a saved copy of one layer's parameters, for modifications that change
// weights and must put them back.
type LayerWeights map[string]*torch.Tensor

// SaveLayer copies layer l's parameters (by their names within the layer, e.g.
// "mlp.up_proj.weight").
func SaveLayer(m *model.Model, l int) (w LayerWeights, err error) {
	defer torch.Recover(&err)
	w = LayerWeights{}
	p := model.LayerPrefix(l)
	for _, n := range m.LayerParamNames(l) {
		c := m.Param(n).Detach().Clone()
		torch.Persist(c)
		w[n[len(p):]] = c
	}
	return w, nil
}

// RestoreLayer copies saved weights into layer l.
func RestoreLayer(m *model.Model, l int, w LayerWeights) error {
	for suffix, t := range w {
		if err := m.SetParam(model.LayerPrefix(l)+suffix, t); err != nil {
			return err
		}
	}
	return nil
}

// Close frees the saved copies.
func (w LayerWeights) Close() {
	for _, t := range w {
		t.Close()
	}
}

// WeightMod returns a Mod that replaces layer l's weights by those set computes (called with the
// model, returning name-within-layer -> new value) and restores the originals afterwards.
func WeightMod(name string, l int, set func(m *model.Model) (map[string]*torch.Tensor, error)) Mod {
	return Mod{Name: name, From: l, Apply: func(m *model.Model) (func(), error) {
		saved, err := SaveLayer(m, l)
		if err != nil {
			return nil, err
		}
		vals, err := set(m)
		if err != nil {
			saved.Close()
			return nil, err
		}
		for suffix, v := range vals {
			if err := m.SetParam(model.LayerPrefix(l)+suffix, v); err != nil {
				saved.Close()
				return nil, err
			}
		}
		return func() {
			_ = RestoreLayer(m, l, saved)
			saved.Close()
		}, nil
	}}
}

// ControlMod returns a Mod that changes layer l's controls (skip, branch scales) and restores them.
func ControlMod(name string, l int, change func(c *model.LayerControl)) Mod {
	return Mod{Name: name, From: l, Apply: func(m *model.Model) (func(), error) {
		old := m.Layers[l]
		change(&m.Layers[l])
		return func() { m.Layers[l] = old }, nil
	}}
}

// DefaultBatch is the evaluation batch (windows per forward pass) on the CPU, on a GPU whose
// free memory cannot be read, and of an Evaluator whose Batch is 0.
const DefaultBatch = 8

// batchSize is e.Batch, or DefaultBatch when it is not set.
func (e *Evaluator) batchSize() int {
	if e.Batch <= 0 {
		return DefaultBatch
	}
	return e.Batch
}

// MaxAutoBatch caps AutoBatch: past it a GPU is busy already, and a bigger batch only delays
// the first progress report.
const MaxAutoBatch = 256

// WindowBytes estimates the device memory that one evaluation window of t tokens takes at the
// peak of a diagnostics pass: every depth's hidden state (the sweeps start from them), a
// layer's temporaries, four float32 copies of the logits (the logit lens holds the final
// log-probabilities beside a depth's logits and their log-softmax) and two of the attention
// probabilities (structure's entropies).
func WindowBytes(c model.Config, dtype torch.DType, t int) int64 {
	es := int64(dtype.Size())
	T := int64(t)
	perToken := int64(c.NumHiddenLayers+1)*int64(c.HiddenSize)*es +
		16*int64(max(c.HiddenSize, c.IntermediateSize))*es +
		4*int64(c.VocabSize)*4
	return T*perToken + 2*int64(c.NumAttentionHeads)*T*T*4
}

// BatchForMemory is how many windows of perWindow bytes fit in half of free bytes, from 1 to
// MaxAutoBatch and at most windows.
func BatchForMemory(free, perWindow int64, windows int) int {
	b := 1
	if perWindow > 0 && free > 0 {
		b = int(min(free/2/perWindow, MaxAutoBatch))
	}
	return max(1, min(b, windows, MaxAutoBatch))
}

// AutoBatch picks the evaluation batch for windows of at most t tokens on m's device and says
// why: DefaultBatch on the CPU (where a bigger batch is no faster), and on a GPU as many windows
// as fit in half its free memory (WindowBytes each), so one forward pass fills the device.
func AutoBatch(m *model.Model, t, windows int) (batch int, why string) {
	def := max(1, min(DefaultBatch, windows))
	if !m.Device.IsCUDA() {
		return def, fmt.Sprintf("the CPU default, %d", DefaultBatch)
	}
	var free, total int64
	if err := torch.Try(func() { free, total = torch.CUDAMemoryInfo(m.Device) }); err != nil {
		return def, fmt.Sprintf("the default %d: the free memory of %v is unknown (%v)", DefaultBatch, m.Device, err)
	}
	per := WindowBytes(m.Config, m.DType, t)
	return BatchForMemory(free, per, windows), fmt.Sprintf("half of %v's %.1f GB free (of %.1f GB) at about %.2f GB per %d-token window",
		m.Device, float64(free)/1e9, float64(total)/1e9, float64(per)/1e9, t)
}
