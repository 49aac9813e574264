package jsonx

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestFloatRoundTrip(t *testing.T) {
	in := Floats([]float64{1.5, math.NaN(), math.Inf(1), -2e-300})
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != "[1.5,null,null,-2e-300]" {
		t.Fatalf("encoded %s", raw)
	}
	var out []Float
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	got := Float64s(out)
	if got[0] != 1.5 || !math.IsNaN(got[1]) || !math.IsNaN(got[2]) || got[3] != -2e-300 {
		t.Fatalf("decoded %v", got)
	}
}

func TestCheckDuplicateKeys(t *testing.T) {
	cases := []struct {
		raw  string
		want string // "" for no error
	}{
		{`{"a": 1, "b": {"a": 2}}`, ""},
		{`{"a": 1, "a": 2}`, `duplicate key "a"`},
		{`{"m": {"x": 1, "x": 2}}`, `m: duplicate key "x"`},
		{`{"other": {"x": 1, "x": 2}}`, ""}, // not a checked nested object
		{`{"m": null, "n": [1, 2]}`, ""},
		{`[1]`, "not an object"},
		{`{"a": `, "bad JSON"},
	}
	for _, c := range cases {
		err := CheckDuplicateKeys([]byte(c.raw), "m", "n")
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("CheckDuplicateKeys(%s) = %v, want %q", c.raw, err, c.want)
		}
	}
}
