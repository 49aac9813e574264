package trainer

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/optim"
)

// Data-parallel training (docs/distributed.md). Every rank runs the same loop on the same model;
// what differs is which rows of each global batch it computes, and that only rank 0 writes
// anything. The budget's batch_size is the global batch: every rank draws the same batch from
// the same sampler (drawing is index arithmetic, not data movement) and computes its own
// contiguous share of the rows, so a run gives the same model whatever its world size, and
// --resume may change the world size. Gradients of the trainable parameters are averaged over
// the ranks in the step's reduction hook; since every rank's share has the same number of
// tokens, that average is the gradient of the global batch's mean loss.

// dist is a run's view of its process group; the zero value (no group) is one process.
type dist struct {
	g *torch.ProcessGroup
	// stepBytes is the all-reduce payload of the latest step's gradients, stepTime how long
	// that all-reduce took (it waits for the slowest rank's backward pass as well).
	stepBytes int64
	stepTime  time.Duration
}

func (d *dist) on() bool { return d.g != nil }

func (d *dist) rank() int {
	if d.g == nil {
		return 0
	}
	return d.g.Rank()
}

func (d *dist) size() int {
	if d.g == nil {
		return 1
	}
	return d.g.Size()
}

// root reports whether this rank writes the run's files (checkpoints, metrics, summary) and logs.
func (d *dist) root() bool { return d.rank() == 0 }

// check refuses a budget whose global batch does not split evenly over the ranks.
func (d *dist) check(b *Budget) error {
	if n := d.size(); b.Data.BatchSize%n != 0 {
		return fmt.Errorf("[data] batch_size %d is the global batch and must be a multiple of the world size %d", b.Data.BatchSize, n)
	}
	return nil
}

// shard returns this rank's rows of a global batch.
func (d *dist) shard(batch [][]int64) [][]int64 {
	n := len(batch) / d.size()
	return batch[d.rank()*n : (d.rank()+1)*n]
}

// barrier waits for every rank; what says what the ranks were waiting for, for the error.
func (d *dist) barrier(what string) error {
	if d.g == nil {
		return nil
	}
	if err := d.g.Barrier(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// broadcast makes the named parameters rank 0's on every rank.
func (d *dist) broadcast(lookup func(string) *torch.Tensor, names []string, what string) error {
	if d.g == nil || len(names) == 0 {
		return nil
	}
	ts := make([]*torch.Tensor, len(names))
	for i, n := range names {
		ts[i] = lookup(n)
	}
	if _, err := d.g.Broadcast(ts, 0); err != nil {
		return fmt.Errorf("broadcasting %s from rank 0: %w", what, err)
	}
	return nil
}

// reduceGrads is the optimisation step's reduction hook: it averages the gradients of the
// parameters the step trains, and only those, bucketed as DDP does, and records the payload. A
// parameter without a gradient (a layer a sampled phase skips this step) is left out, not sent
// as zeros: AdamW leaves such a parameter alone, and a zero gradient would move it (its moments
// decay). Which parameters have gradients is the same on every rank (the step's plan is).
func (d *dist) reduceGrads(params []optim.Param) (err error) {
	defer torch.Recover(&err)
	var ts []*torch.Tensor
	for _, p := range params {
		if g := p.Tensor.Grad(); g != nil {
			g.Close()
			ts = append(ts, p.Tensor)
		}
	}
	t := time.Now()
	n, err := d.g.AllReduceGrads(ts, torch.Average)
	if err != nil {
		return err
	}
	d.stepBytes, d.stepTime = n, time.Since(t)
	return nil
}

// sums returns the element-wise sums of values over the ranks, added in rank order so that every
// rank gets the same bits.
func (d *dist) sums(values ...float64) ([]float64, error) {
	if d.g == nil {
		return values, nil
	}
	all, err := d.g.AllGatherFloat64s(values)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(values))
	for _, vs := range all {
		for i, v := range vs {
			out[i] += v
		}
	}
	return out, nil
}

// fromRoot returns rank 0's value of x on every rank.
func (d *dist) fromRoot(x float64) (float64, error) {
	if d.g == nil {
		return x, nil
	}
	all, err := d.g.AllGatherFloat64s([]float64{x})
	if err != nil {
		return 0, d.failed(err)
	}
	return all[0][0], nil
}

// anyOf reports whether flag is true on any rank (a stop every rank must agree on, or it would
// wait for the others in different collectives).
func (d *dist) anyOf(flag bool) (bool, error) {
	v := 0.0
	if flag {
		v = 1
	}
	s, err := d.sums(v)
	if err != nil {
		return false, err
	}
	return s[0] > 0, nil
}

// failed names the rank in the error that ends a data-parallel run: the launcher prints every
// rank's.
func (d *dist) failed(err error) error {
	if d.g == nil || errors.Is(err, ErrStopped) || errors.Is(err, ErrInterrupted) {
		return err // the outcome of every rank alike, not a failure
	}
	if errors.Is(err, torch.ErrDistributed) {
		return fmt.Errorf("rank %d of %d: %w (another rank failed, was killed or is unreachable: see its output)", d.rank(), d.size(), err)
	}
	return fmt.Errorf("rank %d of %d: %w", d.rank(), d.size(), err)
}

// agree checks that every rank runs the same budget with the same tokenizer (their
// fingerprints, a hex digest, agree in their first 48 bits, which travel exactly as a float64).
func (d *dist) agree(fingerprint string) error {
	if d.g == nil {
		return nil
	}
	v, err := strconv.ParseUint(fingerprint[:12], 16, 64)
	if err != nil {
		return fmt.Errorf("fingerprint %q: %w", fingerprint, err)
	}
	all, err := d.g.AllGatherFloat64s([]float64{float64(v)})
	if err != nil {
		return fmt.Errorf("comparing the ranks' budgets: %w", err)
	}
	for k, x := range all {
		if x[0] != float64(v) {
			return fmt.Errorf("rank %d runs another budget or tokenizer than rank %d (fingerprints differ): every rank needs the same budget, data and options", k, d.rank())
		}
	}
	return nil
}

// stopRequested says whether the run stops before its next step: --stop-at reached, or the
// context cancelled (Ctrl-C) on any rank, so that all ranks stop at the same step. interrupted
// tells a cancellation from a planned stop.
func (r *run) stopRequested() (stop, interrupted bool, err error) {
	interrupted = r.opts.Context.Err() != nil
	if interrupted, err = r.dist.anyOf(interrupted); err != nil {
		return false, false, fmt.Errorf("before step %d: %w", r.step+1, err)
	}
	return interrupted || (r.opts.StopAt > 0 && r.step >= r.opts.StopAt), interrupted, nil
}

// layerParamNames lists the parameters of the given layers.
func (r *run) layerParamNames(layers []int) []string {
	var names []string
	for _, l := range layers {
		names = append(names, r.m.LayerParamNames(l)...)
	}
	return names
}
