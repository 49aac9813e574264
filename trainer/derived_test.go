package trainer

import (
	"testing"

	"github.com/growthtrain/growthtrain/analysis"
)

// A budget derived from diagnostics (analysis.DeriveBudget, what `growthtrain budget` writes)
// is one the trainer accepts, with the derived number of steps.
func TestDerivedBudgetParses(t *testing.T) {
	imp := []float64{0.3, 0.5, 600, 50, 0.4, 0.2, -0.01, 0.1}
	anti := []bool{false, false, false, false, false, false, true, false}
	d, err := analysis.DeriveBudget(imp, anti, nil, analysis.BudgetOptions{Cost: 0.46, Steps: 1000})
	if err != nil {
		t.Fatal(err)
	}
	src := "[model]\nnum_hidden_layers = 8\n" + d.TOML(true)
	b, err := ParseBudget([]byte(src), "derived.toml")
	if err != nil {
		t.Fatalf("derived budget does not parse: %v\n%s", err, src)
	}
	if b.TotalSteps() != d.TotalSteps {
		t.Fatalf("budget has %d steps, derived %d", b.TotalSteps(), d.TotalSteps)
	}
}
