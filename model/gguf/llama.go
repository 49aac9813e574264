package gguf

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// LlamaGlobalNames maps GGUF tensor names outside the blocks to Hugging Face LLaMA names.
// output.weight is absent from models with tied embeddings (SmolLM2): use token_embd.weight.
var LlamaGlobalNames = map[string]string{
	"token_embd.weight":  "model.embed_tokens.weight",
	"output_norm.weight": "model.norm.weight",
	"output.weight":      "lm_head.weight",
}

// LlamaBlockNames maps the per-block part of GGUF names (blk.N.<key>) to the Hugging Face part
// (model.layers.N.<value>).
var LlamaBlockNames = map[string]string{
	"attn_q.weight":      "self_attn.q_proj.weight",
	"attn_k.weight":      "self_attn.k_proj.weight",
	"attn_v.weight":      "self_attn.v_proj.weight",
	"attn_output.weight": "self_attn.o_proj.weight",
	"ffn_gate.weight":    "mlp.gate_proj.weight",
	"ffn_up.weight":      "mlp.up_proj.weight",
	"ffn_down.weight":    "mlp.down_proj.weight",
	"attn_norm.weight":   "input_layernorm.weight",
	"ffn_norm.weight":    "post_attention_layernorm.weight",
	// Qwen3's q/k norms.
	"attn_q_norm.weight": "self_attn.q_norm.weight",
	"attn_k_norm.weight": "self_attn.k_norm.weight",
	// Biases (qwen2's q/k/v).
	"attn_q.bias": "self_attn.q_proj.bias",
	"attn_k.bias": "self_attn.k_proj.bias",
	"attn_v.bias": "self_attn.v_proj.bias",
}

// HFName returns the Hugging Face LLaMA name of a GGUF llama tensor name, e.g.
// blk.3.attn_q.weight -> model.layers.3.self_attn.q_proj.weight.
func HFName(name string) (string, bool) {
	if hf, ok := LlamaGlobalNames[name]; ok {
		return hf, true
	}
	rest, ok := strings.CutPrefix(name, "blk.")
	if !ok {
		return "", false
	}
	num, part, ok := strings.Cut(rest, ".")
	if !ok {
		return "", false
	}
	if n, err := strconv.Atoi(num); err != nil || n < 0 || strconv.Itoa(n) != num {
		return "", false
	}
	hf, ok := LlamaBlockNames[part]
	if !ok {
		return "", false
	}
	return "model.layers." + num + "." + hf, true
}

// LlamaParams are the LLaMA hyper-parameters stored in GGUF metadata.
type LlamaParams struct {
	Architecture      string // general.architecture, the key prefix (e.g. "llama")
	BlockCount        int    // <arch>.block_count (num_hidden_layers)
	EmbeddingLength   int    // <arch>.embedding_length (hidden_size)
	FeedForwardLength int    // <arch>.feed_forward_length (intermediate_size)
	HeadCount         int    // <arch>.attention.head_count
	HeadCountKV       int    // <arch>.attention.head_count_kv (defaults to HeadCount)
	ContextLength     int    // <arch>.context_length (max_position_embeddings)
	VocabSize         int    // len(tokenizer.ggml.tokens), else <arch>.vocab_size
	// RopeFreqBase is <arch>.rope.freq_base (default 10000). RMSNormEps is
	// <arch>.attention.layer_norm_rms_epsilon. Both are stored as float32 in GGUF and widened
	// exactly here, so 1e-5 reads as 9.999999747378752e-06.
	RopeFreqBase float64
	RMSNormEps   float64
	// RopeDimensionCount is <arch>.rope.dimension_count (0 when absent).
	RopeDimensionCount int
	// KeyLength is <arch>.attention.key_length, the head dimension when it is not
	// embedding_length / head_count (0 when absent).
	KeyLength int
}

// LlamaParams reads the LLaMA hyper-parameters from the metadata and checks the block count
// against the tensors the file holds (every block is made of tensors), so that nothing sized by
// the count (layer lists, parameter names) can be larger than the file.
func (f *File) LlamaParams() (LlamaParams, error) {
	p, err := LlamaParamsFrom(f.Metadata)
	if err != nil {
		return p, err
	}
	if p.BlockCount > len(f.tensors) {
		return p, fmt.Errorf("%s: metadata key %q is %d but the file holds only %d tensors", f.Path,
			p.Architecture+".block_count", p.BlockCount, len(f.tensors))
	}
	return p, nil
}

