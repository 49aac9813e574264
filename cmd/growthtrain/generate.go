package main

import (
	"fmt"
	"math"
	"os"
	"slices"

	"github.com/growthtrain/growthtrain/model"
	"github.com/urfave/cli/v2"
)

func generateCommand() *cli.Command {
	return &cli.Command{
		Name:      "generate",
		Usage:     "continue a prompt with a model (greedy or sampled)",
		UsageText: `growthtrain generate -m MODEL -p "text" [--max-new-tokens N] [--temperature T] [--chat]`,
		Flags: append(modelFlags(),
			&cli.StringFlag{Name: "prompt", Aliases: []string{"p"}, Required: true, Usage: "text to continue"},
			intIn(&cli.IntFlag{Name: "max-new-tokens", Value: 60, Usage: "tokens to generate at most (the model's context length also ends generation)"}, 1, maxNewTokens, ""),
			floatIn(&cli.Float64Flag{Name: "temperature", Usage: "sampling temperature; 0 is greedy"}, 0, math.Inf(1), false, "0: greedy"),
			intIn(&cli.IntFlag{Name: "top-k", Value: 50, Usage: "sample among the k most likely tokens (with --temperature > 0; 0: all)"}, 0, math.MaxInt32, "0: no top-k filter"),
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "sampling seed"},
			&cli.BoolFlag{Name: "chat", Usage: "wrap the prompt in the ChatML turn format of instruct models (<|im_start|>user ...)"},
		),
		Action: func(c *cli.Context) error {
			m, tok, err := loadModel(c)
			if err != nil {
				return err
			}
			defer m.Close()
			prompt := c.String("prompt")
			var stops []int64
			if c.Bool("chat") {
				end, ok := tok.TokenID("<|im_end|>")
				if _, ok2 := tok.TokenID("<|im_start|>"); !ok || !ok2 {
					return fmt.Errorf("--chat: the tokenizer has no <|im_start|>/<|im_end|> tokens")
				}
				prompt = "<|im_start|>user\n" + prompt + "<|im_end|>\n<|im_start|>assistant\n"
				stops = append(stops, end)
			}
			if eos, ok := tok.EOS(); ok {
				stops = append(stops, eos)
			}
			ids, err := tok.TryEncode(prompt)
			if err != nil {
				return err
			}
			if !c.Bool("chat") {
				fmt.Print(c.String("prompt"))
			}
			var emitted []int64
			printed := ""
			stopped := false // by a stop token
			out, err := m.Generate(ids, model.GenerateOptions{
				MaxNewTokens: c.Int("max-new-tokens"), Temperature: c.Float64("temperature"),
				TopK: c.Int("top-k"), Seed: c.Uint64("seed"), StopTokens: stops,
				OnToken: func(id int64) bool {
					if slices.Contains(stops, id) {
						stopped = true
						return false
					}
					// Decode the whole continuation so multi-byte characters split over tokens print whole.
					emitted = append(emitted, id)
					if s, err := tok.Decode(emitted); err == nil && len(s) > len(printed) {
						fmt.Print(s[len(printed):])
						printed = s
					}
					return true
				},
			})
			fmt.Println()
			if err != nil {
				fmt.Fprintln(os.Stderr)
				return err
			}
			if n := m.Config.MaxPositionEmbeddings; !stopped && len(out) < c.Int("max-new-tokens") && len(ids)+len(out) >= n {
				fmt.Fprintf(c.App.ErrWriter, "generate: stopped after %d new tokens at the model's context length of %d tokens (the prompt has %d)\n",
					len(out), n, len(ids))
			}
			return nil
		},
	}
}
