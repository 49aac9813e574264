// Command train is a minimal program outside the growthtrain module that uses its Go bindings to
// libtorch: it fits a small two-layer MLP to sin(x) with AdamW and prints the loss as it falls.
// It runs on CUDA when the library was built with CUDA kernels and a GPU is present, else on
// the CPU.
//
// It builds against an installed libgrowthtorch, found through pkg-config:
//
//	make install PREFIX=$HOME/.local                       # in the growthtrain checkout
//	export PKG_CONFIG_PATH=$HOME/.local/lib/pkgconfig
//	go build -o train . && ./train                           # no LD_LIBRARY_PATH needed
//
// See docs/bindings.md in the growthtrain repository.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

func main() {
	steps := flag.Int("steps", 60, "training steps")
	device := flag.String("device", "auto", "auto (CUDA when available), cpu, cuda or cuda:N")
	flag.Parse()
	// What libgrowthtorch may add to libtorch is opt-in: a caching CPU allocator, fused CPU
	// inference kernels, and pacing (tensor loops yield to Go's scheduler every few ms). Without
	// this call libtorch's defaults hold. growthtrain's own commands turn all three on.
	if err := torch.Init(torch.Runtime{Pace: true, FusedKernels: true, CPUCache: true}); err != nil {
		fmt.Fprintln(os.Stderr, "train:", err)
		os.Exit(1)
	}
	if err := run(*steps, *device); err != nil {
		fmt.Fprintln(os.Stderr, "train:", err)
		os.Exit(1)
	}
}

// run converts the panics of tensor operations into an error (torch.Recover).
func run(steps int, device string) (err error) {
	defer torch.Recover(&err)

	dev := torch.CPU
	switch {
	case device == "auto":
		if torch.CUDAAvailable() {
			dev = torch.CUDA(0)
		}
	default:
		if dev, err = torch.ParseDevice(device); err != nil {
			return err
		}
	}
	fmt.Printf("libtorch %s, libgrowthtorch ABI %d, device %v\n", torch.TorchVersion(), torch.LibraryABIVersion(), dev)
	torch.ManualSeed(1)

	// Data: 120 points of y = sin(x) on [-3, 3).
	x := torch.Arange(-3, 3, 0.05).Unsqueeze(1).ToDevice(dev) // [120, 1]
	y := x.Sin()
	defer torch.Close(x, y)

	// Model: Linear(1, 32) -> tanh -> Linear(32, 1). Parameters are leaves that record gradients.
	const hidden = 32
	param := func(scale float64, shape ...int64) *torch.Tensor {
		t := torch.Randn(shape, torch.WithDevice(dev))
		t.MulScalarInPlace(scale)
		return t.SetRequiresGrad(true)
	}
	w1, b1 := param(1, hidden, 1), param(0.1, hidden)
	w2, b2 := param(0.2, 1, hidden), param(0.1, 1)
	params := []*torch.Tensor{w1, b1, w2, b2}
	defer torch.Close(params...)

	// AdamW state: two moments per parameter and a float32 step counter on its device.
	var expAvg, expAvgSq, counts []*torch.Tensor
	for _, p := range params {
		expAvg = append(expAvg, p.ZerosLike())
		expAvgSq = append(expAvgSq, p.ZerosLike())
		counts = append(counts, torch.Scalar(0, torch.WithDevice(dev)))
	}
	defer torch.Close(expAvg...)
	defer torch.Close(expAvgSq...)
	defer torch.Close(counts...)
	cfg := torch.AdamWConfig{LR: 0.03, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}

	var first, last float64
	for step := 1; step <= steps; step++ {
		// The scope releases every intermediate tensor of the step (activations, the graph's
		// buffers, the gradients' handles) when it closes.
		torch.WithScope(func(s *torch.Scope) {
			pred := torch.Linear(torch.Linear(x, w1, b1).Tanh(), w2, b2)
			loss := pred.Sub(y).Square().Mean(false)
			loss.Backward()
			torch.AdamWStep(params, expAvg, expAvgSq, counts, cfg)
			for _, p := range params {
				p.SetGradNone()
			}
			last = loss.Item()
		})
		if step == 1 {
			first = last
		}
		if step == 1 || step%10 == 0 || step == steps {
			fmt.Printf("step %3d  loss %.6f\n", step, last)
		}
	}
	fmt.Printf("loss %.6f -> %.6f over %d steps\n", first, last, steps)
	return nil
}
