package torch_test

import (
	"errors"
	"fmt"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

func Example() {
	a := torch.FromSlice([]float32{1, 2, 3, 4}, 2, 2)
	b := torch.Ones([]int64{2, 2})
	c := a.Matmul(b)
	defer torch.Close(a, b, c)
	fmt.Println(c, c.Float32s())
	// Output: Tensor[2 2] float32 cpu [3 3 7 7]
}

// Gradients: mark leaves with RequiresGrad, call Backward on a scalar, read Grad.
func Example_autograd() {
	x := torch.FromSlice([]float32{1, 2, 3}).SetRequiresGrad(true)
	defer x.Close()
	torch.WithScope(func(s *torch.Scope) {
		y := x.Pow(2).Sum(false) // dy/dx = 2x
		y.Backward()
		fmt.Println(x.Grad().Float32s())
		// Parameter updates happen with gradient recording off.
		torch.NoGrad(func() { x.SubInPlace(x.Grad(), 0.5) })
	})
	fmt.Println(x.Float32s())
	// Output:
	// [2 4 6]
	// [0 0 0]
}

// A Scope frees every intermediate of a step at once; Keep lets results out.
func ExampleScope() {
	before := torch.LiveTensors()
	var total *torch.Tensor
	torch.WithScope(func(s *torch.Scope) {
		x := torch.Arange(0, 4, 1)
		y := x.MulScalar(10).AddScalar(1)
		total = s.Keep(y.Sum(false))
	})
	fmt.Println(total.Item(), torch.LiveTensors()-before)
	total.Close()
	fmt.Println(torch.LiveTensors() - before)
	// Output:
	// 64 1
	// 0
}

// Operations panic with *torch.Error; Recover (or Try) turns that into an error at an API
// boundary, with libtorch's message.
func ExampleRecover() {
	multiply := func(a, b *torch.Tensor) (c *torch.Tensor, err error) {
		defer torch.Recover(&err)
		return a.Matmul(b), nil
	}
	a := torch.Ones([]int64{2, 3})
	defer a.Close()
	_, err := multiply(a, a)
	fmt.Println(err)
	fmt.Println(errors.Is(err, torch.ErrTorch), errors.Is(err, torch.ErrOutOfMemory))
	// Output:
	// torch Matmul: mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)
	// true false
}

// Devices: place tensors with WithDevice and move them with ToDevice. Without a GPU the same
// code takes the CPU branch.
func ExampleCUDAAvailable() {
	dev := torch.CPU
	if torch.CUDAAvailable() {
		dev = torch.CUDA(0)
	}
	x := torch.Ones([]int64{2, 2}, torch.WithDevice(dev), torch.WithDType(torch.BFloat16))
	defer x.Close()
	y := x.Matmul(x).ToDevice(torch.CPU)
	defer y.Close()
	fmt.Println(y.DType(), y.Float32s())
	// Output: bfloat16 [2 2 2 2]
}
