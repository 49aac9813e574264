package model

import (
	"testing"

	"github.com/growthtrain/growthtrain/internal/testref"
)

// The model's tests run under the runtime growthtrain's commands use: the no-grad runs of the
// parity tests then go through the fused CPU kernels as evaluation in the CLI does, while the
// runs that record gradients check the composite formulas.
func TestMain(m *testing.M) { testref.RunWithCommandRuntime(m) }
