package torch

/*
#include "growthtorch.h"
*/
import "C"

import (
	"errors"
	"fmt"
)

// ErrorCode classifies an Error.
type ErrorCode int

// Error codes, equal to the GT_ERR_* codes of the C library.
const (
	CodeTorch       ErrorCode = C.GT_ERR_TORCH    // libtorch rejected the operation
	CodeOutOfMemory ErrorCode = C.GT_ERR_OOM      // an allocation failed (CPU or device)
	CodeArgument    ErrorCode = C.GT_ERR_ARGUMENT // the bindings rejected an argument
	CodeFreed       ErrorCode = C.GT_ERR_FREED    // the tensor was already closed or released
	CodeInternal    ErrorCode = C.GT_ERR_INTERNAL // any other C++ exception
	// CodeDistributed: a process group's communication failed or timed out (a peer died, hung
	// or never joined; the network refused). The group cannot be used again.
	CodeDistributed ErrorCode = C.GT_ERR_DIST
)

// Sentinels for errors.Is: errors.Is(err, torch.ErrOutOfMemory) holds for any *Error with
// CodeOutOfMemory, and likewise for the others.
var (
	ErrTorch       = errors.New("torch: operation rejected by libtorch")
	ErrOutOfMemory = errors.New("torch: out of memory")
	ErrArgument    = errors.New("torch: invalid argument")
	ErrFreed       = errors.New("torch: tensor already released")
	ErrInternal    = errors.New("torch: internal error")
	ErrDistributed = errors.New("torch: distributed communication failed")
)

// Error is what tensor operations panic with, and what Recover and Try return.
type Error struct {
	Code    ErrorCode
	Op      string // the Go-level operation, e.g. "Matmul"
	Message string // libtorch's message, without its C++ backtrace
}

// Error formats e as "torch Op: Message".
func (e *Error) Error() string {
	return fmt.Sprintf("torch %s: %s", e.Op, e.Message)
}

// Is makes errors.Is match the sentinel of e's code.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrTorch:
		return e.Code == CodeTorch
	case ErrOutOfMemory:
		return e.Code == CodeOutOfMemory
	case ErrArgument:
		return e.Code == CodeArgument
	case ErrFreed:
		return e.Code == CodeFreed
	case ErrInternal:
		return e.Code == CodeInternal
	case ErrDistributed:
		return e.Code == CodeDistributed
	}
	return false
}

// check panics with an *Error when the C call failed, freeing the C error object.
func check(err C.gt_error, op string) {
	if e := errorOf(err, op); e != nil {
		panic(e)
	}
}

// errorOf converts a C error (freeing it) into an *Error, or nil for success, for the few
// functions that return their error instead of panicking.
func errorOf(err C.gt_error, op string) error {
	if err == nil {
		return nil
	}
	e := &Error{
		Code:    ErrorCode(C.gt_error_code(err)),
		Op:      op,
		Message: C.GoString(C.gt_error_message(err)),
	}
	C.gt_error_free(err)
	return e
}

// fail panics with an argument error found on the Go side.
func fail(op, format string, args ...any) {
	panic(&Error{Code: CodeArgument, Op: op, Message: fmt.Sprintf(format, args...)})
}

// Recover turns a panic carrying a *Error into an error stored in *errp (unless *errp already
// holds one). Other panics continue. Use it deferred, directly:
//
//	func Load(path string) (m *Model, err error) {
//		defer torch.Recover(&err)
//		...
//	}
func Recover(errp *error) {
	if r := recover(); r != nil {
		e, ok := r.(*Error)
		if !ok {
			panic(r)
		}
		if *errp == nil {
			*errp = e
		}
	}
}

// Try runs f and returns the *Error it panicked with, if any.
func Try(f func()) (err error) {
	defer Recover(&err)
	f()
	return nil
}
