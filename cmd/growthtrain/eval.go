package main

import (
	"fmt"
	"os"

	"github.com/growthtrain/growthtrain/data"
	"github.com/growthtrain/growthtrain/internal/progress"
	"github.com/growthtrain/growthtrain/model"
	"github.com/urfave/cli/v2"
)

func evalCommand() *cli.Command {
	return &cli.Command{
		Name:      "eval",
		Usage:     "perplexity of a model on a text file",
		UsageText: "growthtrain eval -m MODEL --data FILE [--seq-len N] [--batch N]",
		Flags: append(append(modelFlags(), requireData(dataFlags("text to evaluate on"))...),
			intIn(&cli.IntFlag{Name: "seq-len", Value: 1024, Usage: "tokens per evaluation window"}, 2, maxSeqLen, "capped at the model's context"),
			intIn(&cli.IntFlag{Name: "batch", Value: 1, Usage: "windows per forward pass"}, 1, maxBatch, ""),
			intIn(&cli.IntFlag{Name: "max-tokens", Usage: "evaluate only the first N tokens (0: all)"}, 0, maxTokens, "0: all"),
		),
		Action: func(c *cli.Context) error {
			src, err := dataSource(c)
			if err != nil {
				return err
			}
			text, err := data.ReadTextAny(c.String("data"), src)
			if err != nil {
				return err
			}
			m, tok, err := loadModel(c)
			if err != nil {
				return err
			}
			defer m.Close()
			ids, err := tok.TryEncode(text)
			if err != nil {
				return err
			}
			if n := c.Int("max-tokens"); n > 0 && n < len(ids) {
				ids = ids[:n]
			}
			fmt.Fprintf(os.Stderr, "model %s: %d layers, %.1fM parameters, %v %v\n", c.String("model"), m.Config.NumHiddenLayers, float64(m.NumParams())/1e6, m.Device, m.DType)
			fmt.Fprintf(os.Stderr, "data %s: %d bytes, %d tokens\n", c.String("data"), len(text), len(ids))
			seq := min(c.Int("seq-len"), m.Config.MaxPositionEmbeddings)
			wins := len(data.Windows(ids, seq))
			if wins == 0 {
				return fmt.Errorf("%s: %d tokens, too few for one evaluation window (at least 2 tokens, at most --seq-len %d and the model's context of %d)",
					c.String("data"), len(ids), c.Int("seq-len"), m.Config.MaxPositionEmbeddings)
			}
			bar := progress.NewUnits(wins, "evaluating", "window")
			res, err := m.Evaluate(ids, model.EvalOptions{SeqLen: seq, Batch: c.Int("batch"),
				Progress: func(done, total int) { _ = bar.Set(done) }})
			_ = bar.Finish()
			if err != nil {
				return err
			}
			fmt.Printf("windows %d of %d tokens, predicted tokens %d\n", res.Windows, seq, res.Tokens)
			fmt.Printf("loss %.4f nats/token, perplexity %.3f\n", res.Loss, res.Perplexity)
			fmt.Printf("time %.2fs, %.0f tokens/s\n", res.Seconds, float64(res.Tokens)/res.Seconds)
			return nil
		},
	}
}

// requireData marks --data of dataFlags required.
func requireData(flags []cli.Flag) []cli.Flag {
	flags[0].(*cli.StringFlag).Required = true
	return flags
}
