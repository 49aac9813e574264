// Package jsonx holds what encoding/json lacks for growthtrain: a float64 that survives JSON with
// its undefined values (reports and checkpoints record losses and statistics that can be NaN,
// which encoding/json refuses to write), and a check for keys written twice in files users
// supply (config.json, safetensors indexes), which encoding/json silently collapses.
package jsonx

import (
	"math"
	"strconv"
)

// Float is a float64 that encodes NaN and ±Inf as JSON null; null decodes as NaN.
type Float float64

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *Float) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = Float(math.NaN())
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*f = Float(v)
	return nil
}

// Floats converts float64s to Floats.
func Floats(x []float64) []Float {
	out := make([]Float, len(x))
	for i, v := range x {
		out[i] = Float(v)
	}
	return out
}

// Float64s converts Floats back to float64s.
func Float64s(x []Float) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}
