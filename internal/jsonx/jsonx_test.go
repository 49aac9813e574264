package jsonx

import (
	"encoding/json"
	"math"
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
