package torch_test

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

func TestScopeReleasesAllButKept(t *testing.T) {
	before := torch.LiveTensors()
	var kept, dropped *torch.Tensor
	torch.WithScope(func(s *torch.Scope) {
		a := torch.Ones([]int64{3})
		b := a.MulScalar(2)
		dropped = b.AddScalar(1)
		kept = s.Keep(b.Sum(false))
		if got := torch.LiveTensors() - before; got != 4 {
			t.Errorf("inside scope: %d live, want 4", got)
		}
	})
	if got := torch.LiveTensors() - before; got != 1 {
		t.Fatalf("after scope: %d live, want 1 (the kept sum)", got)
	}
	if v := kept.Item(); v != 6 {
		t.Fatalf("kept value %v, want 6", v)
	}
	if err := torch.Try(func() { dropped.Item() }); !errors.Is(err, torch.ErrFreed) {
		t.Fatalf("tensor released by scope: %v, want ErrFreed", err)
	}
	dropped.Close() // closing a released tensor is harmless
	kept.Close()
	if got := torch.LiveTensors(); got != before {
		t.Fatalf("live %d, want %d", got, before)
	}
}

func TestNestedScopesKeepMovesToParent(t *testing.T) {
	before := torch.LiveTensors()
	outer := torch.NewScope()
	var x *torch.Tensor
	torch.WithScope(func(inner *torch.Scope) {
		x = inner.Keep(torch.Ones([]int64{2}))
		torch.Zeros([]int64{2})
	})
	if got := torch.LiveTensors() - before; got != 1 {
		t.Fatalf("after inner scope: %d live, want 1", got)
	}
	outer.Close() // x belonged to the inner scope, was kept, so the outer one releases it
	if got := torch.LiveTensors(); got != before {
		t.Fatalf("after outer scope: live %d, want %d", got, before)
	}
	if err := torch.Try(func() { x.Item() }); !errors.Is(err, torch.ErrFreed) {
		t.Fatalf("kept tensor after the outer scope closed: %v, want ErrFreed", err)
	}
}

func TestScopeOutOfOrderIsAnError(t *testing.T) {
	outer := torch.NewScope()
	inner := torch.NewScope()
	if err := torch.Try(outer.Close); !errors.Is(err, torch.ErrArgument) {
		t.Fatalf("closing the outer scope first: %v, want ErrArgument", err)
	}
	inner.Close()
	outer.Close()
	// A scope's tensors are tracked per goroutine: another goroutine's tensors are not in it.
	before := torch.LiveTensors()
	s := torch.NewScope()
	done := make(chan *torch.Tensor)
	go func() { done <- torch.Ones([]int64{1}) }()
	other := <-done
	s.Close()
	if got := torch.LiveTensors() - before; got != 1 {
		t.Fatalf("tensor from another goroutine was released by this goroutine's scope (%d live)", got)
	}
	other.Close()
}

func TestScopeReleasesOnPanic(t *testing.T) {
	before := torch.LiveTensors()
	err := torch.Try(func() {
		torch.WithScope(func(s *torch.Scope) {
			a := torch.Ones([]int64{2, 2})
			a.Matmul(torch.Ones([]int64{3, 3})) // panics
		})
	})
	if err == nil {
		t.Fatal("expected an error")
	}
	if got := torch.LiveTensors(); got != before {
		t.Fatalf("live %d after a panicking scope, want %d", got, before)
	}
}

// 10,000 small training steps, each in a Scope, leave exactly the parameters alive.
func TestTrainingLoopInScopeDoesNotLeak(t *testing.T) {
	torch.ManualSeed(1)
	w := torch.Randn([]int64{8, 8}, torch.RequiresGrad())
	x := torch.Randn([]int64{4, 8})
	y := torch.Zeros([]int64{4, 8})
	defer torch.Close(w, x, y)
	baseline := settledLiveTensors()
	var first, last float64
	for step := 0; step < 10000; step++ {
		torch.WithScope(func(s *torch.Scope) {
			loss := x.Matmul(w).Silu().Sub(y).Square().Mean(false)
			loss.Backward()
			torch.NoGrad(func() { w.SubInPlace(w.Grad(), 0.05) })
			w.SetGradNone()
			if step == 0 {
				first = loss.Item()
			}
			last = loss.Item()
		})
		if step%1000 == 0 && torch.LiveTensors() > baseline {
			t.Fatalf("step %d: live %d, want %d", step, torch.LiveTensors(), baseline)
		}
	}
	if got := settledLiveTensors(); got != baseline {
		t.Fatalf("after 10000 steps: live %d, want %d", got, baseline)
	}
	if !(last < first/10) {
		t.Fatalf("loss did not fall: %v -> %v", first, last)
	}
}

// settledLiveTensors runs the garbage collector until the runtime cleanups of tensors that
// earlier tests dropped without closing have run, so a baseline is not lowered mid-test.
func settledLiveTensors() int64 {
	last := int64(-1)
	for i := 0; i < 100; i++ {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
		n := torch.LiveTensors()
		if n == last {
			return n
		}
		last = n
	}
	return last
}

// Tensors nobody closed are released by the runtime cleanup once unreachable.
func TestCleanupIsASafetyNet(t *testing.T) {
	before := torch.LiveTensors()
	func() {
		for i := 0; i < 100; i++ {
			_ = torch.Ones([]int64{16})
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for torch.LiveTensors() > before && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if got := torch.LiveTensors(); got > before {
		t.Fatalf("%d tensors still live after GC", got-before)
	}
}

func TestPersistLeavesAllScopes(t *testing.T) {
	before := torch.LiveTensors()
	var cache *torch.Tensor
	torch.WithScope(func(outer *torch.Scope) {
		torch.WithScope(func(inner *torch.Scope) {
			cache = torch.Ones([]int64{3})
			torch.Persist(cache)
		})
	})
	if got := cache.Sum(false); got.Item() != 3 {
		t.Fatal("persisted tensor lost its value")
	}
	cache.Close()
	if got := settledLiveTensors(); got != before {
		t.Fatalf("live %d, want %d", got, before)
	}
}
