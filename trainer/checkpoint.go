package trainer

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/model"
	"github.com/growthtrain/growthtrain/model/safetensors"
	"github.com/growthtrain/growthtrain/optim"

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
	// With float16 loss scaling (optim.LossScaler): its scale, its steps without overflow since
	// the scale last changed, and the steps skipped so far. Absent otherwise.
	LossScale    float64 `json:"loss_scale,omitempty"`
	ScalerGood   int     `json:"loss_scale_good_steps,omitempty"`
	SkippedSteps int     `json:"skipped_steps,omitempty"`
}

func (r *run) checkpointDir() string { return checkpointDir(r.b, r.out) }

// checkpointDir is where a run of b with output directory out keeps its checkpoints.
func checkpointDir(b *Budget, out string) string {
	if b.Checkpoint.Dir != "" {
		return b.Resolve(b.Checkpoint.Dir)
	}
	return filepath.Join(out, "checkpoints")
}

// HasCheckpoint reports whether a run of b with output directory output (Options.Output; empty:
// [run] output) has a complete checkpoint to resume from.
func HasCheckpoint(b *Budget, output string) bool {
	if output == "" {
		output = b.Run.Output
	}
	return len(listCheckpoints(checkpointDir(b, output))) > 0
}

// saveCheckpoint writes the checkpoint of the current step, unless this exact state is already
// on disk (written by this process, or the one it resumed from): --stop-at a multiple of
// [checkpoint] every, Ctrl-C right after a periodic checkpoint and --resume of a finished run
// would otherwise write the same step twice.
func (r *run) saveCheckpoint() (err error) {
	if !r.dist.root() {
		return nil // rank 0 writes the checkpoints of a data-parallel run
	}
	dir := r.checkpointDir()
	keep := r.b.Checkpoint.Keep
	if keep <= 0 {
		keep = 2
	}
	if r.savedStep == r.step {
		// Still prune: a process killed between installing its checkpoint and pruning left
		// one too many.
		if err := pruneCheckpoints(dir, keep); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		return nil
	}
	name := checkpointName(r.step)
	final := filepath.Join(dir, name)
	// Everything metrics.jsonl says up to this step is on disk before the checkpoint that
	// covers it (a resumed run keeps those lines).
	if err := r.metrics.Sync(); err != nil {
		return fmt.Errorf("checkpoint %s: %w", final, err)
	}
	tmp, err := os.MkdirTemp(dir, ".tmp-"+name+"-")
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer os.RemoveAll(tmp) // gone after the rename; cleans up after a failure
	// MkdirTemp makes the directory private; a checkpoint is as readable as any output.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	// model/ is a complete HF directory: config.json (with the tokenizer's BOS/EOS ids),
	// model.safetensors, tokenizer.json, tokenizer_config.json, generation_config.json.
	r.m.Config.BOSTokenID, r.m.Config.EOSTokenID = tokenID(r.tok.BOS()), tokenID(r.tok.EOS())
	if err := r.m.SaveHF(filepath.Join(tmp, "model")); err != nil {
		return fmt.Errorf("checkpoint %s: %w", final, err)
	}
	testHook("checkpoint-model", r.step)
	if err := r.tok.SaveDir(filepath.Join(tmp, "model")); err != nil {
		return fmt.Errorf("checkpoint %s: %w", final, err)
	}
	if err := writeGenerationConfig(filepath.Join(tmp, "model"), r.m.Config.BOSTokenID, r.m.Config.EOSTokenID); err != nil {
		return fmt.Errorf("checkpoint %s: %w", final, err)
	}
	testHook("checkpoint-tokenizer", r.step)
	if err := r.saveOptimizer(filepath.Join(tmp, "optimizer.safetensors")); err != nil {
		return fmt.Errorf("checkpoint %s: %w", final, err)
	}
	testHook("checkpoint-optimizer", r.step)
	sampler, err := r.sampler.State()
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", final, err)
	}
	st := checkpointState{
		Fingerprint: r.fp, Mode: r.mode, Step: r.step, Sampler: sampler,
		LayerSteps: r.layerSteps, PhaseTime: r.phaseTime, PhaseLoss: jsonx.Floats(r.phaseLoss), PhaseVal: jsonx.Floats(r.phaseVal),
		LastLoss: jsonx.Float(r.lastLoss), LastVal: jsonx.Float(r.lastVal), Saved: time.Now().UTC().Format(time.RFC3339),
	}
	if sc := r.stepper.Scaler; sc != nil {
		st.LossScale, st.ScalerGood = sc.State()
		st.SkippedSteps = r.skippedSteps
	}
	if err := writeJSONAtomic(filepath.Join(tmp, "state.json"), st); err != nil {
		return fmt.Errorf("checkpoint %s: %w", final, err)
	}
	testHook("checkpoint-state", r.step)
	for _, d := range []string{filepath.Join(tmp, "model"), tmp} {
		if err := fsutil.SyncDir(d); err != nil {
			return fmt.Errorf("checkpoint %s: %w", final, err)
		}
	}
	testHook("checkpoint-written", r.step)
	if err := installCheckpoint(dir, tmp, name); err != nil {
		return fmt.Errorf("checkpoint %s: %w", final, err)
	}
	r.saved++
	r.savedStep = r.step
	if err := pruneCheckpoints(dir, keep); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	testHook("checkpoint-done", r.step)
	return nil
}

