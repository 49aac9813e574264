package report

// The files of an analysis: analysis.json and, beside it, every table, figure and report.md.

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/growthtrain/growthtrain/analysis"
	"github.com/growthtrain/growthtrain/internal/fsutil"
)

// Options configures Write.
type Options struct {
	// Formats are the figure formats (a subset of Formats; default png). report.md shows the
	// first and links the others.
	Formats []string
}

// Write saves the report r into dir with PNG figures: WriteWith(dir, r, Options{}).
func Write(dir string, r *analysis.Report) error { return WriteWith(dir, r, Options{}) }

// WriteWith saves the report r into dir: analysis.json (r.WriteJSON), then for each diagnostic it
// holds one Markdown and one CSV file per table (<table name>.{md,csv}, e.g. ablation-skip.csv)
// and its figures in each format, and report.md, which puts the headline findings beside the
// paper's claims (for a model of the paper's shape) and links every table and figure. Every file
// is replaced atomically.
func WriteWith(dir string, r *analysis.Report, opts Options) error {
	formats := opts.Formats
	if len(formats) == 0 {
		formats = []string{"png"}
	}
	if err := CheckFormats(formats); err != nil {
		return err
	}
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
			func(dir string) ([]string, error) { return AblationPlots(dir, a, formats...) }})
	}
	if p := r.Predictability; p != nil {
		parts = append(parts, part{"predictability", func() []Table { return PredictabilityTables(p) },
			func(dir string) ([]string, error) { return PredictabilityPlots(dir, p, formats...) }})
	}
	if rc := r.Recovery; rc != nil {
		parts = append(parts, part{"recovery", func() []Table { return RecoveryTables(rc) },
			func(dir string) ([]string, error) { return RecoveryPlots(dir, rc, formats...) }})
	}
	if m := r.Manipulation; m != nil {
		parts = append(parts, part{"manipulation", func() []Table { return ManipulationTables(m) },
			func(dir string) ([]string, error) { return ManipulationPlots(dir, m, formats...) }})
	}
	if s := r.Structure; s != nil {
		parts = append(parts, part{"structure", func() []Table { return StructureTables(s) },
			func(dir string) ([]string, error) { return StructurePlots(dir, s, formats...) }})
	}
	if l := r.Lens; l != nil {
		parts = append(parts, part{"lens", func() []Table { return LensTables(l) },
			func(dir string) ([]string, error) { return LensPlots(dir, l, formats...) }})
	}
	if b := r.Blocks; b != nil {
		parts = append(parts, part{"blocks", func() []Table { return BlocksTables(b) },
			func(dir string) ([]string, error) { return BlocksPlots(dir, b, formats...) }})
	}
	var md strings.Builder
	md.WriteString(headline(r))
	for _, p := range parts {
		fmt.Fprintf(&md, "\n## %s\n", sectionTitle(p.name))
		for _, t := range p.tables() {
			if err := fsutil.WriteFile(filepath.Join(dir, t.Name+".md"), []byte(t.Markdown())); err != nil {
				return err
			}
			var csv strings.Builder
			if err := t.WriteCSV(&csv); err != nil {
				return err
			}
			if err := fsutil.WriteFile(filepath.Join(dir, t.Name+".csv"), []byte(csv.String())); err != nil {
				return err
			}
			fmt.Fprintf(&md, "\n- [%s](%s.md) ([csv](%s.csv))", t.Title, t.Name, t.Name)
		}
		figs, err := p.plots(dir)
		if err != nil {
			return fmt.Errorf("%s figures: %w", p.name, err)
		}
		md.WriteString("\n")
		for _, f := range figs {
			name := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
			fmt.Fprintf(&md, "\n![%s](%s)", name, filepath.Base(f))
			if len(formats) > 1 {
				var links []string
				for _, ext := range formats[1:] {
					links = append(links, fmt.Sprintf("[%s](%s.%s)", ext, name, ext))
				}
				fmt.Fprintf(&md, " (%s)", strings.Join(links, ", "))
			}
			md.WriteString("\n")
		}
	}
	return fsutil.WriteFile(filepath.Join(dir, "report.md"), []byte(md.String()))
}

func sectionTitle(name string) string {
	switch name {
	case "lens":
		return "Logit lens"
	case "blocks":
		return "Block angular distance"
	}
	return strings.ToUpper(name[:1]) + name[1:]
}
