package torch_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// Each failing call must come back as a *torch.Error carrying libtorch's own message, with the
// process alive and no tensor left behind.
func TestErrorPaths(t *testing.T) {
	a := torch.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	defer a.Close()
	ints := torch.Ones([]int64{3, 2}, torch.WithDType(torch.Int64))
	defer ints.Close()
	idx := torch.FromSlice([]int64{5})
	defer idx.Close()
	cases := []struct {
		name string
		f    func()
		code torch.ErrorCode
		want string // a substring of libtorch's message
		is   error
	}{
		{"shape mismatch", func() { a.Matmul(a) }, torch.CodeTorch, "cannot be multiplied", torch.ErrTorch},
		{"dtype mismatch", func() { a.Matmul(ints) }, torch.CodeTorch, "same dtype", torch.ErrTorch},
		{"backward without grad", func() { s := a.Sum(false); defer s.Close(); s.Backward() }, torch.CodeTorch, "does not require grad", torch.ErrTorch},
		{"index out of range", func() { a.IndexSelect(0, idx) }, torch.CodeTorch, "out of range", torch.ErrTorch},
		{"embedding id out of range", func() { torch.Embedding(a, idx) }, torch.CodeTorch, "out of range", torch.ErrTorch},
		{"view of incompatible size", func() { a.View(4, 2) }, torch.CodeTorch, "invalid for input of size 6", torch.ErrTorch},
		{"cuda where there is none", func() { torch.Zeros([]int64{2}, torch.WithDevice(torch.CUDA(0))) }, torch.CodeTorch, "", torch.ErrTorch},
		{"cpu out of memory", func() { torch.Zeros([]int64{1 << 40, 1 << 20}) }, torch.CodeOutOfMemory, "allocate", torch.ErrOutOfMemory},
		{"bytes not matching shape", func() { torch.FromBytes(make([]byte, 7), torch.Float32, 2) }, torch.CodeArgument, "7 bytes given", torch.ErrArgument},
		{"unknown dtype", func() { torch.Zeros([]int64{2}, torch.WithDType(torch.DType(42))) }, torch.CodeArgument, "unknown dtype", torch.ErrArgument},
		{"chunk not divisible", func() { a.Chunk(4, 1) }, torch.CodeArgument, "does not divide", torch.ErrArgument},
	}
	if torch.CUDAAvailable() {
		cases = cases[:6] // the CUDA case is about machines without one
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := torch.LiveTensors()
			err := torch.Try(tc.f)
			if err == nil {
				t.Fatal("no error")
			}
			var te *torch.Error
			if !errors.As(err, &te) {
				t.Fatalf("error %T is not a *torch.Error: %v", err, err)
			}
			if te.Code != tc.code {
				t.Errorf("code %d, want %d (%v)", te.Code, tc.code, err)
			}
			if !strings.Contains(te.Message, tc.want) {
				t.Errorf("message %q lacks %q", te.Message, tc.want)
			}
			if strings.Contains(te.Message, "Exception raised from") || strings.Contains(te.Message, "frame #") {
				t.Errorf("message carries a C++ backtrace: %q", te.Message)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(err, %v) is false", tc.is)
			}
			if after := torch.LiveTensors(); after != before {
				t.Errorf("live tensors %d -> %d", before, after)
			}
		})
	}
}

func TestManyFailuresLeaveProcessAndTensorsIntact(t *testing.T) {
	a := torch.Ones([]int64{2, 3})
	defer a.Close()
	before := torch.LiveTensors()
	for i := 0; i < 10000; i++ {
		var err error
		switch i % 3 {
		case 0:
			err = torch.Try(func() { a.Matmul(a) })
		case 1:
			err = torch.Try(func() { a.View(7) })
		case 2:
			err = torch.Try(func() { a.Slice(5, 0, 1, 1) })
		}
		if err == nil {
			t.Fatalf("call %d did not fail", i)
		}
	}
	if after := torch.LiveTensors(); after != before {
		t.Fatalf("live tensors %d -> %d after 10000 failing calls", before, after)
	}
	// The library still works.
	s := a.Sum(false)
	defer s.Close()
	if got := s.Item(); got != 6 {
		t.Fatalf("sum after failures = %v, want 6", got)
	}
}

func TestRecoverConvertsOnlyTorchErrors(t *testing.T) {
	load := func() (err error) {
		defer torch.Recover(&err)
		torch.Ones([]int64{2}).View(3)
		return nil
	}
	if err := load(); err == nil || !strings.HasPrefix(err.Error(), "torch View: ") {
		t.Fatalf("Recover gave %v", err)
	}
	defer func() {
		if r := recover(); r != "not a torch error" {
			t.Fatalf("foreign panic was not passed on: %v", r)
		}
	}()
	_ = torch.Try(func() { panic("not a torch error") })
}

func TestUseAfterClose(t *testing.T) {
	a := torch.Ones([]int64{2})
	a.Close()
	a.Close() // idempotent
	err := torch.Try(func() { a.Exp() })
	if !errors.Is(err, torch.ErrFreed) {
		t.Fatalf("use after Close: %v, want ErrFreed", err)
	}
	var nilT *torch.Tensor
	if err := torch.Try(func() { nilT.Exp() }); !errors.Is(err, torch.ErrArgument) {
		t.Fatalf("nil tensor: %v, want ErrArgument", err)
	}
	if a.String() != "Tensor(closed)" {
		t.Fatalf("String of closed tensor = %q", a.String())
	}
}
