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
	"math"

	"github.com/growthtrain/growthtrain/internal/inputfile"
	"github.com/growthtrain/growthtrain/internal/jsonx"
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
// with rope_scaling (up to 4.x, and SmolLM2's hub files) and rope_parameters (5.x). rope_theta
// and rms_norm_eps are pointers here (shadowing Config's fields) so that a key set to 0 can be
// told from a missing one, which takes HF's default.
type rawConfig struct {
	Config
	RMSNormEps     *float64        `json:"rms_norm_eps"`
	RopeTheta      *float64        `json:"rope_theta"`
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
//
// Values HF would take but that make no model are refused, naming the key: rope_theta and
// rms_norm_eps that are zero, negative or not finite (JSON has no NaN, and 1e999 is a decoding
// error), a key written twice at the top level or inside rope_parameters / rope_scaling (which
// encoding/json would resolve silently to the last), and sizes beyond the sanity limits of
// Validate.
func ParseConfig(data []byte) (Config, error) {
	if err := jsonx.CheckDuplicateKeys(data, "rope_parameters", "rope_scaling"); err != nil {
		return Config{}, err
	}
	var raw rawConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return Config{}, fmt.Errorf("bad JSON: %w", err)
	}
	positive := func(key string, p *float64, dst *float64) error {
		if p == nil {
			return nil
		}
		if !(*p > 0) || math.IsInf(*p, 0) {
			return fmt.Errorf("%s is %v, want a positive finite number (omit the key for the default)", key, *p)
		}
		*dst = *p
		return nil
	}
	if raw.ModelType != "" && raw.ModelType != "llama" && raw.ModelType != "mistral" && raw.ModelType != "qwen2" {
		return Config{}, fmt.Errorf("model_type %q is not a LLaMA-family decoder", raw.ModelType)
	}
	c := raw.Config
	c.TieWordEmbeddings = raw.TieWordEmbeddings == nil || *raw.TieWordEmbeddings // HF's default is true
	if err := positive("rope_theta", raw.RopeTheta, &c.RopeTheta); err != nil {
		return Config{}, err
	}
	if err := positive("rms_norm_eps", raw.RMSNormEps, &c.RMSNormEps); err != nil {
		return Config{}, err
	}
	if raw.RopeParameters != nil {
		if t := raw.RopeParameters.RopeType; t != "" && t != "default" {
			return Config{}, fmt.Errorf("rope_parameters.rope_type %q is not supported (only the default RoPE)", t)
		}
		if err := positive("rope_parameters.rope_theta", raw.RopeParameters.RopeTheta, &c.RopeTheta); err != nil {
			return Config{}, err
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

// Sanity limits on the sizes a Config may have (docs/limits.md). They sit far above any
// published model (the largest have ~130 layers, hidden sizes ~25K, vocabularies ~260K, a few
// hundred billion parameters) and keep a hostile config.json from sizing memory: with them,
// every product of sizes fits an int64, and a layer count cannot make the parameter list huge.
const (
	MaxLayers           = 1 << 12 // num_hidden_layers
	MaxHiddenSize       = 1 << 17 // hidden_size, intermediate_size / 8
	MaxIntermediateSize = 1 << 20 // intermediate_size
	MaxVocabSize        = 1 << 24 // vocab_size
	MaxHeads            = 1 << 12 // num_attention_heads, num_key_value_heads, head_dim
	MaxPositions        = 1 << 24 // max_position_embeddings
	MaxParams           = 1 << 40 // NumParams
)

// Validate reports the first inconsistency in c.
func (c Config) Validate() error {
	pos := []struct {
		name string
		v    int
		max  int
	}{
		{"vocab_size", c.VocabSize, MaxVocabSize}, {"hidden_size", c.HiddenSize, MaxHiddenSize},
		{"intermediate_size", c.IntermediateSize, MaxIntermediateSize}, {"num_hidden_layers", c.NumHiddenLayers, MaxLayers},
		{"num_attention_heads", c.NumAttentionHeads, MaxHeads}, {"num_key_value_heads", c.NumKeyValueHeads, MaxHeads},
		{"head_dim", c.HeadDim, MaxHeads}, {"max_position_embeddings", c.MaxPositionEmbeddings, MaxPositions},
	}
	for _, p := range pos {
		if p.v <= 0 {
			return fmt.Errorf("%s must be positive, got %d", p.name, p.v)
		}
		if p.v > p.max {
			return fmt.Errorf("%s %d exceeds the sanity limit of %d", p.name, p.v, p.max)
		}
	}
	if n := c.NumParams(); n > MaxParams {
		return fmt.Errorf("%d parameters exceed the sanity limit of %d", n, int64(MaxParams))
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
	if !(c.RMSNormEps > 0) || math.IsInf(c.RMSNormEps, 0) {
		return fmt.Errorf("rms_norm_eps %g must be positive and finite", c.RMSNormEps)
	}
	if !(c.RopeTheta > 0) || math.IsInf(c.RopeTheta, 0) {
		return fmt.Errorf("rope_theta %g must be positive and finite", c.RopeTheta)
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
