// Package model is growthtrain's LLaMA-family decoder (the SmolLM2 class): configured from an HF
// config.json, loaded from HF safetensors directories or GGUF files, written back as HF
// directories, and built from bindings/torch operations so that the trainer and every
// diagnostic run on the same graph. Per-layer controls (skip a block or one of its branches,
// scale or replace its weights, freeze it, capture hidden states) act on the one model in place.
package model

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/growthtrain/growthtrain/internal/inputfile"
)

// Config holds the hyper-parameters of a LLaMA-style decoder in HF's config.json vocabulary.
type Config struct {
	VocabSize             int     `json:"vocab_size"`
	HiddenSize            int     `json:"hidden_size"`
	IntermediateSize      int     `json:"intermediate_size"`
	NumHiddenLayers       int     `json:"num_hidden_layers"`
	NumAttentionHeads     int     `json:"num_attention_heads"`
	NumKeyValueHeads      int     `json:"num_key_value_heads"`
	HeadDim               int     `json:"head_dim"`
	MaxPositionEmbeddings int     `json:"max_position_embeddings"`
	RMSNormEps            float64 `json:"rms_norm_eps"`
	RopeTheta             float64 `json:"rope_theta"`
	TieWordEmbeddings     bool    `json:"tie_word_embeddings"`
	AttentionBias         bool    `json:"attention_bias"`
	MLPBias               bool    `json:"mlp_bias"`
	HiddenAct             string  `json:"hidden_act"`
	BOSTokenID            *int64  `json:"bos_token_id,omitempty"`
	EOSTokenID            *int64  `json:"eos_token_id,omitempty"`
}

// SmolLM2_135M is the configuration of HuggingFaceTB/SmolLM2-135M.
func SmolLM2_135M() Config {
	bos, eos := int64(0), int64(0)
	return Config{
		VocabSize: 49152, HiddenSize: 576, IntermediateSize: 1536, NumHiddenLayers: 30,
		NumAttentionHeads: 9, NumKeyValueHeads: 3, HeadDim: 64, MaxPositionEmbeddings: 8192,
		RMSNormEps: 1e-5, RopeTheta: 100000, TieWordEmbeddings: true, HiddenAct: "silu",
		BOSTokenID: &bos, EOSTokenID: &eos,
	}
}

// rawConfig accepts both ways transformers has written RoPE settings: a top-level rope_theta
// with rope_scaling (up to 4.x, and SmolLM2's hub files) and rope_parameters (5.x).
type rawConfig struct {
	Config
	ModelType      string          `json:"model_type"`
	Architectures  []string        `json:"architectures"`
	RopeScaling    json.RawMessage `json:"rope_scaling"`
	RopeParameters *struct {
		RopeTheta *float64 `json:"rope_theta"`
		RopeType  string   `json:"rope_type"`
	} `json:"rope_parameters"`
	TieWordEmbeddings *bool `json:"tie_word_embeddings"`
}

// MaxConfigSize bounds config.json (real ones are a few kilobytes).
const MaxConfigSize = 16 << 20

