package torch

/*
#include "growthtorch.h"
*/
import "C"

import "runtime"

// A Scope releases, when closed, the storage of every tensor created inside it on the same
// goroutine, except the tensors kept with Keep. It makes loops leak-free without a Close per
// intermediate:
//
//	for step := range steps {
//		s := torch.NewScope()
//		loss := model.Loss(batch) // every intermediate belongs to s
//		loss.Backward()
//		s.Close()                 // all of them are released here
//	}
//
// A scope pins its goroutine to the OS thread until it is closed (tensors are tracked per
// thread, like libtorch's grad mode). Scopes nest; Close must be called on the creating
// goroutine, innermost first (defer does this). A tensor released by a scope can still be
// referenced from Go but fails with CodeFreed when used.
type Scope struct {
	id     C.uint64_t
	closed bool
}

// NewScope opens a scope on the calling goroutine.
func NewScope() *Scope {
	runtime.LockOSThread()
	return &Scope{id: C.gt_scope_push()}
}

// Keep exempts ts from this scope: they survive Close and belong to the enclosing scope, if any.
// s must be the innermost open scope. Keep returns its first argument for convenience.
func (s *Scope) Keep(ts ...*Tensor) *Tensor {
	if s.closed {
		fail("Scope.Keep", "scope is closed")
	}
	for _, t := range ts {
		if t == nil {
			continue
		}
		var unscoped C.int
		err := C.gt_scope_keep(s.id, t.c("Scope.Keep"), &unscoped)
		runtime.KeepAlive(t)
		check(err, "Scope.Keep")
		if unscoped != 0 && !t.hasCleanup {
			t.addCleanup() // it left every scope: the safety net applies again
		}
	}
	if len(ts) == 0 {
		return nil
	}
	return ts[0]
}

// Close releases the scope's tensors (except those kept) and unpins the goroutine. Calling it
// again does nothing.
func (s *Scope) Close() {
	if s.closed {
		return
	}
	err := C.gt_scope_pop(s.id)
	if err == nil {
		s.closed = true
		runtime.UnlockOSThread()
	}
	check(err, "Scope.Close")
}

// WithScope runs f inside a new scope and closes it afterwards, even if f panics. Return values
// that must outlive it are passed to s.Keep.
func WithScope(f func(s *Scope)) {
	s := NewScope()
	defer s.Close()
	f(s)
}

// Persist takes ts out of whatever scope they were created in: they live until closed (with the
// runtime cleanup as safety net again). Long-lived state made inside a scope, such as model
// parameters, caches and optimizer moments, needs it; Keep only moves a tensor one scope out.
func Persist(ts ...*Tensor) {
	for _, t := range ts {
		if t == nil {
			continue
		}
		err := C.gt_tensor_persist(t.c("Persist"))
		runtime.KeepAlive(t)
		check(err, "Persist")
		if !t.hasCleanup {
			t.addCleanup()
		}
	}
}
