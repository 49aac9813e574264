package main

import (
	"fmt"
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
			&cli.IntFlag{Name: "max-new-tokens", Value: 60, Usage: "tokens to generate at most"},
			&cli.Float64Flag{Name: "temperature", Usage: "sampling temperature; 0 is greedy"},
			&cli.IntFlag{Name: "top-k", Value: 50, Usage: "sample among the k most likely tokens (with --temperature > 0)"},
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
			_, err = m.Generate(ids, model.GenerateOptions{
				MaxNewTokens: c.Int("max-new-tokens"), Temperature: c.Float64("temperature"),
				TopK: c.Int("top-k"), Seed: c.Uint64("seed"), StopTokens: stops,
				OnToken: func(id int64) bool {
					if slices.Contains(stops, id) {
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
			}
			return err
		},
	}
}
