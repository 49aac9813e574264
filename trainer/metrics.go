package trainer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/growthtrain/growthtrain/internal/fsutil"
)

// metric is one line of metrics.jsonl.
type metric struct {
	Step         int     `json:"step"`
	Phase        string  `json:"phase"`
	Loss         number  `json:"loss"`
	ValLoss      *number `json:"val_loss,omitempty"`
	LR           number  `json:"lr"`
	GradNorm     number  `json:"grad_norm"`
	TokensPerSec number  `json:"tokens_per_second"`
	FLOPs        number  `json:"flops"` // estimated training FLOPs of the run up to this step
	// Diverged marks the step that stopped the run: its loss or gradient norm (then not
	// applied), or the validation loss after it, was NaN or infinite (docs/failure-model.md).
	Diverged bool `json:"diverged,omitempty"`
	// LossScale is the step's loss scale (float16 training, optim.LossScaler), and Skipped
	// marks a step whose scaled gradients overflowed: nothing was updated and the scale halved
	// (its grad_norm is then null). Both are left out without loss scaling.
	LossScale float64 `json:"loss_scale,omitempty"`
	Skipped   bool    `json:"skipped,omitempty"`
}

// number is a float64 in metrics.jsonl: finite values are written exactly as encoding/json
// writes a float64, NaN and infinities (a diverging run) as null, which reads back as NaN.
type number float64

func (n number) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(n)) || math.IsInf(float64(n), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(n))
}

func (n *number) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = number(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = number(f)
	return nil
}

type metricsLog struct {
	f *os.File
	w *bufio.Writer
}

// openMetrics opens metrics.jsonl for appending after keeping only the lines of steps up to
// `upTo` (a resumed run drops what an interrupted one logged after its last checkpoint).
func openMetrics(path string, upTo int) (*metricsLog, error) {
	var keep bytes.Buffer
	if upTo > 0 {
		if old, err := os.ReadFile(path); err == nil {
			for _, line := range bytes.Split(old, []byte("\n")) {
				var m metric
				if json.Unmarshal(line, &m) == nil && m.Step <= upTo {
					keep.Write(line)
					keep.WriteByte('\n')
				}
			}
		}
	}
	if err := fsutil.WriteFile(path, keep.Bytes()); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return &metricsLog{f: f, w: bufio.NewWriter(f)}, nil
}

// A nil *metricsLog (a data-parallel rank other than 0) writes nothing.
func (l *metricsLog) Write(m metric) error {
	if l == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	l.w.Write(b)
	l.w.WriteByte('\n')
	return l.w.Flush()
}

// Sync makes the lines written so far durable (before a checkpoint that covers them).
func (l *metricsLog) Sync() error {
	if l == nil {
		return nil
	}
	if err := l.w.Flush(); err != nil {
		return err
	}
	return l.f.Sync()
}

func (l *metricsLog) Close() {
	l.w.Flush()
	l.f.Close()
}

// ReadMetrics returns the train losses of metrics.jsonl by step (for tests and tools).
func ReadMetrics(path string) ([]float64, error) {
	ms, err := readMetrics(path)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(ms))
	for i, m := range ms {
		out[i] = float64(m.Loss)
	}
	return out, nil
}

// ReadValLoss returns the steps of metrics.jsonl that logged a validation loss, and those losses.
func ReadValLoss(path string) (steps []int, loss []float64, err error) {
	ms, err := readMetrics(path)
	if err != nil {
		return nil, nil, err
	}
	for _, m := range ms {
		if m.ValLoss != nil {
			steps, loss = append(steps, m.Step), append(loss, float64(*m.ValLoss))
		}
	}
	return steps, loss, nil
}

// readMetrics parses every line of metrics.jsonl.
func readMetrics(path string) ([]metric, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []metric
	for _, line := range bytes.Split(raw, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var m metric
		if err := json.Unmarshal(line, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, m)
	}
	return out, nil
}

func writeJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFile(path, append(b, '\n'))
}
