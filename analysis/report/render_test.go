package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/growthtrain/growthtrain/analysis"
	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/internal/jsonx"
	"github.com/growthtrain/growthtrain/model"
)

// tinyWindows are n pseudo-random token windows of about length tokens (lengths vary, so the
// evaluator pads).
func tinyWindows(n, length int, seed int64) [][]int64 {
	var out [][]int64
	x := seed
	for i := 0; i < n; i++ {
		w := make([]int64, length-i%3)
		for j := range w {
			x = (x*1103515245 + 12345) % 2147483648
			w[j] = x % 64
		}
		out = append(out, w)
	}
	return out
}

var (
	fixtureOnce    sync.Once
	fixtureRep     *analysis.Report
	fixtureWeights *analysis.StructureResult
	fixtureErr     error
)

// fixture runs every diagnostic once on a random 4-layer model (weights scaled up so that layers
// matter) and returns the report, and a weights-only structure result of the same model.
func fixture(t *testing.T) (*analysis.Report, *analysis.StructureResult) {
	t.Helper()
	fixtureOnce.Do(func() {
		fixtureErr = torch.Try(func() {
			cfg := model.Config{VocabSize: 64, HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: 4, NumAttentionHeads: 4,
				NumKeyValueHeads: 2, HeadDim: 8, MaxPositionEmbeddings: 64, RMSNormEps: 1e-5, RopeTheta: 1e4, TieWordEmbeddings: true, HiddenAct: "silu"}
			gen := torch.NewGenerator(7, torch.CPU)
			defer gen.Close()
			m, err := model.New(cfg, gen)
			if err != nil {
				panic(err)
			}
			defer m.Close()
			for l := 0; l < 4; l++ {
				if err := m.ScaleLayer(l, 20, model.AllMatrices); err != nil {
					panic(err)
				}
			}
			e := &analysis.Evaluator{M: m, Windows: tinyWindows(6, 12, 5), Batch: 3}
			info := analysis.ModelInfo{Path: "tiny/model.safetensors", Config: cfg, Params: m.NumParams(), Device: "cpu", DType: "float32"}
			data := analysis.DataInfo{Eval: "tiny", Windows: len(e.Windows)}
			fixtureRep, fixtureErr = analysis.Run(e, tinyWindows(8, 17, 3), info, data, analysis.RunOptions{Seed: 1, Bootstrap: 100,
				RecoveryLayers: []int{0, 2}, RecoverySteps: 10, RecoveryBatch: 2})
			if fixtureErr != nil {
				return
			}
			fixtureWeights, fixtureErr = analysis.Structure(e, analysis.StructureOptions{SkipHidden: true})
		})
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixtureRep, fixtureWeights
}

func TestDiagnosticTablesAndPlots(t *testing.T) {
	rep, weights := fixture(t)
	cases := []struct {
		name          string
		tables        func() []Table
		plots         func(dir string) ([]string, error)
		tabs, pngs    int
		check         func(t *testing.T, tabs []Table)
		wantPlotNames []string
	}{
		{"ablation", func() []Table { return AblationTables(rep.Ablation) },
			func(dir string) ([]string, error) { return AblationPlots(dir, rep.Ablation) },
			len(analysis.AblationVariants) + 2, len(analysis.AblationVariants),
			func(t *testing.T, tabs []Table) {
				if tabs[len(tabs)-2].Title != "Ablation summary" || len(tabs[len(tabs)-1].Columns) != 1+len(analysis.AblationVariants) {
					t.Fatalf("summary / comparison tables: %q, %v", tabs[len(tabs)-2].Title, tabs[len(tabs)-1].Columns)
				}
			}, []string{"ablation_skip.png", "ablation_neighbour-average.png"}},
		{"predictability", func() []Table { return PredictabilityTables(rep.Predictability) },
			func(dir string) ([]string, error) { return PredictabilityPlots(dir, rep.Predictability) },
			5, 4,
			func(t *testing.T, tabs []Table) {
				if md := tabs[0].Markdown(); !strings.Contains(md, "gate_proj") || !strings.Contains(md, "0.91") {
					t.Fatalf("summary table lacks the paper's gate_proj counterpart:\n%s", md)
				}
				if n := len(tabs[4].Rows); n != 1+len(rep.Predictability.Substitution.Steps) {
					t.Fatalf("substitution table has %d rows", n)
				}
			}, []string{"predict_neighbor_r2.png", "predict_substitution.png"}},
		{"recovery", func() []Table { return RecoveryTables(rep.Recovery) },
			func(dir string) ([]string, error) { return RecoveryPlots(dir, rep.Recovery) },
			2, 2,
			func(t *testing.T, tabs []Table) {
				if len(tabs[0].Rows) != 2 || !strings.HasPrefix(tabs[1].Title, "Recovery steps vs ablation") {
					t.Fatalf("recovery tables: %d rows, %q", len(tabs[0].Rows), tabs[1].Title)
				}
			}, []string{"recovery_curves.png", "recovery_vs_importance.png"}},
		{"manipulation", func() []Table { return ManipulationTables(rep.Manipulation) },
			func(dir string) ([]string, error) { return ManipulationPlots(dir, rep.Manipulation) },
			1, 2,
			func(t *testing.T, tabs []Table) {
				if md := tabs[0].Markdown(); len(tabs[0].Rows) != len(rep.Manipulation.Results) || !strings.Contains(md, "(paper)") {
					t.Fatalf("table:\n%s", md)
				}
			}, []string{"manipulation_scale.png", "manipulation_strategies.png"}},
		{"structure", func() []Table { return StructureTables(rep.Structure) },
			func(dir string) ([]string, error) { return StructurePlots(dir, rep.Structure) },
			6, 8 + 4 + 7 + 2 + 2,
			func(t *testing.T, tabs []Table) {
				if md := tabs[4].Markdown(); !strings.Contains(md, "| all ") || len(tabs[4].Rows) != 8 {
					t.Fatalf("similarity table:\n%s", md)
				}
			}, []string{"cosine_all.png", "hidden_block_influence.png", "attention_entropy_normalised.png"}},
		{"lens", func() []Table { return LensTables(rep.Lens) },
			func(dir string) ([]string, error) { return LensPlots(dir, rep.Lens) },
			1, 2,
			func(t *testing.T, tabs []Table) {
				if len(tabs[0].Rows) != 5 || tabs[0].Rows[0][1] != "embeddings" || tabs[0].Rows[4][1] != "L3 output" {
					t.Fatalf("lens table:\n%s", tabs[0].Markdown())
				}
			}, []string{"lens_loss.png", "lens_kl.png"}},
		{"blocks", func() []Table { return BlocksTables(rep.Blocks) },
			func(dir string) ([]string, error) { return BlocksPlots(dir, rep.Blocks) },
			2, 2,
			func(t *testing.T, tabs []Table) {
				if len(tabs[0].Rows) != 4 || len(tabs[1].Rows) != 4+3+2+1 {
					t.Fatalf("blocks tables: %d and %d rows", len(tabs[0].Rows), len(tabs[1].Rows))
				}
			}, []string{"blocks_last_token.png", "blocks_all_tokens.png"}},
		{"structure, weights only", func() []Table { return StructureTables(weights) },
			func(dir string) ([]string, error) { return StructurePlots(dir, weights) },
			5, 8 + 4 + 7, nil, []string{"spectrum_down.png"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tabs := c.tables()
			if len(tabs) != c.tabs {
				t.Fatalf("%d tables, want %d", len(tabs), c.tabs)
			}
			for _, tb := range tabs {
				if len(tb.Rows) == 0 || !strings.Contains(tb.Markdown(), "|") {
					t.Fatalf("table %q is empty", tb.Title)
				}
			}
			if c.check != nil {
				c.check(t, tabs)
			}
			dir := t.TempDir()
			paths, err := c.plots(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(paths) != c.pngs {
				t.Fatalf("%d plots, want %d: %v", len(paths), c.pngs, paths)
			}
			for _, p := range paths {
				if st, err := os.Stat(p); err != nil || st.Size() == 0 || filepath.Dir(p) != dir {
					t.Fatalf("plot %s: %v", p, err)
				}
			}
			for _, want := range c.wantPlotNames {
				if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
					t.Fatalf("no %s among %v", want, paths)
				}
			}
		})
	}
}

// Write puts analysis.json, a .md and a .csv per table, the plots and report.md in one folder,
// and report.md links each of them.
func TestWrite(t *testing.T) {
	rep, _ := fixture(t)
	dir := filepath.Join(t.TempDir(), "out")
	if err := Write(dir, rep); err != nil {
		t.Fatal(err)
	}
	back, err := analysis.ReadReport(filepath.Join(dir, "analysis.json"))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(jsonx.NonNil(rep))
	b, _ := json.Marshal(back)
	if !bytes.Equal(a, b) {
		t.Fatal("analysis.json does not read back as the report")
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string][]Table{"ablation": AblationTables(rep.Ablation), "predictability": PredictabilityTables(rep.Predictability),
		"recovery": RecoveryTables(rep.Recovery), "manipulation": ManipulationTables(rep.Manipulation), "structure": StructureTables(rep.Structure),
		"lens": LensTables(rep.Lens), "blocks": BlocksTables(rep.Blocks)}
	nTables := 0
	for name, tabs := range tables {
		if !strings.Contains(string(md), "\n## "+sectionTitle(name)+"\n") {
			t.Errorf("report.md has no %s section", name)
		}
		for _, tb := range tabs {
			nTables++
			base := tb.Name
			if !strings.HasPrefix(base, name) || len(base) > 32 {
				t.Errorf("table %q: file name %q", tb.Title, base)
			}
			got, err := os.ReadFile(filepath.Join(dir, base+".md"))
			if err != nil || string(got) != tb.Markdown() {
				t.Fatalf("%s.md: %v", base, err)
			}
			var csv strings.Builder
			if err := tb.WriteCSV(&csv); err != nil {
				t.Fatal(err)
			}
			if got, err := os.ReadFile(filepath.Join(dir, base+".csv")); err != nil || string(got) != csv.String() {
				t.Fatalf("%s.csv: %v", base, err)
			}
			if link := "- [" + tb.Title + "](" + base + ".md) ([csv](" + base + ".csv))"; !strings.Contains(string(md), link) {
				t.Errorf("report.md lacks %q", link)
			}
		}
	}
	pngs, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	mds, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	csvs, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	if len(mds) != nTables+1 || len(csvs) != nTables || len(pngs) != 5+4+2+2+23+2+2 {
		t.Fatalf("%d Markdown, %d CSV, %d PNG files for %d tables", len(mds), len(csvs), len(pngs), nTables)
	}
	for _, p := range pngs {
		name := filepath.Base(p)
		if !strings.Contains(string(md), "!["+strings.TrimSuffix(name, ".png")+"]("+name+")") {
			t.Errorf("report.md does not show %s", name)
		}
	}
	for _, want := range []string{"# Layer anatomy of model.safetensors", "## Headline findings\n\nNo comparison with the paper",
		"layers 4 (SmolLM2-135M: 30)", "critical core", "gate_proj R²", "Spearman", "| manipulation of redundant layers |", "logit lens", "most redundant blocks"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
}
