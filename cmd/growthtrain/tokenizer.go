package main

import (
	"fmt"
	"math"
	"path/filepath"
	"time"

	"github.com/growthtrain/growthtrain/data"
	"github.com/growthtrain/growthtrain/internal/progress"
	"github.com/growthtrain/growthtrain/tokenizer"
	"github.com/urfave/cli/v2"
)

func tokenizerCommand() *cli.Command {
	return &cli.Command{
		Name:  "tokenizer",
		Usage: "train byte-level BPE tokenizers",
		Subcommands: []*cli.Command{
			tokenizerTrainCommand(),
		},
	}
}

func tokenizerTrainCommand() *cli.Command {
	return &cli.Command{
		Name:  "train",
		Usage: "train a byte-level BPE tokenizer (GPT-2 style, HF tokenizer.json) on UTF-8 text files",
		UsageText: "growthtrain tokenizer train --vocab-size N [--min-frequency 2] [--special TOKEN]... " +
			"[--split-digits] -o tokenizer.json FILE...",
		ArgsUsage: "FILE...",
		Flags: []cli.Flag{
			intIn(&cli.IntFlag{Name: "vocab-size", Required: true, Usage: "total ids: 256 byte tokens + special tokens + merges"}, 256, 1<<24, "256 byte tokens, the special tokens, and the merges"),
			intIn(&cli.IntFlag{Name: "min-frequency", Value: 2, Usage: "stop when the most frequent pair occurs fewer times"}, 1, math.MaxInt32, ""),
			&cli.StringSliceFlag{Name: "special", Usage: "special token, repeatable; ids 0.. in order, the first is BOS/EOS"},
			&cli.BoolFlag{Name: "split-digits", Usage: "isolate each digit before the GPT-2 split (like SmolLM2)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "tokenizer.json to write"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usageError(c, fmt.Errorf("tokenizer train needs at least one text file"))
			}
			var texts []string
			size := 0
			for _, path := range c.Args().Slice() {
				text, err := data.ReadText(path)
				if err != nil {
					return fmt.Errorf("reading training text: %w", err)
				}
				texts = append(texts, text)
				size += len(text)
			}
			specials := c.StringSlice("special")
			var bar interface {
				Set(int) error
				Finish() error
			}
			start := time.Now()
			tok, err := tokenizer.Train(texts, tokenizer.TrainOptions{
				VocabSize:     c.Int("vocab-size"),
				MinFrequency:  c.Int("min-frequency"),
				SpecialTokens: specials,
				SplitDigits:   c.Bool("split-digits"),
				Progress: func(done, total int) {
					if bar == nil {
						bar = progress.New(total, "training tokenizer")
					}
					_ = bar.Set(done)
				},
			})
			if bar != nil {
				_ = bar.Finish()
			}
			if err != nil {
				return err
			}
			elapsed := time.Since(start)
			out := c.String("output")
			if err := tok.Save(out); err != nil {
				return err
			}
			if len(specials) > 0 {
				// Load (and transformers) take BOS/EOS from a tokenizer_config.json beside it.
				if err := tok.SaveDir(filepath.Dir(out)); err != nil {
					return err
				}
				fmt.Printf("wrote %s (bos/eos %q)\n", filepath.Join(filepath.Dir(out), "tokenizer_config.json"), specials[0])
			}
			ntok := 0
			for _, ids := range tok.EncodeBatch(texts) {
				ntok += len(ids)
			}
			fmt.Printf("wrote %s\n", out)
			fmt.Printf("vocab size %d (%d special, 256 bytes, %d merged tokens), %d merges\n", tok.VocabSize(),
				len(specials), tok.VocabSize()-256-len(specials), tok.NumMerges())
			fmt.Printf("trained on %d files, %d bytes in %.2fs (%.1f MB/s)\n", len(texts), size,
				elapsed.Seconds(), float64(size)/1e6/elapsed.Seconds())
			fmt.Printf("training text: %d tokens, %.4f tokens/byte (%.2f bytes/token)\n", ntok,
				float64(ntok)/float64(max(size, 1)), float64(size)/float64(max(ntok, 1)))
			return nil
		},
	}
}
