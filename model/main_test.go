package model

import (
	"fmt"
	"os"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// The model's tests run under the runtime growthtrain's commands use: the no-grad runs of the
// parity tests then go through the fused CPU kernels as evaluation in the CLI does, while the
// runs that record gradients check the composite formulas.
func TestMain(m *testing.M) {
	if err := torch.Init(torch.Runtime{Pace: true, FusedKernels: true, CPUCache: true}); err != nil {
		fmt.Fprintln(os.Stderr, "torch.Init:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}
