package testref

import (
	"fmt"
	"os"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// CommandRuntime is the runtime growthtrain's commands choose with no GROWTHTORCH_* variable
// set (cmd/internal/runtimeenv): pacing, the fused CPU kernels and the caching CPU allocator.
var CommandRuntime = torch.Runtime{Pace: true, FusedKernels: true, CPUCache: true}

// RunWithCommandRuntime is a TestMain body: it initialises CommandRuntime, so a package's tests
// exercise what the commands run (the no-grad paths through the fused kernels, the allocator
// under training), then runs the tests and exits.
func RunWithCommandRuntime(m *testing.M) {
	InitCommandRuntime()
	os.Exit(m.Run())
}

// InitCommandRuntime initialises CommandRuntime or exits the test process with the error.
func InitCommandRuntime() {
	if err := torch.Init(CommandRuntime); err != nil {
		fmt.Fprintln(os.Stderr, "torch.Init:", err)
		os.Exit(1)
	}
}
