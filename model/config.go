// Package model is growthtrain's LLaMA-family decoder (LLaMA, Mistral, Qwen2, Qwen3, Gemma): configured from an HF
// config.json, loaded from HF safetensors directories or GGUF files, written back as HF
// directories, and built from bindings/torch operations so that the trainer and every
// diagnostic run on the same graph. Per-layer controls (skip a block or one of its branches,
// scale or replace its weights, freeze it, capture hidden states) act on the one model in place.
package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/growthtrain/growthtrain/internal/inputfile"
	"github.com/growthtrain/growthtrain/internal/jsonx"
)

// Config holds the hyper-parameters of a LLaMA-family decoder in HF's config.json vocabulary.
// ModelType selects the architecture's fixed differences from LLaMA (see Arch); the other
// fields are the config.json keys of the same names.
type Config struct {
	ModelType             string  `json:"model_type,omitempty"` // "" means llama
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
	// Special token ids (nil: not set). config.json may give a list of EOS ids; the first is kept.
	BOSTokenID *int64 `json:"-"`
	EOSTokenID *int64 `json:"-"`
	PadTokenID *int64 `json:"-"`

	// SlidingWindow > 0: the layers LayerTypes marks "sliding_attention" (every layer when
	// LayerTypes is empty) attend to the SlidingWindow most recent positions, the current one
	// included (Mistral; Qwen2/Qwen3 with use_sliding_window).
	SlidingWindow int      `json:"-"`
	LayerTypes    []string `json:"-"`
	// RopeScaling is the RoPE variant; nil is the default RoPE.
	RopeScaling *RopeScaling `json:"-"`
}

// RopeScaling is a rope_parameters (or older rope_scaling) entry other than the default.
type RopeScaling struct {
	Type                          string  // "linear", "dynamic" or "llama3"
	Factor                        float64 // all three
	LowFreqFactor, HighFreqFactor float64 // llama3
	OriginalMaxPositionEmbeddings int     // llama3
}

// Arch describes how an architecture departs from LLaMA's computation.
type Arch struct {
	Class      string // the transformers class, e.g. "Qwen2ForCausalLM"
	BiasQKV    bool   // q/k/v projections have biases
	BiasO      bool   // o_proj has a bias
	QKNorm     bool   // RMSNorm over head_dim on queries and keys before RoPE (Qwen3)
	NormOffset bool   // RMSNorm scales by (1 + weight), weights start at 0 (Gemma)
	EmbedScale bool   // embeddings multiplied by sqrt(hidden_size) (Gemma)
	BiasMLP    bool   // gate/up/down projections have biases (LLaMA's mlp_bias)
}

// Architectures lists the supported model_type values.
var Architectures = []string{"llama", "mistral", "qwen2", "qwen3", "gemma"}

// Arch returns the architecture of c's model_type.
func (c Config) Arch() Arch {
	switch c.ModelType {
	case "mistral":
		return Arch{Class: "MistralForCausalLM"}
	case "qwen2":
		return Arch{Class: "Qwen2ForCausalLM", BiasQKV: true}
	case "qwen3":
		return Arch{Class: "Qwen3ForCausalLM", BiasQKV: c.AttentionBias, BiasO: c.AttentionBias, QKNorm: true}
	case "gemma":
		return Arch{Class: "GemmaForCausalLM", BiasQKV: c.AttentionBias, BiasO: c.AttentionBias, NormOffset: true, EmbedScale: true}
	}
	return Arch{Class: "LlamaForCausalLM", BiasQKV: c.AttentionBias, BiasO: c.AttentionBias, BiasMLP: c.MLPBias}
}

