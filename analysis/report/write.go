package report

// The files of an analysis: analysis.json and, beside it, every table, plot and report.md.

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/growthtrain/growthtrain/analysis"
	"github.com/growthtrain/growthtrain/internal/fsutil"
)

// Write saves the report r into dir: analysis.json (r.WriteJSON), then for each diagnostic it
// holds one Markdown and one CSV file per table (<diagnostic>-<i>-<title slug>.{md,csv}) and its
// PNG plots, and report.md, which puts the headline findings beside the paper's claims and links
// every table and plot.
func Write(dir string, r *analysis.Report) error {
	if err := r.WriteJSON(dir); err != nil {
		return err
	}
	type part struct {
		name   string
		tables func() []Table
		plots  func(string) ([]string, error)
	}
	var parts []part
	if a := r.Ablation; a != nil {
		parts = append(parts, part{"ablation", func() []Table { return AblationTables(a) },
			func(dir string) ([]string, error) { return AblationPlots(dir, a) }})
	}
	if p := r.Predictability; p != nil {
		parts = append(parts, part{"predictability", func() []Table { return PredictabilityTables(p) },
			func(dir string) ([]string, error) { return PredictabilityPlots(dir, p) }})
	}
	if rc := r.Recovery; rc != nil {
		parts = append(parts, part{"recovery", func() []Table { return RecoveryTables(rc) },
			func(dir string) ([]string, error) { return RecoveryPlots(dir, rc) }})
	}
	if m := r.Manipulation; m != nil {
		parts = append(parts, part{"manipulation", func() []Table { return ManipulationTables(m) },
			func(dir string) ([]string, error) { return ManipulationPlots(dir, m) }})
	}
	if s := r.Structure; s != nil {
		parts = append(parts, part{"structure", func() []Table { return StructureTables(s) },
			func(dir string) ([]string, error) { return StructurePlots(dir, s) }})
	}
	var md strings.Builder
	md.WriteString(headline(r))
	for _, p := range parts {
		fmt.Fprintf(&md, "\n## %s\n", strings.ToUpper(p.name[:1])+p.name[1:])
		for i, t := range p.tables() {
			base := fmt.Sprintf("%s-%d-%s", p.name, i+1, slug(t.Title))
			if err := fsutil.WriteFile(filepath.Join(dir, base+".md"), []byte(t.Markdown())); err != nil {
				return err
			}
			var csv strings.Builder
			if err := t.WriteCSV(&csv); err != nil {
				return err
			}
			if err := fsutil.WriteFile(filepath.Join(dir, base+".csv"), []byte(csv.String())); err != nil {
				return err
			}
			fmt.Fprintf(&md, "\n- [%s](%s.md) ([csv](%s.csv))", t.Title, base, base)
		}
		pngs, err := p.plots(dir)
		if err != nil {
			return fmt.Errorf("%s plots: %w", p.name, err)
		}
		md.WriteString("\n")
		for _, png := range pngs {
			rel, _ := filepath.Rel(dir, png)
			fmt.Fprintf(&md, "\n![%s](%s)\n", strings.TrimSuffix(filepath.Base(png), ".png"), rel)
		}
	}
	return fsutil.WriteFile(filepath.Join(dir, "report.md"), []byte(md.String()))
}

var slugRe = regexp.MustCompile(`[^a-z0-9]+`)

func slug(s string) string {
	s = strings.Trim(slugRe.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(s) > 48 {
		s = strings.TrimRight(s[:48], "-")
	}
	return s
}
