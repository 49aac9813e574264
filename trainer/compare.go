package trainer

import (
	"fmt"
	"io"
)

// Comparison sets a budgeted run beside its uniform baseline.
type Comparison struct {
	Growth         *Summary `json:"growth"`
	Uniform        *Summary `json:"uniform"`
	ValLossRatio   float64  `json:"val_loss_ratio"`  // uniform / growth: > 1 means growth ended lower
	CostRatio      float64  `json:"cost_ratio"`      // growth layer-steps / uniform layer-steps
	FLOPsRatio     float64  `json:"flops_ratio"`     // estimated
	WallTimeRatio  float64  `json:"wall_time_ratio"` // growth seconds / uniform seconds
	SameParameters bool     `json:"same_parameters"`
}

// Compare computes the comparison of two summaries.
func Compare(growth, uniform *Summary) Comparison {
	return Comparison{
		Growth: growth, Uniform: uniform,
		ValLossRatio:   uniform.FinalValLoss / growth.FinalValLoss,
		CostRatio:      growth.CostRatio,
		FLOPsRatio:     growth.FLOPs / uniform.FLOPs,
		WallTimeRatio:  growth.Seconds / uniform.Seconds,
		SameParameters: growth.Params == uniform.Params,
	}
}

// PrintComparison writes the growth-vs-uniform table.
func PrintComparison(w io.Writer, c Comparison) {
	fmt.Fprintf(w, "\ngrowth vs uniform (%s, %d steps each, %.2fM parameters each%s)\n", c.Growth.Name, c.Growth.Steps,
		float64(c.Growth.Params)/1e6, map[bool]string{true: "", false: " — PARAMETER COUNTS DIFFER"}[c.SameParameters])
	fmt.Fprintf(w, "%-10s %12s %12s %14s %12s\n", "", "val loss", "wall time", "layer-steps", "GFLOPs est.")
	for _, s := range []*Summary{c.Growth, c.Uniform} {
		fmt.Fprintf(w, "%-10s %12.4f %11.1fs %14d %12.1f\n", s.Mode, s.FinalValLoss, s.Seconds, s.TotalLayerSt, s.FLOPs/1e9)
	}
	fmt.Fprintf(w, "validation loss: uniform/growth = %.3f (%s)\n", c.ValLossRatio, verdict(c.ValLossRatio))
	fmt.Fprintf(w, "cost: growth uses %.1f%% of uniform's layer-steps (%.1f%% reduction), %.1f%% of its estimated FLOPs, %.1f%% of its wall time\n",
		100*c.CostRatio, 100*(1-c.CostRatio), 100*c.FLOPsRatio, 100*c.WallTimeRatio)
}

func verdict(r float64) string {
	switch {
	case r > 1.005:
		return "growth lower"
	case r < 0.995:
		return "uniform lower"
	}
	return "about equal"
}

// WriteComparison writes c as JSON, atomically.
func WriteComparison(path string, c Comparison) error { return writeJSONAtomic(path, c) }