// Window returns the sliding-window length of layer i, or 0 for full causal attention.
func (c Config) Window(i int) int {
	if c.SlidingWindow <= 0 {
		return 0
	}
	if len(c.LayerTypes) == 0 || (i < len(c.LayerTypes) && c.LayerTypes[i] == "sliding_attention") {
		return c.SlidingWindow
	}
	return 0
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

// Keys of config.json that do not change what the model computes (metadata, generation and
// serving settings, options of transformers' Python objects), or that ParseConfig reads.
var ignoredKeys = map[string]bool{
	"_name_or_path": true, "architectures": true, "dtype": true, "torch_dtype": true,
	"transformers_version": true, "id2label": true, "label2id": true, "initializer_range": true,
	"use_cache": true, "output_attentions": true, "output_hidden_states": true, "return_dict": true,
	"problem_type": true, "chunk_size_feed_forward": true, "is_encoder_decoder": true,
	"tokenizer_class": true, "auto_map": true, "_attn_implementation": true,
	"attn_implementation": true, "max_window_layers": true, "use_sliding_window": true,
	"sliding_window": true, "layer_types": true, "rope_scaling": true, "rope_parameters": true,
	"model_type": true, "pretraining_tp": true, "prefix": true, "task_specific_params": true,
	"finetuning_task": true, "tf_legacy_loss": true, "use_bfloat16": true, "pruned_heads": true,
	"torchscript": true, "tie_encoder_decoder": true, "add_cross_attention": true,
	"is_decoder": true, "cross_attention_hidden_size": true, "sep_token_id": true,
	"decoder_start_token_id": true, "num_labels": true, "bos_token_id": true,
	"is_llama_config": true, "unsloth_version": true, // SmolLM's (nanotron) and unsloth's exports
	"eos_token_id": true, "pad_token_id": true,
	// Generation settings (generation_config.json's business, not the forward pass).
	"max_length": true, "min_length": true, "do_sample": true, "early_stopping": true,
	"num_beams": true, "num_beam_groups": true, "temperature": true, "top_k": true, "top_p": true,
	"typical_p": true, "repetition_penalty": true, "length_penalty": true,
	"no_repeat_ngram_size": true, "bad_words_ids": true, "num_return_sequences": true,
	"diversity_penalty": true, "forced_bos_token_id": true, "forced_eos_token_id": true,
	"remove_invalid_values": true, "exponential_decay_length_penalty": true,
	"suppress_tokens": true, "begin_suppress_tokens": true, "encoder_no_repeat_ngram_size": true,
	"output_scores": true, "return_dict_in_generate": true,
}

// neutralKeys are config keys that change the computation in transformers when set, with the
// values under which they do not; any other value is refused. A value list holds JSON texts.
var neutralKeys = map[string][]string{
	"attention_dropout":           {"0", "0.0"},
	"hidden_dropout":              {"0", "0.0"},
	"embd_pdrop":                  {"0", "0.0"},
	"resid_pdrop":                 {"0", "0.0"},
	"mlp_dropout":                 {"0", "0.0"},
	"use_mrope":                   {"false"},
	"rope_interleaved":            {"false"}, // SmolLM's config.json; transformers rotates halves
	"use_bidirectional_attention": {"null", "false"},
	"hidden_activation":           {"null", `"gelu_pytorch_tanh"`},
	"partial_rotary_factor":       {"1", "1.0"},
	"final_logit_softcapping":     {"null"},
	"attn_logit_softcapping":      {"null"},
	"quantization_config":         {"null"},
	"tie_word_embeddings":         {"true", "false"},
}

// ParseConfig decodes and validates the JSON of an HF config.json for a supported decoder
// (Architectures), filling HF's defaults for keys it omits. A key that would change the
// computation in a way growthtrain does not implement is refused by name, never ignored.
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
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil {
		return Config{}, fmt.Errorf("bad JSON: %w", err)
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return Config{}, fmt.Errorf("bad JSON: %w", err)
	}
	// A key set to 0 is refused; a missing one takes HF's default (FillDefaults).
	for _, k := range []string{"rope_theta", "rms_norm_eps"} {
		if v, ok := keys[k]; ok && !bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			var f float64
			if err := json.Unmarshal(v, &f); err != nil || !(f > 0) || math.IsInf(f, 0) {
				return Config{}, fmt.Errorf("%s is %s, want a positive finite number (omit the key for the default)", k, v)
			}
		}
	}
	if c.ModelType == "llama" {
		c.ModelType = ""
	}
	for k, dst := range map[string]**int64{"bos_token_id": &c.BOSTokenID, "eos_token_id": &c.EOSTokenID, "pad_token_id": &c.PadTokenID} {
		v, ok := keys[k]
		if !ok {
			continue
		}
		var id *int64
		var ids []int64
		if err := json.Unmarshal(v, &id); err == nil {
			*dst = id
		} else if err := json.Unmarshal(v, &ids); err == nil && len(ids) > 0 {
			*dst = &ids[0]
		} else if err != nil || len(ids) > 0 {
			return Config{}, fmt.Errorf("%s: want an integer, a list of integers or null, got %s", k, v)
		}
	}
	if _, ok := keys["max_position_embeddings"]; !ok {
		c.MaxPositionEmbeddings = map[string]int{"": 2048, "mistral": 131072, "qwen2": 32768, "qwen3": 32768, "gemma": 8192}[c.ModelType]
	}
	if c.ModelType != "" && !slices.Contains(Architectures, c.ModelType) {
		return Config{}, fmt.Errorf("model_type %q is not supported (supported: %s)", c.ModelType, strings.Join(Architectures, ", "))
	}
	fields := map[string]bool{}
	for _, f := range reflect.VisibleFields(reflect.TypeOf(c)) {
		if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag != "" && tag != "-" {
			fields[tag] = true
		}
	}
	var unknown []string
	for k, v := range keys {
		if allowed, ok := neutralKeys[k]; ok {
			if !slices.Contains(allowed, string(bytes.TrimSpace(v))) {
				return Config{}, fmt.Errorf("%s = %s is not supported (growthtrain implements only %s)", k, v, strings.Join(allowed, " or "))
			}
			continue
		}
		if !fields[k] && !ignoredKeys[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return Config{}, fmt.Errorf("config keys %s are not implemented for model_type %q (refused rather than ignored, since they may change the computation)", strings.Join(unknown, ", "), c.modelTypeName())
	}
	if _, ok := keys["tie_word_embeddings"]; !ok {
		c.TieWordEmbeddings = c.ModelType == "gemma" || c.ModelType == "" // transformers' class defaults
	}
	if c.ModelType == "gemma" && c.HiddenAct == "gelu" {
		c.HiddenAct = "gelu_pytorch_tanh" // as GemmaConfig does: the legacy name of the tanh GeLU
	}
	if c.ModelType == "gemma" && c.HiddenAct == "" {
		c.HiddenAct = "gelu_pytorch_tanh"
	}
	if c.ModelType == "gemma" && c.HeadDim == 0 {
		c.HeadDim = 256
	}
	if err := parseRope(&c, keys); err != nil {
		return Config{}, err
	}
	if err := parseSliding(&c, keys); err != nil {
		return Config{}, err
	}
	c.FillDefaults()
	return c, c.Validate()
}

