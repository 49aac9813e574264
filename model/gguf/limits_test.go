package gguf

import (
	"math"
	"strings"
	"testing"
)

// llamaSpec is baseSpec with the LLaMA hyper-parameters LlamaParams needs (one block's worth of
// metadata, but only baseSpec's two tensors).
func llamaSpec(edit map[string][]byte, typ map[string]ValueType) spec {
	s := baseSpec()
	vals := []struct {
		key string
		typ ValueType
		val []byte
	}{
		{"llama.block_count", ValueUint32, le32(1)},
		{"llama.embedding_length", ValueUint32, le32(8)},
		{"llama.feed_forward_length", ValueUint32, le32(16)},
		{"llama.attention.head_count", ValueUint32, le32(2)},
		{"llama.context_length", ValueUint32, le32(64)},
		{"llama.attention.layer_norm_rms_epsilon", ValueFloat32, le32(math.Float32bits(1e-5))},
		{"llama.rope.freq_base", ValueFloat32, le32(math.Float32bits(10000))},
	}
	for _, v := range vals {
		val, vt := v.val, v.typ
		if e, ok := edit[v.key]; ok {
			val = e
			if t, ok := typ[v.key]; ok {
				vt = t
			}
		}
		s.kvs = append(s.kvs, kvEnc{v.key, uint32(vt), val})
	}
	return s
}

// TestLlamaParamsLimits: a number in the metadata is checked against what the file can hold (or
// is plausible) before anything is sized by it, and the error names the file and the key.
func TestLlamaParamsLimits(t *testing.T) {
	f32 := func(v float32) []byte { return le32(math.Float32bits(v)) }
	cases := []struct {
		name string
		edit map[string][]byte
		typ  map[string]ValueType
		want string
	}{
		{"block_count beyond the tensors", map[string][]byte{"llama.block_count": le32(1 << 30)}, nil, "llama.block_count"},
		{"block_count 1e9 as uint64", map[string][]byte{"llama.block_count": le64(1e9)}, map[string]ValueType{"llama.block_count": ValueUint64}, "llama.block_count"},
		{"freq_base NaN", map[string][]byte{"llama.rope.freq_base": f32(float32(math.NaN()))}, nil, "llama.rope.freq_base"},
		{"freq_base 0", map[string][]byte{"llama.rope.freq_base": f32(0)}, nil, "llama.rope.freq_base"},
		{"freq_base +Inf", map[string][]byte{"llama.rope.freq_base": f32(float32(math.Inf(1)))}, nil, "llama.rope.freq_base"},
		{"epsilon negative", map[string][]byte{"llama.attention.layer_norm_rms_epsilon": f32(-1)}, nil, "layer_norm_rms_epsilon"},
		{"epsilon NaN", map[string][]byte{"llama.attention.layer_norm_rms_epsilon": f32(float32(math.NaN()))}, nil, "layer_norm_rms_epsilon"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img, _ := llamaSpec(c.edit, c.typ).image()
			f, err := Parse("tiny.gguf", img)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.LlamaParams()
			if err == nil || !strings.Contains(err.Error(), "tiny.gguf") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("LlamaParams: %v, want an error naming tiny.gguf and %q", err, c.want)
			}
		})
	}
	img, _ := llamaSpec(nil, nil).image()
	f, err := Parse("tiny.gguf", img)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.LlamaParams(); err != nil {
		t.Errorf("valid metadata: %v", err)
	}
}
