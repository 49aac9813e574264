package torch

/*
#include "growthtorch.h"
*/
import "C"

import (
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"unsafe"
)

// Tensor is a handle to a libtorch tensor. The zero value is not usable; tensors come from the
// factories and operations of this package. Close releases its storage; see the package
// documentation for lifetime rules.
type Tensor struct {
	h          C.gt_tensor // 0 once closed
	cleanup    runtime.Cleanup
	hasCleanup bool
}

func freeHandle(h C.gt_tensor) { C.gt_tensor_free(h) }

// wrapHandle takes ownership of a handle returned by the C library (0 means no tensor: an absent
// gradient, for instance). A tensor made inside a Scope is released by the scope, so only the
// others get a runtime cleanup; that keeps per-step scopes free of garbage-collector work. A
// pacing hint on the handle yields the processor (see "Pacing" in runtime.go).
func wrapHandle(h C.gt_tensor) *Tensor {
	if h&C.GT_HANDLE_YIELD != 0 {
		yield()
	}
	if h == 0 {
		return nil
	}
	t := &Tensor{h: h &^ (C.GT_HANDLE_SCOPED | C.GT_HANDLE_YIELD)}
	if h&C.GT_HANDLE_SCOPED == 0 {
		t.addCleanup()
	}
	return t
}

func (t *Tensor) addCleanup() {
	t.cleanup = runtime.AddCleanup(t, freeHandle, t.h)
	t.hasCleanup = true
}

// c returns the handle for a C call, panicking with CodeFreed for a closed or nil tensor.
// Callers keep t alive (runtime.KeepAlive) until the C call returns, so the cleanup cannot
// free the handle under it.
func (t *Tensor) c(op string) C.gt_tensor {
	if t == nil {
		panic(&Error{Code: CodeArgument, Op: op, Message: "nil tensor"})
	}
	if t.h == 0 {
		panic(&Error{Code: CodeFreed, Op: op, Message: "tensor is closed"})
	}
	return t.h
}

// result checks a C call's error and wraps the handle it produced.
func result(err C.gt_error, op string, h C.gt_tensor) *Tensor {
	check(err, op)
	return wrapHandle(h)
}

// Close releases the tensor's storage now. It is safe to call more than once and on nil.
// Views share storage: the storage itself goes once no tensor refers to it. Closing a tensor
// that its scope already released does nothing.
func (t *Tensor) Close() {
	if t == nil || t.h == 0 {
		return
	}
	if t.hasCleanup {
		t.cleanup.Stop()
		t.hasCleanup = false
	}
	C.gt_tensor_free(t.h)
	t.h = 0
}

// Closed reports whether Close was called (a tensor released by its scope is not Closed, but
// using it fails with CodeFreed).
func (t *Tensor) Closed() bool { return t == nil || t.h == 0 }

// Close closes every tensor given (nil and closed entries are skipped), in one call into the
// library.
func Close(ts ...*Tensor) {
	var buf [16]C.gt_tensor
	hs := buf[:0]
	for _, t := range ts {
		if t == nil || t.h == 0 {
			continue
		}
		if t.hasCleanup {
			t.cleanup.Stop()
			t.hasCleanup = false
		}
		hs = append(hs, t.h)
		t.h = 0
	}
	if len(hs) > 0 {
		C.gt_tensor_free_n(&hs[0], C.int64_t(len(hs)))
	}
}

// Dim returns the number of dimensions.
func (t *Tensor) Dim() int {
	var n C.int64_t
	check(C.gt_tensor_ndim(t.c("Dim"), &n), "Dim")
	runtime.KeepAlive(t)
	return int(n)
}

// Shape returns the size of each dimension.
func (t *Tensor) Shape() []int64 {
	var buf [16]C.int64_t
	var n C.int64_t
	h := t.c("Shape")
	check(C.gt_tensor_ndim(h, &n), "Shape")
	out := make([]int64, int(n))
	if n > 0 {
		p := &buf[0]
		var big []C.int64_t
		if n > C.int64_t(len(buf)) {
			big = make([]C.int64_t, n)
			p = &big[0]
		}
		check(C.gt_tensor_shape(h, p, n), "Shape")
		for i := range out {
			out[i] = int64(*(*C.int64_t)(unsafe.Add(unsafe.Pointer(p), i*8)))
		}
	}
	runtime.KeepAlive(t)
	return out
}

// Size returns the size of dimension d; negative d counts from the end.
func (t *Tensor) Size(d int) int64 {
	s := t.Shape()
	if d < 0 {
		d += len(s)
	}
	if d < 0 || d >= len(s) {
		fail("Size", "dimension %d out of range for a %d-dimensional tensor", d, len(s))
	}
	return s[d]
}

// Numel returns the number of elements.
func (t *Tensor) Numel() int64 {
	var n C.int64_t
	check(C.gt_tensor_numel(t.c("Numel"), &n), "Numel")
	runtime.KeepAlive(t)
	return int64(n)
}

// DType returns the element type.
func (t *Tensor) DType() DType {
	var d C.int
	check(C.gt_tensor_dtype(t.c("DType"), &d), "DType")
	runtime.KeepAlive(t)
	return DType(d)
}

// Device returns where the tensor's storage lives.
func (t *Tensor) Device() Device {
	var typ, idx C.int
	check(C.gt_tensor_device(t.c("Device"), &typ, &idx), "Device")
	runtime.KeepAlive(t)
	return Device{Type: DeviceType(typ), Index: int(idx)}
}