func (c Config) modelTypeName() string {
	if c.ModelType == "" {
		return "llama"
	}
	return c.ModelType
}

// parseRope reads rope_theta and the RoPE variant from rope_parameters (transformers 5) or
// rope_theta and rope_scaling (older files).
func parseRope(c *Config, keys map[string]json.RawMessage) error {
	var rp map[string]json.RawMessage
	src := "rope_parameters"
	for _, k := range []string{"rope_parameters", "rope_scaling"} {
		if v, ok := keys[k]; ok && !bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			if err := json.Unmarshal(v, &rp); err != nil {
				return fmt.Errorf("%s: want an object, got %s", k, v)
			}
			src = k
			break
		}
	}
	if rp == nil {
		return nil
	}
	num := func(k string) (float64, bool, error) {
		v, ok := rp[k]
		if !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			return 0, false, nil
		}
		var f float64
		if err := json.Unmarshal(v, &f); err != nil {
			return 0, false, fmt.Errorf("%s.%s: want a number, got %s", src, k, v)
		}
		return f, true, nil
	}
	if th, ok, err := num("rope_theta"); err != nil {
		return err
	} else if ok {
		if !(th > 0) || math.IsInf(th, 0) {
			return fmt.Errorf("%s.rope_theta is %v, want a positive finite number (omit the key for the default)", src, th)
		}
		c.RopeTheta = th
	}
	var typ string
	for _, k := range []string{"rope_type", "type"} {
		if v, ok := rp[k]; ok {
			if err := json.Unmarshal(v, &typ); err != nil {
				return fmt.Errorf("%s.%s: want a string, got %s", src, k, v)
			}
			break
		}
	}
	known := map[string][]string{
		"":        {},
		"default": {},
		"linear":  {"factor"},
		"dynamic": {"factor"},
		"llama3":  {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"},
	}
	need, ok := known[typ]
	if !ok {
		return fmt.Errorf("%s.rope_type %q is not supported (default, linear, dynamic and llama3 are)", src, typ)
	}
	for k, v := range rp {
		switch k {
		case "rope_type", "type", "rope_theta":
			continue
		case "partial_rotary_factor":
			if f, _, err := num(k); err != nil || f != 1 {
				return fmt.Errorf("%s.partial_rotary_factor = %s is not supported (only 1)", src, v)
			}
			continue
		}
		if !slices.Contains(need, k) {
			// transformers keeps llama3's keys when a file says linear, and so on: a key the
			// variant does not use changes nothing, except ones that belong to other variants.
			if slices.Contains([]string{"attention_factor", "beta_fast", "beta_slow", "short_factor", "long_factor", "mscale", "mscale_all_dim", "truncate"}, k) {
				return fmt.Errorf("%s.%s is not supported (it belongs to a RoPE variant growthtrain does not implement)", src, k)
			}
		}
	}
	if typ == "" || typ == "default" {
		return nil
	}
	rs := &RopeScaling{Type: typ}
	vals := map[string]float64{}
	for _, k := range need {
		f, ok, err := num(k)
		if err != nil {
			return err
		}
		if !ok {
			if k == "original_max_position_embeddings" {
				f = float64(c.MaxPositionEmbeddings)
			} else {
				return fmt.Errorf("%s: rope_type %q needs %s", src, typ, k)
			}
		}
		vals[k] = f
	}
	rs.Factor = vals["factor"]
	rs.LowFreqFactor, rs.HighFreqFactor = vals["low_freq_factor"], vals["high_freq_factor"]
	rs.OriginalMaxPositionEmbeddings = int(vals["original_max_position_embeddings"])
	if rs.Factor <= 0 || (typ == "dynamic" && rs.Factor < 1) {
		return fmt.Errorf("%s.factor = %g is out of range", src, rs.Factor)
	}
	if typ == "llama3" && (rs.HighFreqFactor <= rs.LowFreqFactor || rs.LowFreqFactor <= 0 || rs.OriginalMaxPositionEmbeddings <= 0) {
		return fmt.Errorf("%s: llama3 needs 0 < low_freq_factor < high_freq_factor and a positive original_max_position_embeddings", src)
	}
	c.RopeScaling = rs
	return nil
}

