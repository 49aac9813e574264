package model

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// smolJSON is SmolLM2-135M's config.json as a map, for editing.
func smolJSON(t testing.TB) map[string]any {
	t.Helper()
	data, err := SmolLM2_135M().JSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "rope_parameters")
	return m
}

func writeConfig(t testing.TB, raw []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConfigRejects: each bad config.json is refused with an error naming the file and the key.
func TestConfigRejects(t *testing.T) {
	edit := func(kv ...any) func(map[string]any) {
		return func(m map[string]any) {
			for i := 0; i < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
		}
	}
	cases := []struct {
		name string
		edit func(map[string]any)
		raw  string // used instead of the edited SmolLM2 config when set
		want string
	}{
		{name: "rope_theta 0", edit: edit("rope_theta", 0), want: "rope_theta"},
		{name: "rope_theta negative", edit: edit("rope_theta", -1), want: "rope_theta"},
		{name: "rope_theta overflows to +Inf", raw: `{"rope_theta": 1e999}`, want: "rope_theta"},
		{name: "rope_theta as a string", edit: edit("rope_theta", "NaN"), want: "rope_theta"},
		{name: "rope_parameters.rope_theta 0", edit: edit("rope_parameters", map[string]any{"rope_type": "default", "rope_theta": 0}), want: "rope_theta"},
		{name: "rms_norm_eps 0", edit: edit("rms_norm_eps", 0), want: "rms_norm_eps"},
		{name: "rms_norm_eps negative", edit: edit("rms_norm_eps", -1e-5), want: "rms_norm_eps"},
		{name: "rms_norm_eps overflows", raw: `{"rms_norm_eps": -1e400}`, want: "rms_norm_eps"},
		{name: "duplicate key", raw: `{"hidden_size": 576, "num_hidden_layers": 30, "hidden_size": 64}`, want: `duplicate key "hidden_size"`},
		{name: "duplicate nested key", raw: `{"rope_parameters": {"rope_theta": 1, "rope_theta": 2}}`, want: `rope_parameters: duplicate key "rope_theta"`},
		{name: "huge layer count", edit: edit("num_hidden_layers", 1_000_000_000), want: "num_hidden_layers"},
		{name: "huge vocabulary", edit: edit("vocab_size", 1<<40), want: "vocab_size"},
		{name: "huge hidden size", edit: edit("hidden_size", 1<<30, "num_attention_heads", 1<<20, "num_key_value_heads", 1<<20), want: "hidden_size"},
		{name: "huge MLP", edit: edit("intermediate_size", 1<<40), want: "intermediate_size"},
		{name: "too many parameters", edit: edit("vocab_size", 1<<24, "hidden_size", 1<<17, "num_attention_heads", 1<<10, "num_key_value_heads", 1<<10, "head_dim", 128), want: "parameters"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := []byte(c.raw)
			if c.raw == "" {
				m := smolJSON(t)
				c.edit(m)
				var err error
				if raw, err = json.Marshal(m); err != nil {
					t.Fatal(err)
				}
			}
			path := writeConfig(t, raw)
			_, err := LoadConfig(path)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("LoadConfig: %v, want an error naming %s and %q", err, path, c.want)
			}
		})
	}
}

// TestConfigDefaults: keys a config.json omits take HF's defaults (unlike keys set to 0).
func TestConfigDefaults(t *testing.T) {
	m := smolJSON(t)
	delete(m, "rope_theta")
	delete(m, "rms_norm_eps")
	raw, _ := json.Marshal(m)
	c, err := LoadConfig(writeConfig(t, raw))
	if err != nil {
		t.Fatal(err)
	}
	if c.RopeTheta != 10000 || c.RMSNormEps != 1e-6 {
		t.Errorf("defaults: rope_theta %g, rms_norm_eps %g; want 10000 and 1e-6", c.RopeTheta, c.RMSNormEps)
	}
	if _, err := LoadConfig(writeConfig(t, mustJSON(t, smolJSON(t)))); err != nil {
		t.Errorf("SmolLM2's config: %v", err)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzParseConfig fuzzes config.json. Invariants of an accepted config: it validates, its sizes
// are positive and within the sanity limits, its parameter count is positive, and it survives
// JSON -> ParseConfig unchanged.
func FuzzParseConfig(f *testing.F) {
	smol, err := SmolLM2_135M().JSON()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(smol)
	f.Add([]byte(`{"vocab_size": 8, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2}`))
	f.Add([]byte(`{"rope_theta": 0, "rms_norm_eps": -1}`))
	f.Add([]byte(`{"rope_theta": 1e999}`))
	f.Add([]byte(`{"hidden_size": 8, "hidden_size": 9}`))
	f.Add([]byte(`{"num_hidden_layers": 1000000000, "vocab_size": 1099511627776}`))
	f.Add([]byte(`{"rope_parameters": {"rope_type": "default", "rope_theta": 5}, "rope_scaling": null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseConfig accepted a config Validate refuses: %v", err)
		}
		for _, v := range []int{c.VocabSize, c.HiddenSize, c.IntermediateSize, c.NumHiddenLayers, c.NumAttentionHeads,
			c.NumKeyValueHeads, c.HeadDim, c.MaxPositionEmbeddings} {
			if v <= 0 {
				t.Fatalf("accepted a non-positive size: %+v", c)
			}
		}
		if c.NumHiddenLayers > MaxLayers || c.VocabSize > MaxVocabSize || c.HiddenSize > MaxHiddenSize {
			t.Fatalf("accepted sizes beyond the limits: %+v", c)
		}
		if n := c.NumParams(); n <= 0 || n > MaxParams {
			t.Fatalf("%d parameters for %+v", n, c)
		}
		out, err := c.JSON()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseConfig(out)
		if err != nil {
			t.Fatalf("the config written back is refused: %v\n%s", err, out)
		}
		if !sameConfig(c, back) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", c, back)
		}
	})
}

func sameConfig(a, b Config) bool {
	eq := func(x, y *int64) bool { return x == nil && y == nil || x != nil && y != nil && *x == *y }
	if !eq(a.BOSTokenID, b.BOSTokenID) || !eq(a.EOSTokenID, b.EOSTokenID) || !eq(a.PadTokenID, b.PadTokenID) {
		return false
	}
	a.BOSTokenID, a.EOSTokenID, b.BOSTokenID, b.EOSTokenID = nil, nil, nil, nil
	a.PadTokenID, b.PadTokenID = nil, nil
	return reflect.DeepEqual(a, b) // RopeScaling and LayerTypes by value
}