// LoadConfig reads and validates an HF config.json.
func LoadConfig(path string) (Config, error) {
	data, err := inputfile.ReadFile(path, MaxConfigSize, "config.json")
	if err != nil {
		return Config{}, fmt.Errorf("model config: %w", err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig decodes and validates the JSON of an HF config.json for a LLaMA-family model,
// filling HF's defaults for keys it omits.
func ParseConfig(data []byte) (Config, error) {
	var raw rawConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return Config{}, fmt.Errorf("bad JSON: %w", err)
	}
	if raw.ModelType != "" && raw.ModelType != "llama" && raw.ModelType != "mistral" && raw.ModelType != "qwen2" {
		return Config{}, fmt.Errorf("model_type %q is not a LLaMA-family decoder", raw.ModelType)
	}
	c := raw.Config
	c.TieWordEmbeddings = raw.TieWordEmbeddings == nil || *raw.TieWordEmbeddings // HF's default is true
	if raw.RopeParameters != nil {
		if t := raw.RopeParameters.RopeType; t != "" && t != "default" {
			return Config{}, fmt.Errorf("rope_parameters.rope_type %q is not supported (only the default RoPE)", t)
		}
		if raw.RopeParameters.RopeTheta != nil {
			c.RopeTheta = *raw.RopeParameters.RopeTheta
		}
	}
	if s := bytes.TrimSpace(raw.RopeScaling); len(s) > 0 && !bytes.Equal(s, []byte("null")) {
		var rs struct {
			RopeType string `json:"rope_type"`
			Type     string `json:"type"`
		}
		_ = json.Unmarshal(s, &rs)
		if t := rs.RopeType + rs.Type; t != "" && t != "default" {
			return Config{}, fmt.Errorf("rope_scaling %s is not supported (only the default RoPE)", s)
		}
	}
	c.FillDefaults()
	return c, c.Validate()
}

// FillDefaults sets HF's defaults for the keys a config.json may omit (KV heads = heads,
// head_dim = hidden/heads, eps, theta, context, activation); set values are kept.
func (c *Config) FillDefaults() {
	if c.NumKeyValueHeads == 0 {
		c.NumKeyValueHeads = c.NumAttentionHeads
	}
	if c.HeadDim == 0 && c.NumAttentionHeads > 0 {
		c.HeadDim = c.HiddenSize / c.NumAttentionHeads
	}
	if c.RMSNormEps == 0 {
		c.RMSNormEps = 1e-6
	}
	if c.RopeTheta == 0 {
		c.RopeTheta = 10000
	}
	if c.MaxPositionEmbeddings == 0 {
		c.MaxPositionEmbeddings = 2048
	}
	if c.HiddenAct == "" {
		c.HiddenAct = "silu"
	}
}

// Validate reports the first inconsistency in c.
func (c Config) Validate() error {
	pos := []struct {
		name string
		v    int
	}{
		{"vocab_size", c.VocabSize}, {"hidden_size", c.HiddenSize},
		{"intermediate_size", c.IntermediateSize}, {"num_hidden_layers", c.NumHiddenLayers},
		{"num_attention_heads", c.NumAttentionHeads}, {"num_key_value_heads", c.NumKeyValueHeads},
		{"head_dim", c.HeadDim}, {"max_position_embeddings", c.MaxPositionEmbeddings},
	}
	for _, p := range pos {
		if p.v <= 0 {
			return fmt.Errorf("%s must be positive, got %d", p.name, p.v)
		}
	}
	if c.NumAttentionHeads%c.NumKeyValueHeads != 0 {
		return fmt.Errorf("num_attention_heads (%d) must be a multiple of num_key_value_heads (%d)", c.NumAttentionHeads, c.NumKeyValueHeads)
	}
	if c.HeadDim%2 != 0 {
		return fmt.Errorf("head_dim (%d) must be even for RoPE", c.HeadDim)
	}
	if c.HiddenAct != "silu" {
		return fmt.Errorf("hidden_act %q is not supported (SwiGLU with silu only)", c.HiddenAct)
	}
	if c.RMSNormEps <= 0 || c.RopeTheta <= 0 {
		return fmt.Errorf("rms_norm_eps (%g) and rope_theta (%g) must be positive", c.RMSNormEps, c.RopeTheta)
	}
	return nil
}

// JSON returns c as an HF config.json that transformers loads as LlamaForCausalLM.
func (c Config) JSON() ([]byte, error) {
	out := map[string]any{
		"architectures":           []string{"LlamaForCausalLM"},
		"model_type":              "llama",
		"vocab_size":              c.VocabSize,
		"hidden_size":             c.HiddenSize,
		"intermediate_size":       c.IntermediateSize,
		"num_hidden_layers":       c.NumHiddenLayers,
		"num_attention_heads":     c.NumAttentionHeads,
		"num_key_value_heads":     c.NumKeyValueHeads,
		"head_dim":                c.HeadDim,
		"max_position_embeddings": c.MaxPositionEmbeddings,
		"rms_norm_eps":            c.RMSNormEps,
		"rope_theta":              c.RopeTheta,
		"rope_parameters":         map[string]any{"rope_type": "default", "rope_theta": c.RopeTheta},
		"tie_word_embeddings":     c.TieWordEmbeddings,
		"attention_bias":          c.AttentionBias,
		"mlp_bias":                c.MLPBias,
		"hidden_act":              c.HiddenAct,
		"torch_dtype":             "float32",
	}
	if c.BOSTokenID != nil {
		out["bos_token_id"] = *c.BOSTokenID
	}
	if c.EOSTokenID != nil {
		out["eos_token_id"] = *c.EOSTokenID
	}
	return json.MarshalIndent(out, "", "  ")
}

// NumParams returns the number of parameters (tied embeddings counted once).
func (c Config) NumParams() int64 {
	h, q, kv := int64(c.HiddenSize), int64(c.NumAttentionHeads*c.HeadDim), int64(c.NumKeyValueHeads*c.HeadDim)
	perLayer := h*q + 2*h*kv + q*h + 3*h*int64(c.IntermediateSize) + 2*h
	if c.AttentionBias {
		perLayer += q + 2*kv + h
	}
	if c.MLPBias {
		perLayer += 2*int64(c.IntermediateSize) + h
	}
	n := int64(c.VocabSize)*h + int64(c.NumHiddenLayers)*perLayer + h
	if !c.TieWordEmbeddings {
		n += int64(c.VocabSize) * h
	}
	return n
}