// parseSliding reads the sliding-window attention settings the way each architecture's
// transformers config does.
func parseSliding(c *Config, keys map[string]json.RawMessage) error {
	var window *int
	if v, ok := keys["sliding_window"]; ok {
		if err := json.Unmarshal(v, &window); err != nil {
			return fmt.Errorf("sliding_window: want an integer or null, got %s", v)
		}
	}
	var types []string
	if v, ok := keys["layer_types"]; ok {
		if err := json.Unmarshal(v, &types); err != nil {
			return fmt.Errorf("layer_types: want a list of strings, got %s", v)
		}
		if len(types) != c.NumHiddenLayers {
			return fmt.Errorf("layer_types has %d entries for %d layers", len(types), c.NumHiddenLayers)
		}
		for i, t := range types {
			if t != "full_attention" && t != "sliding_attention" {
				return fmt.Errorf("layer_types[%d] = %q is not supported (full_attention or sliding_attention)", i, t)
			}
		}
	}
	switch c.ModelType {
	case "qwen2", "qwen3":
		use := false
		if v, ok := keys["use_sliding_window"]; ok {
			if err := json.Unmarshal(v, &use); err != nil {
				return fmt.Errorf("use_sliding_window: want a boolean, got %s", v)
			}
		}
		if !use {
			window = nil // transformers sets sliding_window to None
		}
		if types == nil && c.NumHiddenLayers > 0 && c.NumHiddenLayers <= MaxLayers { // else Validate refuses the count
			maxWin := 28
			if v, ok := keys["max_window_layers"]; ok {
				if err := json.Unmarshal(v, &maxWin); err != nil {
					return fmt.Errorf("max_window_layers: want an integer, got %s", v)
				}
			}
			for i := 0; i < c.NumHiddenLayers; i++ {
				if window != nil && i >= maxWin {
					types = append(types, "sliding_attention")
				} else {
					types = append(types, "full_attention")
				}
			}
		}
	case "", "gemma":
		if window != nil {
			return fmt.Errorf("sliding_window is not part of model_type %q", c.modelTypeName())
		}
	case "mistral":
		if types != nil {
			return errors.New("layer_types is not part of model_type \"mistral\"")
		}
	}
	if window != nil {
		if *window <= 0 {
			return fmt.Errorf("sliding_window must be positive, got %d", *window)
		}
		c.SlidingWindow = *window
	}
	if c.SlidingWindow > 0 {
		c.LayerTypes = types
	} else {
		for i, t := range types {
			if t == "sliding_attention" {
				return fmt.Errorf("layer_types[%d] is sliding_attention but there is no sliding_window", i)
			}
		}
	}
	return nil
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
	if c.HiddenAct != "silu" && c.HiddenAct != "gelu_pytorch_tanh" {
		return fmt.Errorf("hidden_act %q is not supported (silu or gelu_pytorch_tanh gating)", c.HiddenAct)
	}
	if c.ModelType != "" && !slices.Contains(Architectures, c.ModelType) {
		return fmt.Errorf("model_type %q is not supported (supported: %s)", c.ModelType, strings.Join(Architectures, ", "))
	}
	if !(c.RMSNormEps > 0) || math.IsInf(c.RMSNormEps, 0) {
		return fmt.Errorf("rms_norm_eps %g must be positive and finite", c.RMSNormEps)
	}
	if !(c.RopeTheta > 0) || math.IsInf(c.RopeTheta, 0) {
		return fmt.Errorf("rope_theta %g must be positive and finite", c.RopeTheta)
	}
	return nil
}

