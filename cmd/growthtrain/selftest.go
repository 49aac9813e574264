package main

import (
	"fmt"
	"math"
	"time"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/internal/progress"
	"github.com/growthtrain/growthtrain/optim"
	"github.com/urfave/cli/v2"
)

// selftest fits a small SwiGLU MLP to a noisy sine with optim's training step, AdamW and cosine
// schedule and prints the falling loss: a quick check that libtorch works on a device.
func selftestCommand() *cli.Command {
	return &cli.Command{
		Name:  "selftest",
		Usage: "check libtorch on a device: fit a small SwiGLU MLP to a noisy sine, loss falling",
		Flags: []cli.Flag{
			intIn(&cli.IntFlag{Name: "steps", Value: 1500, Usage: "training steps"}, 1, 100_000_000, ""),
			intIn(&cli.IntFlag{Name: "hidden", Value: 64, Usage: "hidden width"}, 1, 1<<16, ""),
			&cli.StringFlag{Name: "device", Value: "cpu", Usage: "cpu, cuda or cuda:N"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "random seed"},
		},
		Action: func(c *cli.Context) error {
			dev, err := torch.ParseDevice(c.String("device"))
			if err != nil {
				return err
			}
			return runSelftest(c.Int("steps"), c.Int("hidden"), dev, c.Uint64("seed"))
		},
	}
}

func runSelftest(steps, hidden int, dev torch.Device, seed uint64) (err error) {
	defer torch.Recover(&err)
	gen := torch.NewGenerator(seed, torch.CPU)
	defer gen.Close()
	// Set-up intermediates die with this scope; only what the loop needs is kept.
	var gate, up, down, x, y *torch.Tensor
	torch.WithScope(func(s *torch.Scope) {
		h := int64(hidden)
		init := func(rows, cols int64) *torch.Tensor {
			w := torch.Randn([]int64{rows, cols}, torch.WithGenerator(gen)).MulScalar(1 / math.Sqrt(float64(cols)))
			return s.Keep(w.ToDeviceDType(dev, torch.Float32).Clone().SetRequiresGrad(true))
		}
		gate, up, down = init(h, 1), init(h, 1), init(1, h)
		// 512 points of y = sin(3x) + noise on [-1, 1].
		xs := torch.Arange(-1, 1, 2.0/512).Unsqueeze(1)
		noise := torch.Randn([]int64{512, 1}, torch.WithGenerator(gen)).MulScalar(0.05)
		ys := xs.MulScalar(3).Sin().Add(noise)
		x, y = s.Keep(xs.ToDevice(dev).Clone()), s.Keep(ys.ToDevice(dev).Clone())
	})
	defer torch.Close(gate, up, down, x, y)
	params := []optim.Param{{Name: "gate", Tensor: gate}, {Name: "up", Tensor: up}, {Name: "down", Tensor: down}}

	opt := optim.NewAdamW(torch.AdamWConfig{LR: 1e-2, Beta1: 0.9, Beta2: 0.99, Eps: 1e-8, WeightDecay: 0})
	defer opt.Close()
	stepper := optim.Step{Optimizer: opt}
	sched := optim.Schedule{Kind: "cosine", PeakLR: 3e-2, MinLR: 1e-3, Warmup: steps / 20, Total: steps}

	fmt.Printf("growthtrain selftest: SwiGLU MLP (hidden %d) fitting sin(3x) on %v, %d steps, libtorch %s\n", hidden, dev, steps, torch.TorchVersion())
	bar := progress.New(steps, "training")
	start := time.Now()
	report := map[int]bool{0: true, steps / 10: true, steps / 4: true, steps / 2: true, steps - 1: true}
	var rows []string
	for step := 0; step < steps; step++ {
		res, err := stepper.Run(params, sched.LR(step), 1, func(int) (*torch.Tensor, error) {
			// SwiGLU: down(silu(gate x) * up x), as in a LLaMA MLP block.
			hid := torch.Linear(x, gate, nil).Silu().Mul(torch.Linear(x, up, nil))
			return torch.Linear(hid, down, nil).Sub(y).Square().Mean(false), nil
		})
		if err != nil {
			return err
		}
		if report[step] { // the only host synchronisation of the loop
			loss, _, err := res.Read()
			if err != nil {
				return err
			}
			rows = append(rows, fmt.Sprintf("  step %5d  lr %.4f  loss %.5f", step+1, sched.LR(step), loss))
		}
		res.Close()
		_ = bar.Add(1)
	}
	_ = bar.Finish()
	for _, r := range rows {
		fmt.Println(r)
	}
	fmt.Printf("done in %.1fs; live tensors: %d (3 parameters, 2 data, 9 optimizer state)\n", time.Since(start).Seconds(), torch.LiveTensors())
	return nil
}