// LlamaParamsFrom reads the LLaMA hyper-parameters from md. Required keys: general.architecture,
// block_count, embedding_length, feed_forward_length, attention.head_count, context_length,
// attention.layer_norm_rms_epsilon, and a vocabulary size.
func LlamaParamsFrom(md *Metadata) (LlamaParams, error) {
	var p LlamaParams
	arch, err := md.String("general.architecture")
	if err != nil {
		return p, err
	}
	p.Architecture = arch
	pos := func(key string, dst *int, required bool) error {
		if _, ok := md.Value(key); !ok && !required {
			return nil
		}
		v, err := md.Uint(key)
		if err != nil {
			return err
		}
		if v == 0 || v > 1<<31 {
			return fmt.Errorf("%s: metadata key %q has implausible value %d", md.file, key, v)
		}
		*dst = int(v)
		return nil
	}
	for _, k := range []struct {
		key string
		dst *int
		req bool
	}{
		{".block_count", &p.BlockCount, true},
		{".embedding_length", &p.EmbeddingLength, true},
		{".feed_forward_length", &p.FeedForwardLength, true},
		{".attention.head_count", &p.HeadCount, true},
		{".attention.head_count_kv", &p.HeadCountKV, false},
		{".context_length", &p.ContextLength, true},
		{".rope.dimension_count", &p.RopeDimensionCount, false},
		{".attention.key_length", &p.KeyLength, false},
	} {
		if err := pos(arch+k.key, k.dst, k.req); err != nil {
			return p, err
		}
	}
	if p.HeadCountKV == 0 {
		p.HeadCountKV = p.HeadCount
	}
	if p.HeadCount%p.HeadCountKV != 0 {
		return p, fmt.Errorf("%s: head_count %d is not a multiple of head_count_kv %d", md.file, p.HeadCount, p.HeadCountKV)
	}
	p.RopeFreqBase = 10000
	if _, ok := md.Value(arch + ".rope.freq_base"); ok {
		if p.RopeFreqBase, err = md.Float(arch + ".rope.freq_base"); err != nil {
			return p, err
		}
	}
	if p.RMSNormEps, err = md.Float(arch + ".attention.layer_norm_rms_epsilon"); err != nil {
		return p, err
	}
	// NaN, infinities, zero and negatives would pass silently into the model's numerics (or be
	// replaced by a default further on): refuse them here, naming the key.
	for _, v := range []struct {
		key string
		x   float64
	}{{".rope.freq_base", p.RopeFreqBase}, {".attention.layer_norm_rms_epsilon", p.RMSNormEps}} {
		if !(v.x > 0) || math.IsInf(v.x, 0) {
			return p, fmt.Errorf("%s: metadata key %q is %g, want a positive finite number", md.file, arch+v.key, v.x)
		}
	}
	if n, err := md.ArrayLen("tokenizer.ggml.tokens"); err == nil {
		p.VocabSize = n
	} else if err := pos(arch+".vocab_size", &p.VocabSize, true); err != nil {
		return p, fmt.Errorf("%s: no vocabulary size (tokenizer.ggml.tokens or %s.vocab_size)", md.file, arch)
	}
	return p, nil
}

// PermuteQK applies llama.cpp's HF->GGUF row permutation for LLaMA attn_q/attn_k weights
// (convert_hf_to_gguf.py's LlamaModel.permute):
//
//	w.reshape(n_head, 2, rows//n_head//2, cols).swapaxes(1, 2).reshape(rows, cols)
//
// For attn_k, nHead is the number of KV heads. Within each head of rows/nHead rows, HF stores
// the first halves of the rotary pairs then the second halves (rotate_half convention); GGUF
// interleaves them (row 2i = HF row i, row 2i+1 = HF row i + rows/nHead/2), the layout
// llama.cpp's "normal" RoPE expects. w is row-major rows x cols.
func PermuteQK(w []float32, rows, cols, nHead int) ([]float32, error) {
	return permuteQK(w, rows, cols, nHead, false)
}

// UnpermuteQK undoes PermuteQK exactly, turning a GGUF attn_q/attn_k weight (rows x cols,
// row-major, i.e. the tensor's Shape) back into Hugging Face's q_proj/k_proj layout:
// HF row h*hd + j*hd/2 + i = GGUF row h*hd + 2i + j, with hd = rows/nHead, i < hd/2, j in {0,1}.
// For attn_k pass the number of KV heads.
func UnpermuteQK(w []float32, rows, cols, nHead int) ([]float32, error) {
	return permuteQK(w, rows, cols, nHead, true)
}

func permuteQK(w []float32, rows, cols, nHead int, inverse bool) ([]float32, error) {
	if rows <= 0 || cols <= 0 || nHead <= 0 {
		return nil, fmt.Errorf("permute Q/K: rows %d, cols %d, heads %d must be positive", rows, cols, nHead)
	}
	if rows%(2*nHead) != 0 {
		return nil, fmt.Errorf("permute Q/K: %d rows is not divisible by 2 x %d heads", rows, nHead)
	}
	if len(w) != rows*cols || rows*cols/cols != rows {
		return nil, fmt.Errorf("permute Q/K: %d values for a %d x %d matrix", len(w), rows, cols)
	}
	hd := rows / nHead
	half := hd / 2
	out := make([]float32, len(w))
	for h := 0; h < nHead; h++ {
		for i := 0; i < half; i++ {
			for j := 0; j < 2; j++ {
				hf := h*hd + j*half + i
				gg := h*hd + 2*i + j
				src, dst := hf, gg
				if inverse {
					src, dst = gg, hf
				}
				copy(out[dst*cols:(dst+1)*cols], w[src*cols:(src+1)*cols])
			}
		}
	}
	return out, nil
}
