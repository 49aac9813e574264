package model

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/model/gguf"
)

// GGUFTypes are the tensor types SaveGGUF writes the weight matrices in, by name.
var GGUFTypes = map[string]gguf.GGMLType{"f32": gguf.TypeF32, "f16": gguf.TypeF16, "bf16": gguf.TypeBF16, "q8_0": gguf.TypeQ8_0}

// ggufFileType is general.file_type (llama_ftype) for a "mostly <type>" file.
var ggufFileType = map[gguf.GGMLType]uint32{gguf.TypeF32: 0, gguf.TypeF16: 1, gguf.TypeQ8_0: 7, gguf.TypeBF16: 32}

// GGUFArch returns the GGUF architecture (llama.cpp's name) SaveGGUF writes c as, or an error
// naming the feature that has no GGUF form here: LLaMA and Mistral without a sliding window
// shorter than the context are "llama" (llama.cpp's own converter does the same for Mistral),
// Qwen2 and Qwen3 without a sliding window are "qwen2" and "qwen3".
func GGUFArch(c Config) (string, error) {
	arch := ""
	switch c.ModelType {
	case "", "mistral":
		if a := c.Arch(); a.BiasQKV || a.BiasO || a.BiasMLP {
			return "", fmt.Errorf("GGUF export: LLaMA with attention_bias or mlp_bias is not implemented")
		}
		arch = "llama"
	case "qwen2":
		arch = "qwen2"
	case "qwen3":
		if c.AttentionBias {
			return "", fmt.Errorf("GGUF export: Qwen3 with attention_bias is not implemented")
		}
		arch = "qwen3"
	default:
		return "", fmt.Errorf("GGUF export of model_type %q is not implemented (llama, mistral, qwen2 and qwen3 are)", c.ModelType)
	}
	if c.RopeScaling != nil {
		return "", fmt.Errorf("GGUF export: rope scaling %q is not implemented", c.RopeScaling.Type)
	}
	if c.HiddenAct != "silu" {
		return "", fmt.Errorf("GGUF export: hidden_act %q is not implemented (silu only)", c.HiddenAct)
	}
	for i := 0; i < c.NumHiddenLayers; i++ {
		if w := c.Window(i); w > 0 && w < c.MaxPositionEmbeddings {
			return "", fmt.Errorf("GGUF export: layer %d has a sliding window of %d (< context %d), which the GGUF architectures written here cannot express", i, w, c.MaxPositionEmbeddings)
		}
	}
	return arch, nil
}

// SaveGGUF writes the model as a GGUF file with llama.cpp's tensor names and layout (Q and K
// rows permuted for "llama", as convert_hf_to_gguf.py does): the 2-D weight matrices in typ,
// falling back to F32 for a matrix whose rows are not a multiple of the block size; norms and
// biases in F32. extra (the tokenizer's metadata, general.name) follows the model's keys.
func (m *Model) SaveGGUF(path string, typ gguf.GGMLType, extra []gguf.KV) (err error) {
	c := m.Config
	arch, err := GGUFArch(c)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	ft, ok := ggufFileType[typ]
	if !ok {
		return fmt.Errorf("%s: GGUF tensor type %s is not one SaveGGUF writes", path, typ)
	}
	kvs := []gguf.KV{
		{Key: "general.architecture", Value: arch},
		{Key: "general.file_type", Value: ft},
		{Key: arch + ".context_length", Value: uint32(c.MaxPositionEmbeddings)},
		{Key: arch + ".embedding_length", Value: uint32(c.HiddenSize)},
		{Key: arch + ".block_count", Value: uint32(c.NumHiddenLayers)},
		{Key: arch + ".feed_forward_length", Value: uint32(c.IntermediateSize)},
		{Key: arch + ".attention.head_count", Value: uint32(c.NumAttentionHeads)},
		{Key: arch + ".attention.head_count_kv", Value: uint32(c.NumKeyValueHeads)},
		{Key: arch + ".rope.freq_base", Value: float32(c.RopeTheta)},
		{Key: arch + ".attention.layer_norm_rms_epsilon", Value: float32(c.RMSNormEps)},
		{Key: arch + ".rope.dimension_count", Value: uint32(c.HeadDim)},
		{Key: arch + ".vocab_size", Value: uint32(c.VocabSize)},
	}
	if c.HeadDim*c.NumAttentionHeads != c.HiddenSize {
		kvs = append(kvs,
			gguf.KV{Key: arch + ".attention.key_length", Value: uint32(c.HeadDim)},
			gguf.KV{Key: arch + ".attention.value_length", Value: uint32(c.HeadDim)})
	}
	kvs = append(kvs, extra...)
	toGGUF := map[string]string{}
	for g, hf := range gguf.LlamaGlobalNames {
		toGGUF[hf] = g
	}
	var tensors []gguf.WriteTensor
	defer torch.Recover(&err)
	for _, n := range m.names {
		g, ok := toGGUF[n]
		if !ok {
			rest, found := strings.CutPrefix(n, "model.layers.")
			num, part, _ := strings.Cut(rest, ".")
			for gp, hp := range gguf.LlamaBlockNames {
				if hp == part {
					g = "blk." + num + "." + gp
				}
			}
			if _, err := strconv.Atoi(num); !found || err != nil || g == "" {
				return fmt.Errorf("%s: parameter %s has no GGUF name", path, n)
			}
		}
		p := m.params[n]
		shape := p.Shape()
		w := p.Detach().To(torch.Float32).Contiguous().Float32s()
		if arch == "llama" && strings.HasSuffix(n, "self_attn.q_proj.weight") {
			w, err = gguf.PermuteQK(w, int(shape[0]), int(shape[1]), c.NumAttentionHeads)
		} else if arch == "llama" && strings.HasSuffix(n, "self_attn.k_proj.weight") {
			w, err = gguf.PermuteQK(w, int(shape[0]), int(shape[1]), c.NumKeyValueHeads)
		}
		if err != nil {
			return fmt.Errorf("%s: %s: %w", path, n, err)
		}
		dims := make([]uint64, len(shape))
		for i, d := range shape {
			dims[len(shape)-1-i] = uint64(d)
		}
		t := gguf.WriteTensor{Name: g, Type: gguf.TypeF32, Dims: dims}
		if len(shape) == 2 && (typ != gguf.TypeQ8_0 || dims[0]%32 == 0) {
			t.Type = typ
		}
		switch t.Type {
		case gguf.TypeF32:
			t.Data = gguf.EncodeF32(w)
		case gguf.TypeF16:
			t.Data = gguf.EncodeF16(w)
		case gguf.TypeBF16:
			t.Data = gguf.EncodeBF16(w)
		case gguf.TypeQ8_0:
			if t.Data, err = gguf.QuantizeQ8_0(w); err != nil {
				return fmt.Errorf("%s: %s: %w", path, n, err)
			}
		}
		tensors = append(tensors, t)
	}
	return gguf.Write(path, kvs, tensors)
}
