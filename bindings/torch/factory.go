package torch

/*
#include "growthtorch.h"
*/
import "C"

import "runtime"

// Option sets a property of a tensor made by a factory.
type Option func(*options)

type options struct {
	dtype    DType
	device   Device
	gen      *Generator
	reqGrad  bool
	dtypeSet bool
}

func makeOptions(def DType, opts []Option) options {
	o := options{dtype: def, device: CPU}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// WithDType sets the element type (default float32; int64 for Randint).
func WithDType(d DType) Option { return func(o *options) { o.dtype, o.dtypeSet = d, true } }

// WithDevice sets the device (default the CPU).
func WithDevice(d Device) Option { return func(o *options) { o.device = d } }

// WithGenerator draws random numbers from g instead of the device's default generator.
func WithGenerator(g *Generator) Option { return func(o *options) { o.gen = g } }

// RequiresGrad makes the new tensor a leaf that records gradients.
func RequiresGrad() Option { return func(o *options) { o.reqGrad = true } }

func (o options) finish(t *Tensor) *Tensor {
	if o.reqGrad {
		t.SetRequiresGrad(true)
	}
	return t
}

func full(op string, shape []int64, fill C.int, value float64, opts []Option) *Tensor {
	o := makeOptions(Float32, opts)
	var out C.gt_tensor
	sp, n := shapeArg(shape)
	t := result(C.gt_full(sp, n, fill, C.double(value), C.int(o.dtype), C.int(o.device.Type), C.int(o.device.Index), &out), op, out)
	return o.finish(t)
}

// Empty returns an uninitialised tensor.
func Empty(shape []int64, opts ...Option) *Tensor {
	return full("Empty", shape, C.GT_FILL_EMPTY, 0, opts)
}

// Zeros returns a tensor of zeros.
func Zeros(shape []int64, opts ...Option) *Tensor {
	return full("Zeros", shape, C.GT_FILL_ZEROS, 0, opts)
}

// Ones returns a tensor of ones.
func Ones(shape []int64, opts ...Option) *Tensor {
	return full("Ones", shape, C.GT_FILL_ONES, 0, opts)
}

// Full returns a tensor filled with value.
func Full(shape []int64, value float64, opts ...Option) *Tensor {
	return full("Full", shape, C.GT_FILL_VALUE, value, opts)
}

// Scalar returns a zero-dimensional tensor holding value.
func Scalar(value float64, opts ...Option) *Tensor {
	return full("Scalar", nil, C.GT_FILL_VALUE, value, opts)
}

// Arange returns the values start, start+step, ... below end (above it for a negative step).
// The dtype defaults to float32.
func Arange(start, end, step float64, opts ...Option) *Tensor {
	o := makeOptions(Float32, opts)
	var out C.gt_tensor
	t := result(C.gt_arange(C.double(start), C.double(end), C.double(step), C.int(o.dtype), C.int(o.device.Type), C.int(o.device.Index), &out), "Arange", out)
	return o.finish(t)
}

func random(op string, kind C.int, shape []int64, opts []Option) *Tensor {
	o := makeOptions(Float32, opts)
	var out C.gt_tensor
	sp, n := shapeArg(shape)
	t := result(C.gt_rand(kind, sp, n, o.gen.c(), C.int(o.dtype), C.int(o.device.Type), C.int(o.device.Index), &out), op, out)
	runtime.KeepAlive(o.gen)
	return o.finish(t)
}

// Randn returns samples of the standard normal distribution.
func Randn(shape []int64, opts ...Option) *Tensor {
	return random("Randn", C.GT_RAND_NORMAL, shape, opts)
}

// Rand returns samples of the uniform distribution on [0, 1).
func Rand(shape []int64, opts ...Option) *Tensor {
	return random("Rand", C.GT_RAND_UNIFORM, shape, opts)
}

// Randint returns integers drawn uniformly from [low, high), int64 unless WithDType says otherwise.
func Randint(low, high int64, shape []int64, opts ...Option) *Tensor {
	o := makeOptions(Int64, opts)
	var out C.gt_tensor
	sp, n := shapeArg(shape)
	t := result(C.gt_randint(C.int64_t(low), C.int64_t(high), sp, n, o.gen.c(), C.int(o.dtype), C.int(o.device.Type), C.int(o.device.Index), &out), "Randint", out)
	runtime.KeepAlive(o.gen)
	return t
}

// Generator is a random number generator with its own seed and saveable state, so a training
// run can reproduce its sampling exactly after a restart.
type Generator struct {
	h       C.gt_generator
	cleanup runtime.Cleanup
}

func freeGenerator(h C.gt_generator) { C.gt_generator_free(h) }

// NewGenerator returns a generator for device seeded with seed.
func NewGenerator(seed uint64, device Device) *Generator {
	var h C.gt_generator
	check(C.gt_generator_new(C.uint64_t(seed), C.int(device.Type), C.int(device.Index), &h), "NewGenerator")
	g := &Generator{h: h}
	g.cleanup = runtime.AddCleanup(g, freeGenerator, h)
	return g
}

// c returns the handle, or NULL for a nil generator (meaning the device default).
func (g *Generator) c() C.gt_generator {
	if g == nil {
		return nil
	}
	if g.h == nil {
		panic(&Error{Code: CodeFreed, Op: "Generator", Message: "generator is closed"})
	}
	return g.h
}

// Close frees the generator.
func (g *Generator) Close() {
	if g == nil || g.h == nil {
		return
	}
	g.cleanup.Stop()
	C.gt_generator_free(g.h)
	g.h = nil
}

// State returns the generator's state as a uint8 CPU tensor.
func (g *Generator) State() *Tensor {
	var out C.gt_tensor
	t := result(C.gt_generator_get_state(g.c(), &out), "Generator.State", out)
	runtime.KeepAlive(g)
	return t
}

// SetState restores a state returned by State.
func (g *Generator) SetState(state *Tensor) {
	check(C.gt_generator_set_state(g.c(), state.c("Generator.SetState")), "Generator.SetState")
	runtime.KeepAlive(g)
	runtime.KeepAlive(state)
}