// tokenID turns a tokenizer's (id, known) into config.json's optional id.
func tokenID(id int64, ok bool) *int64 {
	if !ok {
		return nil
	}
	return &id
}

// writeGenerationConfig writes the generation_config.json transformers reads beside config.json:
// the BOS and EOS ids where the tokenizer knows them (growthtrain's tokenizers have no padding
// token, so pad_token_id is never set).
func writeGenerationConfig(dir string, bos, eos *int64) error {
	cfg := map[string]any{"_from_model_config": true}
	if bos != nil {
		cfg["bos_token_id"] = *bos
	}
	if eos != nil {
		cfg["eos_token_id"] = *eos
	}
	return writeJSONAtomic(filepath.Join(dir, "generation_config.json"), cfg)
}

// installCheckpoint moves the complete, synced checkpoint tmp into place as dir/name and points
// "latest" at it. Every instant leaves a complete checkpoint of the newest step that had one:
//
//  1. an existing dir/name (a checkpoint of the same step, e.g. a partial copy) is renamed to
//     .old-<name>: the directory holds no dir/name for a moment, but .old-<name> is complete,
//     and recoverCheckpointDir puts it back if the process dies now;
//  2. tmp is renamed to dir/name (atomic), and the directory synced;
//  3. latest is replaced (atomically) by the new name;
//  4. .old-<name> is deleted (recoverCheckpointDir finishes that if interrupted, since dir/name
//     exists).
//
// A process killed between 2 and 3 leaves latest naming the previous checkpoint: latestCheckpoint
// takes the newest complete one whatever latest says.
func installCheckpoint(dir, tmp, name string) error {
	final := filepath.Join(dir, name)
	old := filepath.Join(dir, ".old-"+name)
	aside := false
	if _, err := os.Lstat(final); err == nil {
		if err := os.RemoveAll(old); err != nil { // a leftover: dir/name is still there
			return err
		}
		if err := os.Rename(final, old); err != nil {
			return err
		}
		if err := fsutil.SyncDir(dir); err != nil {
			return err
		}
		aside = true
		testHook("checkpoint-moved-aside", stepOf(name))
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	if err := fsutil.SyncDir(dir); err != nil {
		return err
	}
	testHook("checkpoint-renamed", stepOf(name))
	if err := fsutil.WriteFile(filepath.Join(dir, "latest"), []byte(name+"\n")); err != nil {
		return err
	}
	testHook("checkpoint-latest", stepOf(name))
	if aside {
		if err := os.RemoveAll(old); err != nil {
			return err
		}
		testHook("checkpoint-old-removed", stepOf(name))
	}
	return nil
}

// checkpointName is the directory name of the checkpoint of a step: step-NNNNNNN, zero-padded
// to 7 digits and longer past 10^7 (the number, not the name, orders checkpoints).
func checkpointName(step int) string { return fmt.Sprintf("step-%07d", step) }

// parseCheckpointName returns the step a checkpoint directory name stands for: "step-" and
// decimal digits only.
func parseCheckpointName(name string) (int, bool) {
	digits, ok := strings.CutPrefix(name, "step-")
	if !ok || digits == "" || len(digits) > 18 {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil
}

// stepOf is parseCheckpointName's step, for hooks and messages.
func stepOf(name string) int {
	n, _ := parseCheckpointName(name)
	return n
}

// pruneCheckpoints keeps the newest keep checkpoints in dir. Each older one is first renamed to
// .del-<name> (atomic), then deleted, so a kill in the middle of a deletion never leaves a
// half-deleted directory that still looks like a checkpoint (recoverCheckpointDir finishes it).
func pruneCheckpoints(dir string, keep int) error {
	all := listCheckpoints(dir)
	for len(all) > keep {
		c := all[0]
		all = all[1:]
		testHook("checkpoint-prune", c.step)
		del := filepath.Join(dir, ".del-"+c.name)
		if err := os.RemoveAll(del); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(dir, c.name), del); err != nil {
			return err
		}
		testHook("checkpoint-pruning", c.step)
		if err := os.RemoveAll(del); err != nil {
			return err
		}
	}
	return fsutil.SyncDir(dir)
}

// ckptEntry is a checkpoint directory in a checkpoint dir.
type ckptEntry struct {
	name string
	step int
}

// listCheckpoints returns the complete checkpoints in dir (directories step-N holding a
// state.json: only complete checkpoints are ever renamed to that name), oldest first by step.
func listCheckpoints(dir string) []ckptEntry {
	ents, _ := os.ReadDir(dir)
	var out []ckptEntry
	for _, e := range ents {
		step, ok := parseCheckpointName(e.Name())
		if !ok || !e.IsDir() {
			continue
		}
		if st, err := os.Stat(filepath.Join(dir, e.Name(), "state.json")); err == nil && st.Mode().IsRegular() {
			out = append(out, ckptEntry{name: e.Name(), step: step})
		}
	}
	slices.SortFunc(out, func(a, b ckptEntry) int { return cmp.Compare(a.step, b.step) })
	return out
}

// latestCheckpoint returns the newest complete checkpoint directory. The file "latest" must
// name a checkpoint directory of dir (step-N, nothing else: not a path); when it names one that
// is missing, or an older one than the newest present (a kill between renaming a checkpoint in
// and updating latest), the newest present wins.
func latestCheckpoint(dir string) (string, error) {
	all := listCheckpoints(dir)
	if raw, err := os.ReadFile(filepath.Join(dir, "latest")); err == nil {
		name := strings.TrimSpace(string(raw))
		if _, ok := parseCheckpointName(name); !ok {
			return "", fmt.Errorf("%s: names %q, want a checkpoint directory of %s (step-<number>)", filepath.Join(dir, "latest"), name, dir)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("checkpoints: %w", err)
	}
	if len(all) == 0 {
		return "", fmt.Errorf("no checkpoint in %s", dir)
	}
	return filepath.Join(dir, all[len(all)-1].name), nil
}

// openCheckpointDir creates the run's checkpoint directory, takes its lock (a run owns its
// checkpoint directory: a second process using it at the same time is refused, so nothing
// below ever deletes a live write), and recovers what a killed process left there.
func (r *run) openCheckpointDir() error {
	dir := r.checkpointDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	lock, err := fsutil.Lock(filepath.Join(dir, ".lock"))
	if err != nil {
		return fmt.Errorf("checkpoint directory %s: %w (one run per checkpoint directory)", dir, err)
	}
	r.lock = lock
	return recoverCheckpointDir(dir, r.log)
}

// recoverCheckpointDir, run by the process holding the directory's lock, removes the
// temporary directories of a killed checkpoint write (.tmp-*) or pruning (.del-*), and resolves
// an interrupted replacement: .old-step-N is put back when step-N is missing, else deleted.
func recoverCheckpointDir(dir string, log io.Writer) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("checkpoints: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		p := filepath.Join(dir, name)
		switch {
		case strings.HasPrefix(name, ".tmp-step-"), strings.HasPrefix(name, ".del-step-"):
			if err := os.RemoveAll(p); err != nil {
				return fmt.Errorf("checkpoints: %w", err)
			}
		case strings.HasPrefix(name, ".old-step-"):
			orig := strings.TrimPrefix(name, ".old-")
			if _, ok := parseCheckpointName(orig); !ok {
				continue
			}
			if _, err := os.Lstat(filepath.Join(dir, orig)); err == nil {
				if err := os.RemoveAll(p); err != nil {
					return fmt.Errorf("checkpoints: %w", err)
				}
				continue
			}
			if err := os.Rename(p, filepath.Join(dir, orig)); err != nil {
				return fmt.Errorf("checkpoints: %w", err)
			}
			fmt.Fprintf(log, "checkpoints: put back %s (its replacement was interrupted)\n", orig)
		}
	}
	return fsutil.SyncDir(dir)
}

func (r *run) resume() (err error) {
	ckpt, err := latestCheckpoint(r.checkpointDir())
	if err != nil {
		return fmt.Errorf("--resume: %w", err)
	}
	statePath := filepath.Join(ckpt, "state.json")
	raw, err := os.ReadFile(statePath)
	if err != nil {
		return fmt.Errorf("--resume: %w", err)
	}
	want := r.stateWant()
	want.dirStep = stepOf(filepath.Base(ckpt))
	st, err := decodeState(raw, want)
	if err != nil {
		return fmt.Errorf("--resume: %s: %w", statePath, err)
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
	r.savedStep = st.Step // this state is on disk: saving it again would only replace it
	copy(r.layerSteps, st.LayerSteps)
	copy(r.phaseTime, st.PhaseTime)
	copy(r.phaseLoss, jsonx.Float64s(st.PhaseLoss))
	copy(r.phaseVal, jsonx.Float64s(st.PhaseVal))
	r.lastLoss, r.lastVal = float64(st.LastLoss), float64(st.LastVal)
	if sc := r.stepper.Scaler; sc != nil && st.LossScale != 0 {
		if err := sc.SetState(st.LossScale, st.ScalerGood); err != nil {
			return fmt.Errorf("--resume: %s: state.json: %w", ckpt, err)
		}
		r.skippedSteps = st.SkippedSteps
	}
	fmt.Fprintf(r.log, "resumed from %s at step %d\n", ckpt, r.step)
	return nil
}

// stateWant is what a run expects of a checkpoint's state.json.
type stateWant struct {
	fingerprint, mode string
	total, phases     int
	dirStep           int // the step the checkpoint directory's name says
	// layerSteps returns, per layer, in how many of the budget's first step steps it trains.
	layerSteps func(step int) []int
}

func (r *run) stateWant() stateWant {
	return stateWant{fingerprint: r.fp, mode: r.mode, total: r.b.TotalSteps(), phases: len(r.b.Phases),
		layerSteps: r.plan.layerSteps}
}

// budgetLayerSteps is the per-layer accounting the budget implies after step steps.
func budgetLayerSteps(b *Budget, layers, step int) []int {
	return newPlanner(b, layers).layerSteps(step)
}

// decodeState parses and checks a state.json: nothing in it is trusted. Errors name the field.
func decodeState(raw []byte, w stateWant) (*checkpointState, error) {
	var st checkpointState
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, err
	}
	if st.Fingerprint != w.fingerprint || st.Mode != w.mode {
		return nil, fmt.Errorf("checkpoint was made by a different budget (%s run, fingerprint %s; this %s run has %s): "+
			"resume with the budget that made it, or use another output directory", st.Mode, st.Fingerprint, w.mode, w.fingerprint)
	}
	if st.Step < 0 || st.Step > w.total {
		return nil, fmt.Errorf("step %d: want 0 to the budget's %d steps", st.Step, w.total)
	}
	if st.Step != w.dirStep {
		return nil, fmt.Errorf("step %d, but the checkpoint directory is %s", st.Step, checkpointName(w.dirStep))
	}
	if want := w.layerSteps(st.Step); !slices.Equal(st.LayerSteps, want) {
		return nil, fmt.Errorf("layer_steps %v: the budget's first %d steps train the layers %v times", clip(st.LayerSteps), st.Step, want)
	}
	for _, f := range []struct {
		key string
		n   int
	}{{"phase_seconds", len(st.PhaseTime)}, {"phase_train_loss", len(st.PhaseLoss)}, {"phase_val_loss", len(st.PhaseVal)}} {
		if f.n != w.phases {
			return nil, fmt.Errorf("%s has %d entries, want one per phase (%d)", f.key, f.n, w.phases)
		}
	}
	for i, v := range st.PhaseTime {
		if !(v >= 0) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("phase_seconds[%d] %v: want a finite number >= 0", i, v)
		}
	}
	if len(st.Sampler) == 0 {
		return nil, errors.New("sampler: missing")
	}
	if st.LossScale != 0 || st.ScalerGood != 0 || st.SkippedSteps != 0 {
		// The count of good steps against the budget's growth interval is SetState's, on resume.
		if !optim.IsLossScale(st.LossScale) {
			return nil, fmt.Errorf("loss scale %v: want a power of two from 2^-14 to float32's largest", st.LossScale)
		}
		if st.ScalerGood < 0 {
			return nil, fmt.Errorf("loss_scale_good_steps %d: want 0 or more", st.ScalerGood)
		}
		if st.SkippedSteps < 0 || st.SkippedSteps > st.Step {
			return nil, fmt.Errorf("skipped_steps %d: want 0 to the %d steps done", st.SkippedSteps, st.Step)
		}
	}
	return &st, nil
}

// clip shortens a long list for a message.
func clip(x []int) []int {
	if len(x) > 16 {
		return x[:16]
	}
	return x
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
