package torch

/*
#include "growthtorch.h"
*/
import "C"

import (
	"fmt"
	"strconv"
	"strings"
)

// DType is the element type of a tensor.
type DType int

// Element types, equal to the C library's GT_* codes.
const (
	Float32  DType = C.GT_FLOAT32
	Float64  DType = C.GT_FLOAT64
	Float16  DType = C.GT_FLOAT16
	BFloat16 DType = C.GT_BFLOAT16
	Int64    DType = C.GT_INT64
	Int32    DType = C.GT_INT32
	Bool     DType = C.GT_BOOL
	Uint8    DType = C.GT_UINT8
	Int8     DType = C.GT_INT8
)

var dtypeNames = [...]string{
	Float32: "float32", Float64: "float64", Float16: "float16", BFloat16: "bfloat16",
	Int64: "int64", Int32: "int32", Bool: "bool", Uint8: "uint8", Int8: "int8",
}

var dtypeSizes = [...]int{
	Float32: 4, Float64: 8, Float16: 2, BFloat16: 2, Int64: 8, Int32: 4, Bool: 1, Uint8: 1, Int8: 1,
}

func (d DType) valid() bool { return d >= 0 && int(d) < len(dtypeNames) }

// String returns the dtype's name as ParseDType accepts it, e.g. "bfloat16".
func (d DType) String() string {
	if !d.valid() {
		return "DType(" + strconv.Itoa(int(d)) + ")"
	}
	return dtypeNames[d]
}

// Size returns the size of one element in bytes.
func (d DType) Size() int {
	if !d.valid() {
		return 0
	}
	return dtypeSizes[d]
}

// IsFloating reports whether d is a floating-point type.
func (d DType) IsFloating() bool {
	return d == Float32 || d == Float64 || d == Float16 || d == BFloat16
}

// ParseDType accepts the names String returns and the usual short forms (fp32, f32, bf16, fp16,
// half, float, double, long, int).
func ParseDType(s string) (DType, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "float32", "fp32", "f32", "float":
		return Float32, nil
	case "float64", "fp64", "f64", "double":
		return Float64, nil
	case "float16", "fp16", "f16", "half":
		return Float16, nil
	case "bfloat16", "bf16":
		return BFloat16, nil
	case "int64", "i64", "long":
		return Int64, nil
	case "int32", "i32", "int":
		return Int32, nil
	case "bool":
		return Bool, nil
	case "uint8", "u8", "byte":
		return Uint8, nil
	case "int8", "i8":
		return Int8, nil
	}
	return 0, fmt.Errorf("unknown dtype %q (want float32, bfloat16, float16, float64, int64, int32, int8, uint8 or bool)", s)
}

// DeviceType is the kind of a device.
type DeviceType int

// Device kinds, equal to the C library's codes.
const (
	DeviceCPU  DeviceType = C.GT_CPU
	DeviceCUDA DeviceType = C.GT_CUDA
)

// Device is where a tensor's storage lives.
type Device struct {
	Type  DeviceType
	Index int // the CUDA ordinal; 0 for the CPU
}

// CPU is the host device.
var CPU = Device{Type: DeviceCPU}

// CUDA returns the CUDA device with ordinal i.
func CUDA(i int) Device { return Device{Type: DeviceCUDA, Index: i} }

// String returns "cpu" or "cuda:N", the form ParseDevice accepts.
func (d Device) String() string {
	switch d.Type {
	case DeviceCPU:
		return "cpu"
	case DeviceCUDA:
		return "cuda:" + strconv.Itoa(d.Index)
	}
	return "Device(" + strconv.Itoa(int(d.Type)) + ")"
}

// IsCUDA reports whether d is a CUDA device.
func (d Device) IsCUDA() bool { return d.Type == DeviceCUDA }

// ParseDevice accepts "cpu", "cuda" (ordinal 0) and "cuda:N".
func ParseDevice(s string) (Device, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case s == "cpu":
		return CPU, nil
	case s == "cuda" || s == "gpu":
		return CUDA(0), nil
	case strings.HasPrefix(s, "cuda:"):
		n, err := strconv.Atoi(s[len("cuda:"):])
		if err != nil || n < 0 {
			return Device{}, fmt.Errorf("bad device %q: the CUDA ordinal must be a number >= 0", s)
		}
		return CUDA(n), nil
	}
	return Device{}, fmt.Errorf("unknown device %q (want cpu, cuda or cuda:N)", s)
}
