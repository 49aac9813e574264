package model

import (
	"reflect"
	"strings"
	"testing"
)

// Each supported architecture, built at random by transformers and saved by save_pretrained,
// computes what transformers computes: the features that set it apart from LLaMA (biases,
// sliding windows shorter than the 23-token test sequence, q/k norms, Gemma's embedding scale,
// norm offset and GeLU, the RoPE variants) are all exercised.
func TestArchitecturesMatchTransformers(t *testing.T) {
	base := func(extra map[string]any) map[string]any {
		c := map[string]any{
			"vocab_size": 211, "hidden_size": 48, "intermediate_size": 96, "num_hidden_layers": 3,
			"num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-6,
			"max_position_embeddings": 64,
		}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	runParity(t, []parityCase{
		{"qwen2", "qwen2", base(map[string]any{"tie_word_embeddings": false})},
		{"qwen2-tied-sliding-upper-layers", "qwen2", base(map[string]any{
			"tie_word_embeddings": true, "use_sliding_window": true, "sliding_window": 6, "max_window_layers": 1})},
		{"mistral-window-8", "mistral", base(map[string]any{"sliding_window": 8, "head_dim": 16})},
		{"mistral-window-covers", "mistral", base(map[string]any{"sliding_window": 4096})},
		{"qwen3", "qwen3", base(map[string]any{"head_dim": 16, "tie_word_embeddings": true})},
		{"gemma", "gemma", base(map[string]any{"head_dim": 16})},
		{"llama3-rope", "", base(map[string]any{"head_dim": 16, "rope_parameters": map[string]any{
			"rope_type": "llama3", "rope_theta": 10000.0, "factor": 4.0, "low_freq_factor": 1.0,
			"high_freq_factor": 4.0, "original_max_position_embeddings": 32}})},
		{"linear-rope", "", base(map[string]any{"rope_parameters": map[string]any{
			"rope_type": "linear", "rope_theta": 10000.0, "factor": 2.5}})},
		{"dynamic-rope", "", base(map[string]any{"rope_parameters": map[string]any{
			"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 2.0}})},
	})
}

// Config keys that would change the computation and are not implemented are refused by name.
func TestConfigRefusesUnimplementedFeatures(t *testing.T) {
	ok := `"vocab_size": 10, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2`
	for _, tc := range []struct{ json, want string }{
		{`{"model_type": "mixtral", ` + ok + `}`, `model_type "mixtral"`},
		{`{"model_type": "llama", "num_experts": 4, ` + ok + `}`, "num_experts"},
		{`{"model_type": "qwen2", "use_mrope": true, ` + ok + `}`, "use_mrope"},
		{`{"model_type": "llama", "rope_scaling": {"rope_type": "yarn", "factor": 4}, ` + ok + `}`, `"yarn"`},
		{`{"model_type": "llama", "rope_parameters": {"rope_type": "linear", "rope_theta": 1e4, "factor": 2, "beta_fast": 32}, ` + ok + `}`, "beta_fast"},
		{`{"model_type": "gemma", "use_bidirectional_attention": true, ` + ok + `}`, "use_bidirectional_attention"},
		{`{"model_type": "llama", "attention_dropout": 0.1, ` + ok + `}`, "attention_dropout"},
		{`{"model_type": "llama", "sliding_window": 16, ` + ok + `}`, "sliding_window"},
		{`{"model_type": "qwen2", "layer_types": ["full_attention"], ` + ok + `}`, "layer_types has 1 entries"},
		{`{"model_type": "llama", "hidden_act": "relu", ` + ok + `}`, `hidden_act "relu"`},
		{`{"model_type": "llama", "rope_parameters": {"rope_type": "llama3", "factor": 8}, ` + ok + `}`, "low_freq_factor"},
		{`{"model_type": "llama", "rope_interleaved": true, ` + ok + `}`, "rope_interleaved"},
		// A layer count far past the limits is refused before anything is sized by it.
		{`{"model_type": "qwen2", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 16, "num_attention_heads": 2, "num_hidden_layers": 4000000000000}`, "num_hidden_layers"},
	} {
		_, err := ParseConfig([]byte(tc.json))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one naming %s", tc.json, err, tc.want)
		}
	}
	// A SmolLM2-135M config.json with the extra keys nanotron's exports write (is_llama_config,
	// rope_interleaved) parses to SmolLM2_135M().
	smol := `{"architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
		"bos_token_id": 0, "eos_token_id": 0, "hidden_act": "silu", "hidden_size": 576,
		"initializer_range": 0.041666666666666664, "intermediate_size": 1536, "is_llama_config": true,
		"max_position_embeddings": 8192, "model_type": "llama", "num_attention_heads": 9,
		"num_hidden_layers": 30, "num_key_value_heads": 3, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
		"rope_interleaved": false, "rope_scaling": null, "rope_theta": 100000, "tie_word_embeddings": true,
		"torch_dtype": "bfloat16", "transformers_version": "4.40.1", "use_cache": true, "vocab_size": 49152}`
	if c, err := ParseConfig([]byte(smol)); err != nil || !reflect.DeepEqual(c, SmolLM2_135M()) {
		t.Errorf("SmolLM2's config.json: %+v, %v", c, err)
	}
	// And what is supported parses: an eos list, null keys, the neutral values.
	c, err := ParseConfig([]byte(`{"model_type": "mistral", "eos_token_id": [5, 6], "bos_token_id": null, "sliding_window": null, "attention_dropout": 0.0, "pretraining_tp": 1, ` + ok + `}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.EOSTokenID == nil || *c.EOSTokenID != 5 || c.BOSTokenID != nil || c.SlidingWindow != 0 || c.TieWordEmbeddings {
		t.Fatalf("parsed %+v", c)
	}
}
