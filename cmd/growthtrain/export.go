package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/growthtrain/growthtrain/model"
	"github.com/growthtrain/growthtrain/model/gguf"
	"github.com/growthtrain/growthtrain/tokenizer"
	"github.com/urfave/cli/v2"
)

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write a model as an HF directory or a GGUF file (f32, f16, bf16, q8_0) with its tokenizer",
		UsageText: "growthtrain export -m MODEL --format gguf [--type f32|f16|bf16|q8_0] -o FILE.gguf\n   growthtrain export -m MODEL --format hf [--dtype bfloat16] -o DIR",
		Flags: append(modelFlags(),
			&cli.StringFlag{Name: "format", Value: "gguf", Usage: "gguf or hf"},
			&cli.StringFlag{Name: "type", Value: "f16", Usage: "with --format gguf: the weight matrices' type, " + strings.Join(ggufTypeNames(), ", ")},
			&cli.StringFlag{Name: "name", Usage: "with --format gguf: general.name (default: the model path's base name)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "the .gguf file, or the HF directory (must not exist or be empty)"},
		),
		Action: func(c *cli.Context) error {
			out := c.String("output")
			switch c.String("format") {
			case "gguf":
				typ, ok := model.GGUFTypes[strings.ToLower(c.String("type"))]
				if !ok {
					return usageError(c, fmt.Errorf("--type %q: want one of %s", c.String("type"), strings.Join(ggufTypeNames(), ", ")))
				}
				if !strings.HasSuffix(strings.ToLower(out), ".gguf") {
					return usageError(c, fmt.Errorf("-o %s: a GGUF file's name ends in .gguf", out))
				}
				m, tok, err := loadModel(c)
				if err != nil {
					return err
				}
				defer m.Close()
				name := c.String("name")
				if name == "" {
					name = filepath.Base(strings.TrimRight(c.String("model"), "/"))
				}
				if err := saveGGUFWithTokenizer(m, tok, out, typ, name); err != nil {
					return err
				}
				fmt.Fprintf(os.Stderr, "wrote %s (%s, %s, %d layers)\n", out, c.String("type"), m.Config.Arch().Class, m.Config.NumHiddenLayers)
				fmt.Println(out)
				return nil
			case "hf":
				if c.IsSet("type") || c.IsSet("name") {
					return usageError(c, fmt.Errorf("--type and --name are for --format gguf; an HF export takes --dtype"))
				}
				if ents, err := os.ReadDir(out); err == nil && len(ents) > 0 {
					return fmt.Errorf("export: output directory %s is not empty", out)
				}
				m, tok, err := loadModel(c)
				if err != nil {
					return err
				}
				defer m.Close()
				if err := saveHFWithTokenizer(m, tok, out); err != nil {
					return err
				}
				fmt.Fprintf(os.Stderr, "wrote %s (%s, %v)\n", out, m.Config.Arch().Class, m.DType)
				fmt.Println(out)
				return nil
			}
			return usageError(c, fmt.Errorf("--format %q: want gguf or hf", c.String("format")))
		},
	}
}

func ggufTypeNames() []string {
	var names []string
	for n := range model.GGUFTypes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// saveGGUFWithTokenizer writes m as a GGUF file with tok's metadata and general.name.
func saveGGUFWithTokenizer(m *model.Model, tok *tokenizer.Tokenizer, path string, typ gguf.GGMLType, name string) error {
	kvs, err := tok.GGUFMetadata(m.Config.VocabSize)
	if err != nil {
		return fmt.Errorf("GGUF export: %w", err)
	}
	kvs = append([]gguf.KV{{Key: "general.name", Value: name}}, kvs...)
	return m.SaveGGUF(path, typ, kvs)
}
