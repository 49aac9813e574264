package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/model/gguf"
	"github.com/growthtrain/growthtrain/model/safetensors"

	"github.com/growthtrain/growthtrain/internal/fsutil"
)

// LoadOptions says where a loaded model lives.
type LoadOptions struct {
	Device torch.Device // default: the CPU
	DType  torch.DType  // default: float32
}

// Load reads a model from path: an HF model directory (config.json plus model.safetensors or a
// sharded index), a .safetensors file with config.json beside it, or a .gguf file.
func Load(path string, opts LoadOptions) (*Model, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	switch {
	case st.IsDir():
		return LoadHF(path, opts)
	case strings.HasSuffix(strings.ToLower(path), ".gguf"):
		return LoadGGUF(path, opts)
	case strings.HasSuffix(strings.ToLower(path), ".safetensors"):
		cfg, err := LoadConfig(filepath.Join(filepath.Dir(path), "config.json"))
		if err != nil {
			return nil, err
		}
		r, err := safetensors.Open(path)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return fromSafetensors(cfg, r, path, opts)
	}
	return nil, fmt.Errorf("model %s: not a directory, .safetensors or .gguf file", path)
}

// LoadHF reads an HF model directory.
func LoadHF(dir string, opts LoadOptions) (*Model, error) {
	cfg, err := LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	r, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return fromSafetensors(cfg, r, dir, opts)
}

// fromSafetensors checks the weights in r against cfg and builds the model. Any disagreement
// (a missing or unexpected tensor, a shape the config does not imply, a non-float dtype) is an
// error naming the file and the tensor.
func fromSafetensors(cfg Config, r safetensors.Reader, where string, opts LoadOptions) (m *Model, err error) {
	names, shapes := ParamShapes(cfg)
	var unexpected []string
	for _, n := range r.Names() {
		if _, ok := shapes[n]; ok {
			continue
		}
		// Old checkpoints carry RoPE buffers; tied models may still store the head.
		if strings.HasSuffix(n, "rotary_emb.inv_freq") || (n == "lm_head.weight" && cfg.TieWordEmbeddings) {
			continue
		}
		unexpected = append(unexpected, n)
	}
	if len(unexpected) > 0 {
		return nil, fmt.Errorf("%s: tensors that config.json does not account for (%d layers, tied=%v): %s",
			where, cfg.NumHiddenLayers, cfg.TieWordEmbeddings, listSome(unexpected))
	}
	params := map[string]*torch.Tensor{}
	defer closeOnError(&err, params)
	defer torch.Recover(&err)
	for _, n := range names {
		info, ok := r.Info(n)
		if !ok {
			return nil, fmt.Errorf("%s: tensor %s is missing (config.json implies it)", where, n)
		}
		if !slices.Equal(info.Shape, shapes[n]) {
			return nil, fmt.Errorf("%s: tensor %s has shape %v but config.json implies %v", where, n, info.Shape, shapes[n])
		}
		dt, err := TorchDType(info.DType)
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %s: %w", where, n, err)
		}
		raw, err := r.Bytes(n)
		if err != nil {
			return nil, err
		}
		params[n] = place(torch.FromBytes(raw, dt, info.Shape...), opts)
	}
	return assemble(cfg, names, params)
}

// TorchDType maps a safetensors floating-point dtype to the tensor dtype.
func TorchDType(d safetensors.DType) (torch.DType, error) {
	switch d {
	case safetensors.F32:
		return torch.Float32, nil
	case safetensors.F16:
		return torch.Float16, nil
	case safetensors.BF16:
		return torch.BFloat16, nil
	case safetensors.F64:
		return torch.Float64, nil
	}
	return 0, fmt.Errorf("dtype %s is not a floating-point weight type", d)
}

// place moves a freshly loaded CPU tensor to the requested device and dtype (the zero
// LoadOptions mean float32 on the CPU), freeing the original.
func place(t *torch.Tensor, opts LoadOptions) *torch.Tensor {
	out := t.ToDeviceDType(opts.Device, opts.DType).Contiguous()
	t.Close()
	return out
}

