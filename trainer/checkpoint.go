package trainer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/model"
	"github.com/growthtrain/growthtrain/model/safetensors"

	"github.com/growthtrain/growthtrain/internal/fsutil"
	"github.com/growthtrain/growthtrain/internal/jsonx"
)

// A checkpoint is a directory <checkpoint dir>/step-NNNNNNN holding
//
//	model/              the model as an HF directory (config.json, model.safetensors, tokenizer.json)
//	optimizer.safetensors   AdamW moments and step counts, by parameter name
//	state.json          step, budget fingerprint, sampler state, per-layer and per-phase accounting
//
// It is written into a temporary directory beside it, synced, and renamed into place; the file
// "latest" then names it (also replaced atomically). A crash at any moment leaves the previous
// checkpoint untouched and loadable.

// testHook is called at named points of the trainer's work (a no-op in every program; only
// tests replace it), e.g. "checkpoint-written" with the step being checkpointed, once the files
// of that checkpoint exist but before it is renamed into place, and "checkpoint-done" once it
// is in place. The crash-consistency tests use it to kill the process at exactly such a point.
var testHook = func(point string, n int) {}

// checkpointState is state.json.
type checkpointState struct {
	Fingerprint string        `json:"fingerprint"`
	Mode        string        `json:"mode"`
	Step        int           `json:"step"`
	Sampler     []byte        `json:"sampler"`
	LayerSteps  []int         `json:"layer_steps"`
	PhaseTime   []float64     `json:"phase_seconds"`
	PhaseLoss   []jsonx.Float `json:"phase_train_loss"` // null where not measured yet
	PhaseVal    []jsonx.Float `json:"phase_val_loss"`
	LastLoss    jsonx.Float   `json:"last_train_loss"`
	LastVal     jsonx.Float   `json:"last_val_loss"`
	Saved       string        `json:"saved"`
}

func (r *run) checkpointDir() string {
	if r.b.Checkpoint.Dir != "" {
		return r.b.Resolve(r.b.Checkpoint.Dir)
	}
	return filepath.Join(r.out, "checkpoints")
}

func (r *run) saveCheckpoint() (err error) {
	dir := r.checkpointDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	name := checkpointName(r.step)
	final := filepath.Join(dir, name)
	tmp, err := os.MkdirTemp(dir, ".tmp-"+name+"-")
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer os.RemoveAll(tmp) // gone after the rename; cleans up after a failure
	if err := r.m.SaveHF(filepath.Join(tmp, "model")); err != nil {
		return fmt.Errorf("checkpoint %s: %w", final, err)
	}
	if err := r.tok.SaveDir(filepath.Join(tmp, "model")); err != nil {
		return fmt.Errorf("checkpoint %s: %w", final, err)
	}
	if err := r.saveOptimizer(filepath.Join(tmp, "optimizer.safetensors")); err != nil {
		return fmt.Errorf("checkpoint %s: %w", final, err)
	}
	sampler, err := r.sampler.State()
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", final, err)
	}
	st := checkpointState{
		Fingerprint: r.fp, Mode: r.mode, Step: r.step, Sampler: sampler,
		LayerSteps: r.layerSteps, PhaseTime: r.phaseTime, PhaseLoss: jsonx.Floats(r.phaseLoss), PhaseVal: jsonx.Floats(r.phaseVal),
		LastLoss: jsonx.Float(r.lastLoss), LastVal: jsonx.Float(r.lastVal), Saved: time.Now().UTC().Format(time.RFC3339),
	}
	if err := writeJSONAtomic(filepath.Join(tmp, "state.json"), st); err != nil {
		return fmt.Errorf("checkpoint %s: %w", final, err)
	}
	r.saved++
	testHook("checkpoint-written", r.step)
	if err := fsutil.SyncDir(tmp); err != nil {
		return err
	}
	_ = os.RemoveAll(final) // a checkpoint of the same step from an interrupted earlier attempt
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := fsutil.WriteFile(filepath.Join(dir, "latest"), []byte(name+"\n")); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := fsutil.SyncDir(dir); err != nil {
		return err
	}
	keep := r.b.Checkpoint.Keep
	if keep <= 0 {
		keep = 2
	}
	pruneCheckpoints(dir, keep)
	testHook("checkpoint-done", r.step)
	return nil
}

// checkpointName is the directory name of the checkpoint of a step.
func checkpointName(step int) string { return fmt.Sprintf("step-%07d", step) }

// pruneCheckpoints keeps the newest keep checkpoints in dir.
func pruneCheckpoints(dir string, keep int) {
	steps := listCheckpoints(dir)
	for len(steps) > keep {
		os.RemoveAll(filepath.Join(dir, steps[0].name))
		steps = steps[1:]
	}
}

// ckptEntry is a checkpoint directory in a checkpoint dir.
type ckptEntry struct {
	name string
	step int
}

// listCheckpoints returns the complete checkpoints in dir, oldest first.
func listCheckpoints(dir string) []ckptEntry {
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), "step-") {
			if _, err := os.Stat(filepath.Join(dir, e.Name(), "state.json")); err == nil {
				names = append(names, e.Name())
			}
		}
	}
	sort.Strings(names)
	out := make([]ckptEntry, len(names))
	for i, n := range names {
		out[i].name = n
		out[i].step, _ = strconv.Atoi(strings.TrimPrefix(n, "step-"))
	}
	return out
}