// IsContiguous reports whether the tensor is laid out densely in row-major order.
func (t *Tensor) IsContiguous() bool {
	var v C.int
	check(C.gt_tensor_is_contiguous(t.c("IsContiguous"), &v), "IsContiguous")
	runtime.KeepAlive(t)
	return v != 0
}

// String describes the tensor without its values, e.g. "Tensor[2 3] float32 cpu".
// A closed tensor prints as "Tensor(closed)".
func (t *Tensor) String() string {
	if t.Closed() {
		return "Tensor(closed)"
	}
	var s string
	if err := Try(func() {
		s = fmt.Sprintf("Tensor%v %v %v", t.Shape(), t.DType(), t.Device())
	}); err != nil {
		return "Tensor(" + err.Error() + ")"
	}
	return s
}

// Format returns libtorch's printout of the tensor's values (summarised for large tensors).
func (t *Tensor) Format() string {
	buf := make([]byte, 1<<16)
	check(C.gt_tensor_format(t.c("Format"), (*C.char)(unsafe.Pointer(&buf[0])), C.int64_t(len(buf))), "Format")
	runtime.KeepAlive(t)
	s := string(buf[:strings.IndexByte(string(buf), 0)])
	return s
}

// Item returns the value of a one-element tensor as a float64.
func (t *Tensor) Item() float64 {
	var v C.double
	check(C.gt_item(t.c("Item"), &v), "Item")
	runtime.KeepAlive(t)
	return float64(v)
}

// Element is a Go type that maps onto a tensor dtype.
type Element interface {
	~float32 | ~float64 | ~int64 | ~int32 | ~uint8 | ~int8 | ~bool
}

func dtypeOf[T Element]() DType {
	switch reflect.TypeFor[T]().Kind() {
	case reflect.Float32:
		return Float32
	case reflect.Float64:
		return Float64
	case reflect.Int64:
		return Int64
	case reflect.Int32:
		return Int32
	case reflect.Uint8:
		return Uint8
	case reflect.Int8:
		return Int8
	}
	return Bool
}

// FromSlice returns a new CPU tensor holding a copy of data with the given shape (a 1-D tensor
// of len(data) elements when shape is omitted).
func FromSlice[T Element](data []T, shape ...int64) *Tensor {
	if len(shape) == 0 {
		shape = []int64{int64(len(data))}
	}
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Pointer(&data[0])
	}
	var z T
	return fromData(p, len(data)*int(unsafe.Sizeof(z)), dtypeOf[T](), shape, "FromSlice")
}

// FromBytes returns a new CPU tensor of the given dtype and shape whose elements are the
// little-endian bytes in data (e.g. bfloat16 weights read from a file).
func FromBytes(data []byte, dtype DType, shape ...int64) *Tensor {
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Pointer(&data[0])
	}
	return fromData(p, len(data), dtype, shape, "FromBytes")
}

func fromData(p unsafe.Pointer, nbytes int, dtype DType, shape []int64, op string) *Tensor {
	var out C.gt_tensor
	sp, n := shapeArg(shape)
	return result(C.gt_from_data(p, C.int64_t(nbytes), sp, n, C.int(dtype), &out), op, out)
}

// ToSlice copies the tensor's elements, converted to T's dtype, into a new slice in row-major
// order. The tensor may live on any device.
func ToSlice[T Element](t *Tensor) []T {
	out := make([]T, t.Numel())
	var p unsafe.Pointer
	if len(out) > 0 {
		p = unsafe.Pointer(&out[0])
	}
	var z T
	check(C.gt_to_data(t.c("ToSlice"), C.int(dtypeOf[T]()), p, C.int64_t(len(out)*int(unsafe.Sizeof(z)))), "ToSlice")
	runtime.KeepAlive(t)
	return out
}

// Bytes returns the tensor's elements in its own dtype as little-endian bytes, row-major.
func (t *Tensor) Bytes() []byte {
	d := t.DType()
	out := make([]byte, int(t.Numel())*d.Size())
	var p unsafe.Pointer
	if len(out) > 0 {
		p = unsafe.Pointer(&out[0])
	}
	check(C.gt_to_data(t.c("Bytes"), C.int(d), p, C.int64_t(len(out))), "Bytes")
	runtime.KeepAlive(t)
	return out
}

// Float32s returns the elements as float32 (see ToSlice).
func (t *Tensor) Float32s() []float32 { return ToSlice[float32](t) }

// Float64s returns the elements as float64 (see ToSlice).
func (t *Tensor) Float64s() []float64 { return ToSlice[float64](t) }

// Int64s returns the elements as int64 (see ToSlice).
func (t *Tensor) Int64s() []int64 { return ToSlice[int64](t) }

// Bools returns the elements as bool (see ToSlice).
func (t *Tensor) Bools() []bool { return ToSlice[bool](t) }

// shapeArg passes a Go []int64 to C without copying (it holds no Go pointers).
func shapeArg(s []int64) (*C.int64_t, C.int64_t) {
	if len(s) == 0 {
		return nil, 0
	}
	return (*C.int64_t)(unsafe.Pointer(&s[0])), C.int64_t(len(s))
}

// handles collects the C handles of ts for a list-taking C call.
func handles(op string, ts []*Tensor) []C.gt_tensor {
	hs := make([]C.gt_tensor, len(ts))
	for i, t := range ts {
		hs[i] = t.c(op)
	}
	return hs
}

func handlesArg(hs []C.gt_tensor) *C.gt_tensor {
	if len(hs) == 0 {
		return nil
	}
	return &hs[0]
}
