package apitest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/internal/testref"
)

// TestExportedDocumented checks that every exported identifier of bindings/torch (functions,
// methods, types, constants and variables) has a doc comment, so `go doc` covers the whole API.
// A constant or variable inside a documented group counts as documented.
func TestExportedDocumented(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testref.RepoRoot(t), "bindings", "torch", "*.go"))
	fset := token.NewFileSet()
	n := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		missing := func(pos token.Pos, what string) {
			t.Errorf("%v: exported %s has no doc comment", fset.Position(pos), what)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				n++
				if d.Name.IsExported() && d.Doc == nil {
					missing(d.Pos(), d.Name.Name)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					n++
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() && s.Doc == nil && d.Doc == nil {
							missing(s.Pos(), s.Name.Name)
						}
					case *ast.ValueSpec:
						for _, id := range s.Names {
							if id.IsExported() && s.Doc == nil && s.Comment == nil && d.Doc == nil {
								missing(id.Pos(), id.Name)
							}
						}
					}
				}
			}
		}
	}
	if n < 100 {
		t.Fatalf("found only %d declarations in bindings/torch: wrong directory?", n)
	}
}
