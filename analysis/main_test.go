package analysis

import (
	"testing"

	"github.com/growthtrain/growthtrain/internal/testref"
)

// The diagnostics' tests run under the commands' runtime (fused no-grad kernels, caching
// allocator, pacing), as `growthtrain analyze` does.
func TestMain(m *testing.M) { testref.RunWithCommandRuntime(m) }
