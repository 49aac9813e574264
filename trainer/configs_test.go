package trainer

import (
	"path/filepath"
	"testing"

	"github.com/growthtrain/growthtrain/internal/testref"
)

// The shipped budgets parse and validate, and their documented cost ratios hold.
func TestShippedConfigs(t *testing.T) {
	cases := []struct {
		file      string
		layers    int
		steps     int
		costRatio float64
	}{
		{"demo.toml", 8, 330, 1500.0 / 2640},
		{"demo-small-data.toml", 8, 330, 1500.0 / 2640},
		{"demo-derived.toml", 8, 330, 1504.0 / 2640},
		{"poc.toml", 12, 656, 4160.0 / 7872},
		{"poc-small-data.toml", 12, 656, 4160.0 / 7872},
		{"smollm2-135m.toml", 30, 2000, 0},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			b, err := LoadBudget(filepath.Join(testref.RepoRoot(t), "configs", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if b.Model.NumHiddenLayers != tc.layers || b.TotalSteps() != tc.steps {
				t.Fatalf("%d layers, %d steps", b.Model.NumHiddenLayers, b.TotalSteps())
			}
			var ls int
			for _, p := range b.Phases {
				ls += len(p.TrainedLayers()) * p.Steps
			}
			if want := map[string]int{"demo-small-data.toml": 50000, "poc-small-data.toml": 250000}[tc.file]; b.Data.TrainTokens != want {
				t.Fatalf("train_tokens %d, documented %d", b.Data.TrainTokens, want)
			}
			if tc.costRatio > 0 {
				if got := float64(ls) / float64(tc.layers*tc.steps); got != tc.costRatio {
					t.Fatalf("cost ratio %v, documented %v", got, tc.costRatio)
				}
			}
		})
	}
}
