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

// RequireCUDA returns cuda:0, or skips the test on a machine without a GPU, unless
// GROWTHTRAIN_REQUIRE_CUDA=1 (scripts/gpu-check.sh sets it on GPU hosts), where a missing GPU
// fails the test instead: there every CUDA test must run.
func RequireCUDA(tb testing.TB) torch.Device {
	tb.Helper()
	if !torch.CUDAAvailable() {
		if os.Getenv("GROWTHTRAIN_REQUIRE_CUDA") == "1" {
			tb.Fatalf("GROWTHTRAIN_REQUIRE_CUDA=1 but CUDA is not available (library linked with CUDA kernels: %v)", torch.CUDACompiled())
		}
		tb.Skip("no CUDA device here; scripts/gpu-check.sh runs this on a GPU host")
	}
	return torch.CUDA(0)
}
