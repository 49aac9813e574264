package gguf

import (
	"fmt"
	"math"
)

// Value is one metadata value. Scalars hold the Go type matching Type (uint8, int8, uint16,
// int16, uint32, int32, float32, bool, string, uint64, int64, float64). Arrays hold a typed
// slice of their element type ([]uint32, []string, ...), or []Value for arrays of arrays.
type Value struct {
	Type     ValueType // ValueArray for arrays
	ElemType ValueType // element type of an array
	v        any
}

// Any returns the Go value (see Value).
func (v Value) Any() any { return v.v }

// Len returns the number of elements of an array value (0 for a scalar).
func (v Value) Len() int {
	switch a := v.v.(type) {
	case []uint8:
		return len(a)
	case []int8:
		return len(a)
	case []uint16:
		return len(a)
	case []int16:
		return len(a)
	case []uint32:
		return len(a)
	case []int32:
		return len(a)
	case []float32:
		return len(a)
	case []bool:
		return len(a)
	case []string:
		return len(a)
	case []uint64:
		return len(a)
	case []int64:
		return len(a)
	case []float64:
		return len(a)
	case []Value:
		return len(a)
	}
	return 0
}

// Int returns an integer scalar (any signed or unsigned type) as int64; ok is false for other
// types or a uint64 above MaxInt64.
func (v Value) Int() (int64, bool) {
	switch x := v.v.(type) {
	case uint8:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case int16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	}
	return 0, false
}

// Float returns a float32/float64 scalar as float64 (a float32 is widened exactly).
func (v Value) Float() (float64, bool) {
	switch x := v.v.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func (v Value) typeName() string {
	if v.Type == ValueArray {
		return "array of " + v.ElemType.String()
	}
	return v.Type.String()
}

// Metadata is the ordered key/value section of a GGUF file.
type Metadata struct {
	file string
	keys []string
	m    map[string]Value
}

// Keys returns the keys in file order.
func (m *Metadata) Keys() []string { return append([]string(nil), m.keys...) }

// Len is the number of keys.
func (m *Metadata) Len() int { return len(m.keys) }

// Value returns the value stored under key.
func (m *Metadata) Value(key string) (Value, bool) {
	v, ok := m.m[key]
	return v, ok
}

func (m *Metadata) get(key string) (Value, error) {
	v, ok := m.m[key]
	if !ok {
		return v, fmt.Errorf("%s: metadata key %q not found", m.file, key)
	}
	return v, nil
}

func (m *Metadata) wrongType(key string, v Value, want string) error {
	return fmt.Errorf("%s: metadata key %q is %s, not %s", m.file, key, v.typeName(), want)
}

// String returns a string value.
func (m *Metadata) String(key string) (string, error) {
	v, err := m.get(key)
	if err != nil {
		return "", err
	}
	s, ok := v.v.(string)
	if !ok {
		return "", m.wrongType(key, v, "string")
	}
	return s, nil
}

// Uint returns a non-negative integer value of any integer type.
func (m *Metadata) Uint(key string) (uint64, error) {
	v, err := m.get(key)
	if err != nil {
		return 0, err
	}
	if u, ok := v.v.(uint64); ok {
		return u, nil
	}
	i, ok := v.Int()
	if !ok {
		return 0, m.wrongType(key, v, "an unsigned integer")
	}
	if i < 0 {
		return 0, fmt.Errorf("%s: metadata key %q is negative (%d)", m.file, key, i)
	}
	return uint64(i), nil
}

// Int returns an integer value of any integer type that fits int64.
func (m *Metadata) Int(key string) (int64, error) {
	v, err := m.get(key)
	if err != nil {
		return 0, err
	}
	i, ok := v.Int()
	if !ok {
		return 0, m.wrongType(key, v, "an integer fitting int64")
	}
	return i, nil
}

// Float returns a float32 or float64 value as float64 (float32 widened exactly).
func (m *Metadata) Float(key string) (float64, error) {
	v, err := m.get(key)
	if err != nil {
		return 0, err
	}
	f, ok := v.Float()
	if !ok {
		return 0, m.wrongType(key, v, "a float")
	}
	return f, nil
}

// Bool returns a bool value.
func (m *Metadata) Bool(key string) (bool, error) {
	v, err := m.get(key)
	if err != nil {
		return false, err
	}
	b, ok := v.v.(bool)
	if !ok {
		return false, m.wrongType(key, v, "bool")
	}
	return b, nil
}

// Strings returns an array of strings (the slice is shared: do not modify it).
func (m *Metadata) Strings(key string) ([]string, error) {
	v, err := m.get(key)
	if err != nil {
		return nil, err
	}
	s, ok := v.v.([]string)
	if !ok {
		return nil, m.wrongType(key, v, "array of string")
	}
	return s, nil
}

// Int32s returns an array of int32 (the slice is shared: do not modify it).
func (m *Metadata) Int32s(key string) ([]int32, error) {
	v, err := m.get(key)
	if err != nil {
		return nil, err
	}
	s, ok := v.v.([]int32)
	if !ok {
		return nil, m.wrongType(key, v, "array of int32")
	}
	return s, nil
}

// Float32s returns an array of float32 (the slice is shared: do not modify it).
func (m *Metadata) Float32s(key string) ([]float32, error) {
	v, err := m.get(key)
	if err != nil {
		return nil, err
	}
	s, ok := v.v.([]float32)
	if !ok {
		return nil, m.wrongType(key, v, "array of float32")
	}
	return s, nil
}

// ArrayLen returns the length of an array value.
func (m *Metadata) ArrayLen(key string) (int, error) {
	v, err := m.get(key)
	if err != nil {
		return 0, err
	}
	if v.Type != ValueArray {
		return 0, m.wrongType(key, v, "an array")
	}
	return v.Len(), nil
}