// JSON returns c as an HF config.json that transformers loads as c.Arch().Class, with every
// key that shapes the computation written out (sliding window, RoPE variant, biases).
func (c Config) JSON() ([]byte, error) {
	arch := c.Arch()
	rope := map[string]any{"rope_type": "default", "rope_theta": c.RopeTheta}
	if rs := c.RopeScaling; rs != nil {
		rope["rope_type"] = rs.Type
		rope["factor"] = rs.Factor
		if rs.Type == "llama3" {
			rope["low_freq_factor"] = rs.LowFreqFactor
			rope["high_freq_factor"] = rs.HighFreqFactor
			rope["original_max_position_embeddings"] = rs.OriginalMaxPositionEmbeddings
		}
	}
	out := map[string]any{
		"architectures":           []string{arch.Class},
		"model_type":              c.modelTypeName(),
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
		"rope_parameters":         rope,
		"tie_word_embeddings":     c.TieWordEmbeddings,
		"hidden_act":              c.HiddenAct,
		"torch_dtype":             "float32",
	}
	switch c.ModelType {
	case "", "qwen3", "gemma":
		out["attention_bias"] = c.AttentionBias
	}
	if c.ModelType == "" {
		out["mlp_bias"] = c.MLPBias
	}
	switch c.ModelType {
	case "mistral":
		if c.SlidingWindow > 0 {
			out["sliding_window"] = c.SlidingWindow
		} else {
			out["sliding_window"] = nil
		}
	case "qwen2", "qwen3":
		types := make([]string, c.NumHiddenLayers)
		for i := range types {
			types[i] = "full_attention"
			if c.Window(i) > 0 {
				types[i] = "sliding_attention"
			}
		}
		out["layer_types"] = types
		out["use_sliding_window"] = c.SlidingWindow > 0
		if c.SlidingWindow > 0 {
			out["sliding_window"] = c.SlidingWindow
			// transformers re-derives nothing from this once layer_types is given; keep it
			// consistent with the first sliding layer anyway.
			first := c.NumHiddenLayers
			for i := range types {
				if types[i] == "sliding_attention" {
					first = i
					break
				}
			}
			out["max_window_layers"] = first
		} else {
			out["sliding_window"] = nil
		}
	}
	for k, v := range map[string]*int64{"bos_token_id": c.BOSTokenID, "eos_token_id": c.EOSTokenID, "pad_token_id": c.PadTokenID} {
		if v != nil {
			out[k] = *v
		}
	}
	return json.MarshalIndent(out, "", "  ")
}

// NumParams returns the number of parameters (tied embeddings counted once).
func (c Config) NumParams() int64 {
	h, q, kv := int64(c.HiddenSize), int64(c.NumAttentionHeads*c.HeadDim), int64(c.NumKeyValueHeads*c.HeadDim)
	perLayer := h*q + 2*h*kv + q*h + 3*h*int64(c.IntermediateSize) + 2*h
	a := c.Arch()
	if a.BiasQKV {
		perLayer += q + 2*kv
	}
	if a.BiasO {
		perLayer += h
	}
	if a.QKNorm {
		perLayer += 2 * int64(c.HeadDim)
	}
	if a.BiasMLP {
		perLayer += 2*int64(c.IntermediateSize) + h
	}
	n := int64(c.VocabSize)*h + int64(c.NumHiddenLayers)*perLayer + h
	if !c.TieWordEmbeddings {
		n += int64(c.VocabSize) * h
	}
	return n
}