// latestCheckpoint returns the newest complete checkpoint directory.
func latestCheckpoint(dir string) (string, error) {
	if raw, err := os.ReadFile(filepath.Join(dir, "latest")); err == nil {
		p := filepath.Join(dir, strings.TrimSpace(string(raw)))
		if _, err := os.Stat(filepath.Join(p, "state.json")); err == nil {
			return p, nil
		}
	}
	all := listCheckpoints(dir)
	if len(all) == 0 {
		return "", fmt.Errorf("no checkpoint in %s", dir)
	}
	return filepath.Join(dir, all[len(all)-1].name), nil
}

func (r *run) resume() (err error) {
	ckpt, err := latestCheckpoint(r.checkpointDir())
	if err != nil {
		return fmt.Errorf("--resume: %w", err)
	}
	raw, err := os.ReadFile(filepath.Join(ckpt, "state.json"))
	if err != nil {
		return fmt.Errorf("--resume: %w", err)
	}
	var st checkpointState
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("--resume: %s/state.json: %w", ckpt, err)
	}
	if fp := r.fp; st.Fingerprint != fp || st.Mode != r.mode {
		return fmt.Errorf("--resume: checkpoint %s was made by a different budget (%s run, fingerprint %s; this %s run has %s): "+
			"resume with the budget that made it, or use another output directory", ckpt, st.Mode, st.Fingerprint, r.mode, fp)
	}
	if len(st.LayerSteps) != len(r.layerSteps) || len(st.PhaseTime) != len(r.phaseTime) {
		return fmt.Errorf("--resume: %s/state.json does not match the budget's layers and phases", ckpt)
	}
	saved, err := model.LoadHF(filepath.Join(ckpt, "model"), model.LoadOptions{})
	if err != nil {
		return fmt.Errorf("--resume: %w", err)
	}
	defer saved.Close()
	for _, n := range r.m.Names() {
		if err := r.m.SetParam(n, saved.Param(n)); err != nil {
			return fmt.Errorf("--resume: %s: %w", ckpt, err)
		}
	}
	if err := r.loadOptimizer(filepath.Join(ckpt, "optimizer.safetensors")); err != nil {
		return fmt.Errorf("--resume: %w", err)
	}
	if err := r.sampler.Restore(st.Sampler); err != nil {
		return fmt.Errorf("--resume: %s: sampler state: %w", ckpt, err)
	}
	r.step = st.Step
	copy(r.layerSteps, st.LayerSteps)
	copy(r.phaseTime, st.PhaseTime)
	copy(r.phaseLoss, jsonx.Float64s(st.PhaseLoss))
	copy(r.phaseVal, jsonx.Float64s(st.PhaseVal))
	r.lastLoss, r.lastVal = float64(st.LastLoss), float64(st.LastVal)
	fmt.Fprintf(r.log, "resumed from %s at step %d\n", ckpt, r.step)
	return nil
}

func (r *run) saveOptimizer(path string) (err error) {
	defer torch.Recover(&err)
	var ts []safetensors.Tensor
	for _, name := range r.opt.Names() {
		m, v, s := r.opt.State(name)
		for _, part := range []struct {
			prefix string
			t      *torch.Tensor
		}{{"exp_avg.", m}, {"exp_avg_sq.", v}, {"step.", s}} {
			dt, err := model.SafetensorsDType(part.t.DType())
			if err != nil {
				return err
			}
			ts = append(ts, safetensors.Tensor{Name: part.prefix + name, DType: dt, Shape: part.t.Shape(), Data: part.t.Bytes()})
		}
	}
	return safetensors.Write(path, ts, map[string]string{"format": "growthtrain-adamw"})
}

func (r *run) loadOptimizer(path string) (err error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	defer torch.Recover(&err)
	for _, n := range f.Names() {
		name, ok := strings.CutPrefix(n, "exp_avg.")
		if !ok {
			continue
		}
		p := r.m.Param(name)
		if p == nil {
			return fmt.Errorf("%s: state for unknown parameter %s", path, name)
		}
		var parts [3]*torch.Tensor
		for i, prefix := range []string{"exp_avg.", "exp_avg_sq.", "step."} {
			info, ok := f.Info(prefix + name)
			if !ok {
				return fmt.Errorf("%s: %s%s missing", path, prefix, name)
			}
			raw, err := f.Bytes(prefix + name)
			if err != nil {
				return err
			}
			dt, err := model.TorchDType(info.DType)
			if err != nil {
				return fmt.Errorf("%s: %s%s: %w", path, prefix, name, err)
			}
			parts[i] = torch.FromBytes(raw, dt, info.Shape...).ToDevice(p.Device())
		}
		if !slices.Equal(parts[0].Shape(), p.Shape()) {
			return fmt.Errorf("%s: state of %s has shape %v, parameter %v", path, name, parts[0].Shape(), p.Shape())
		}
		r.opt.SetState(name, parts[0], parts[1], parts[2])
	}
	return nil
}