// LoadGGUF reads a llama, qwen2 or qwen3 GGUF file, dequantising every tensor and undoing llama.cpp's
// Q/K row permutation (llama only), so the result is the HF model the file was converted from
// (up to quantisation).
func LoadGGUF(path string, opts LoadOptions) (m *Model, err error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	lp, err := f.LlamaParams()
	if err != nil {
		return nil, err
	}
	modelType := map[string]string{"llama": "", "qwen2": "qwen2", "qwen3": "qwen3"}
	mt, ok := modelType[lp.Architecture]
	if !ok {
		return nil, fmt.Errorf("%s: architecture %q is not supported (llama, qwen2 and qwen3 are)", path, lp.Architecture)
	}
	_, hasHead := f.Tensor("output.weight")
	cfg := Config{
		ModelType: mt, VocabSize: lp.VocabSize, HiddenSize: lp.EmbeddingLength, IntermediateSize: lp.FeedForwardLength,
		NumHiddenLayers: lp.BlockCount, NumAttentionHeads: lp.HeadCount, NumKeyValueHeads: lp.HeadCountKV,
		MaxPositionEmbeddings: lp.ContextLength, RMSNormEps: lp.RMSNormEps, RopeTheta: lp.RopeFreqBase,
		TieWordEmbeddings: !hasHead, HiddenAct: "silu",
	}
	if lp.HeadCount > 0 {
		cfg.HeadDim = lp.EmbeddingLength / lp.HeadCount
	}
	if lp.KeyLength > 0 {
		cfg.HeadDim = lp.KeyLength
	}
	if bos, err := f.Metadata.Int("tokenizer.ggml.bos_token_id"); err == nil {
		cfg.BOSTokenID = &bos
	}
	if eos, err := f.Metadata.Int("tokenizer.ggml.eos_token_id"); err == nil {
		cfg.EOSTokenID = &eos
	}
	cfg.FillDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	names, shapes := ParamShapes(cfg)
	byHF := map[string]string{}
	for _, ti := range f.Tensors() {
		hf, ok := gguf.HFName(ti.Name)
		if !ok {
			return nil, fmt.Errorf("%s: tensor %s has no LLaMA counterpart", path, ti.Name)
		}
		if _, ok := shapes[hf]; !ok {
			return nil, fmt.Errorf("%s: tensor %s (%s) does not fit the model its metadata describes", path, ti.Name, hf)
		}
		byHF[hf] = ti.Name
	}
	params := map[string]*torch.Tensor{}
	defer closeOnError(&err, params)
	defer torch.Recover(&err)
	for _, n := range names {
		src, ok := byHF[n]
		if !ok {
			return nil, fmt.Errorf("%s: no tensor for %s", path, n)
		}
		ti, _ := f.Tensor(src)
		if !slices.Equal(ti.Shape, shapes[n]) {
			return nil, fmt.Errorf("%s: tensor %s has shape %v but its metadata implies %v", path, src, ti.Shape, shapes[n])
		}
		w, err := f.Float32(src)
		if err != nil {
			return nil, err
		}
		switch {
		case lp.Architecture != "llama": // only llama's Q/K rows are permuted
		case strings.HasSuffix(n, "self_attn.q_proj.weight"):
			w, err = gguf.UnpermuteQK(w, int(ti.Shape[0]), int(ti.Shape[1]), cfg.NumAttentionHeads)
		case strings.HasSuffix(n, "self_attn.k_proj.weight"):
			w, err = gguf.UnpermuteQK(w, int(ti.Shape[0]), int(ti.Shape[1]), cfg.NumKeyValueHeads)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %s: %w", path, src, err)
		}
		params[n] = place(torch.FromSlice(w, ti.Shape...), opts)
	}
	return assemble(cfg, names, params)
}

// closeOnError frees the tensors loaded so far when loading failed.
func closeOnError(err *error, params map[string]*torch.Tensor) {
	if *err != nil {
		for _, t := range params {
			t.Close()
		}
	}
}

func listSome(names []string) string {
	if len(names) > 5 {
		return strings.Join(names[:5], ", ") + fmt.Sprintf(" and %d more", len(names)-5)
	}
	return strings.Join(names, ", ")
}

// SaveHF writes the model as an HF directory (config.json, generation_config.json and
// model.safetensors) that transformers loads as the architecture's class (LlamaForCausalLM,
// ...), in the model's dtype, readable by all (0755 directory, 0644 files). Each file is
// written atomically. The tokenizer's files are the caller's (tokenizer.SaveDir).
func (m *Model) SaveHF(dir string) (err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	defer torch.Recover(&err)
	var tensors []safetensors.Tensor
	for _, n := range m.names {
		t := m.params[n]
		dt, err := SafetensorsDType(t.DType())
		if err != nil {
			return fmt.Errorf("save model: %s: %w", n, err)
		}
		tensors = append(tensors, safetensors.Tensor{Name: n, DType: dt, Shape: t.Shape(), Data: t.Bytes()})
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), tensors, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	cfg, err := m.Config.JSON()
	if err != nil {
		return err
	}
	if err := fsutil.WriteFile(filepath.Join(dir, "config.json"), cfg); err != nil {
		return err
	}
	gen, err := m.Config.GenerationJSON()
	if err != nil {
		return err
	}
	return fsutil.WriteFile(filepath.Join(dir, "generation_config.json"), gen)
}

// GenerationJSON returns the generation_config.json transformers' generate reads: the BOS and
// EOS ids of c, and as pad id c's own or, without one, the EOS id (what generate falls back to
// anyway, with a warning).
func (c Config) GenerationJSON() ([]byte, error) {
	out := map[string]any{"_from_model_config": true}
	if c.BOSTokenID != nil {
		out["bos_token_id"] = *c.BOSTokenID
	}
	if c.EOSTokenID != nil {
		out["eos_token_id"] = *c.EOSTokenID
	}
	if c.PadTokenID != nil {
		out["pad_token_id"] = *c.PadTokenID
	} else if c.EOSTokenID != nil {
		out["pad_token_id"] = *c.EOSTokenID
	}
	return json.MarshalIndent(out, "", "  ")
}

// SafetensorsDType maps a floating-point tensor dtype to its safetensors name.
func SafetensorsDType(d torch.DType) (safetensors.DType, error) {
	switch d {
	case torch.Float32:
		return safetensors.F32, nil
	case torch.BFloat16:
		return safetensors.BF16, nil
	case torch.Float16:
		return safetensors.F16, nil
	case torch.Float64:
		return safetensors.F64, nil
	}
	return "", errors.New("no safetensors dtype for " + d.String())
}
