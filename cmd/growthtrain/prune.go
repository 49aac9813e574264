package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/growthtrain/growthtrain/analysis"
	"github.com/growthtrain/growthtrain/data"
	"github.com/growthtrain/growthtrain/internal/fsutil"
	"github.com/growthtrain/growthtrain/model"
	"github.com/growthtrain/growthtrain/tokenizer"
	"github.com/urfave/cli/v2"
)

func pruneCommand() *cli.Command {
	return &cli.Command{
		Name:  "prune",
		Usage: "remove layers (a list, or the k least important by a metric), optionally heal, and export the model",
		UsageText: "growthtrain prune -m MODEL (--drop 3,5 | --k N --metric " + strings.Join(analysis.PruneMetrics, "|") +
			") [--data FILE] [--heal-steps N] -o DIR",
		Flags: append(modelFlags(),
			&cli.StringFlag{Name: "drop", Usage: "comma-separated layers to remove (0-based), e.g. 3,5"},
			intIn(&cli.IntFlag{Name: "k", Usage: "remove the k least important layers by --metric"}, 0, 1<<20, ""),
			&cli.StringFlag{Name: "metric", Value: analysis.PruneBlockInfluence, Usage: "with --k: " + strings.Join(analysis.PruneMetrics, ", ")},
			&cli.StringFlag{Name: "data", Usage: "evaluation text for the metric and the perplexity report (default: the paper-sized set of 10 short sentences)"},
			intIn(&cli.IntFlag{Name: "eval-tokens", Value: 16384, Usage: "with --data: evaluate at most this many tokens (0: all)"}, 0, maxTokens, "0: all"),
			intIn(&cli.IntFlag{Name: "seq-len", Value: 256, Usage: "with --data: tokens per evaluation window"}, 2, maxSeqLen, "capped at the model's context"),
			intIn(&cli.IntFlag{Name: "batch", Value: 8, Usage: "windows per forward pass"}, 1, maxBatch, ""),
			intIn(&cli.IntFlag{Name: "heal-steps", Usage: "fine-tune the pruned model for N AdamW steps (0: no healing)"}, 0, 1<<24, ""),
			floatIn(&cli.Float64Flag{Name: "heal-lr", Value: 1e-4, Usage: "healing learning rate"}, 0, 1, true, ""),
			intIn(&cli.IntFlag{Name: "heal-batch", Value: 4, Usage: "healing windows per step"}, 1, maxBatch, ""),
			intIn(&cli.IntFlag{Name: "heal-seq-len", Value: 128, Usage: "tokens per healing window"}, 2, maxSeqLen, "capped at the model's context"),
			&cli.StringFlag{Name: "train-data", Usage: "text to heal on (default: the embedded corpus' training split)"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the healing data order"},
			&cli.StringFlag{Name: "gguf", Usage: "also write DIR/model.gguf with the weight matrices in this type (" + strings.Join(ggufTypeNames(), ", ") + ")"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "directory for the pruned HF model (must not exist or be empty)"},
		),
		Action: pruneAction,
	}
}

// pruneReport is prune.json, written beside the exported model.
type pruneReport struct {
	Model      string               `json:"model"`
	Layers     int                  `json:"layers"`
	Metric     string               `json:"metric,omitempty"`
	Scores     []analysis.JSONFloat `json:"scores,omitempty"`
	Drop       []int                `json:"drop"`
	Eval       string               `json:"eval"`
	EvalTokens int                  `json:"eval_tokens"`
	PPLBefore  analysis.JSONFloat   `json:"ppl_before"`
	PPLAfter   analysis.JSONFloat   `json:"ppl_after"`
	HealSteps  int                  `json:"heal_steps"`
	PPLHealed  *analysis.JSONFloat  `json:"ppl_healed,omitempty"`
	HealSource string               `json:"heal_source,omitempty"`
}

func pruneAction(c *cli.Context) error {
	drop, k := c.String("drop"), c.Int("k")
	if (drop == "") == (k == 0) {
		return usageError(c, fmt.Errorf("prune: give exactly one of --drop LIST and --k N"))
	}
	if c.IsSet("metric") && drop != "" {
		return usageError(c, fmt.Errorf("prune: --metric chooses layers for --k; --drop names them itself"))
	}
	out := c.String("output")
	ggufType, wantGGUF := model.GGUFTypes[strings.ToLower(c.String("gguf"))]
	if c.String("gguf") != "" && !wantGGUF {
		return usageError(c, fmt.Errorf("--gguf %q: want one of %s", c.String("gguf"), strings.Join(ggufTypeNames(), ", ")))
	}
	if ents, err := os.ReadDir(out); err == nil && len(ents) > 0 {
		return fmt.Errorf("prune: output directory %s is not empty", out)
	}
	m, tok, err := loadModel(c)
	if err != nil {
		return err
	}
	defer m.Close()
	e := &analysis.Evaluator{M: m, Batch: c.Int("batch")}
	rep := pruneReport{Model: c.String("model"), Layers: m.Config.NumHiddenLayers, HealSteps: c.Int("heal-steps")}
	if p := c.String("data"); p != "" {
		text, err := data.ReadText(p)
		if err != nil {
			return err
		}
		ids := tok.Encode(text)
		if n := c.Int("eval-tokens"); n > 0 && n < len(ids) {
			ids = ids[:n]
		}
		e.Windows = data.Windows(ids, min(c.Int("seq-len"), m.Config.MaxPositionEmbeddings))
		rep.Eval = p
	} else {
		for _, s := range analysis.PaperSentences {
			e.Windows = append(e.Windows, tok.Encode(s))
		}
		rep.Eval = "paper-10-sentences"
	}
	if len(e.Windows) == 0 {
		return fmt.Errorf("prune: no evaluation windows (the evaluation text is too short)")
	}
	for _, w := range e.Windows {
		rep.EvalTokens += len(w) - 1
	}
	ppl := func(e *analysis.Evaluator) (float64, error) {
		nll, err := e.NLL()
		if err != nil {
			return 0, err
		}
		return analysis.Perplexity(nll, e.Tokens()), nil
	}
	before, err := ppl(e)
	if err != nil {
		return err
	}
	rep.PPLBefore = analysis.JSONFloat(before)
	if drop != "" {
		if rep.Drop, err = model.ParseLayerList(drop); err != nil {
			return fmt.Errorf("--drop: %w", err)
		}
	} else {
		choice, err := analysis.ChoosePrune(e, c.String("metric"), k)
		if err != nil {
			return err
		}
		rep.Metric, rep.Drop = choice.Metric, choice.Drop
		for _, s := range choice.Scores {
			rep.Scores = append(rep.Scores, analysis.JSONFloat(s))
		}
		fmt.Fprintf(os.Stderr, "%s scores (smaller = less important): %s\n", choice.Metric, formatScores(choice.Scores))
	}
	pruned, err := m.WithoutLayers(rep.Drop)
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	defer pruned.Close()
	if wantGGUF { // before any healing: refuse what cannot be written at once
		if _, err := model.GGUFArch(pruned.Config); err != nil {
			return err
		}
	}
	pe := &analysis.Evaluator{M: pruned, Windows: e.Windows, Batch: e.Batch}
	after, err := ppl(pe)
	if err != nil {
		return err
	}
	rep.PPLAfter = analysis.JSONFloat(after)
	fmt.Fprintf(os.Stderr, "prune %s: dropped layers %v of %d; perplexity on %s (%d tokens): %.3f before, %.3f after\n",
		rep.Model, rep.Drop, rep.Layers, rep.Eval, rep.EvalTokens, before, after)
	if n := c.Int("heal-steps"); n > 0 {
		opts := analysis.RunOptions{RecoverySteps: n, RecoveryBatch: c.Int("heal-batch"),
			RecoverySeqLen: min(c.Int("heal-seq-len"), pruned.Config.MaxPositionEmbeddings-1)}
		train, source, err := recoveryWindows(c.String("train-data"), data.RecordOptions{}, tok, opts, c.Uint64("seed"))
		if err != nil {
			return err
		}
		losses, err := analysis.Heal(pruned, train, analysis.HealOptions{Steps: n, BatchSize: opts.RecoveryBatch, LR: c.Float64("heal-lr"), Seed: c.Uint64("seed")})
		if err != nil {
			return err
		}
		healed, err := ppl(pe)
		if err != nil {
			return err
		}
		h := analysis.JSONFloat(healed)
		rep.PPLHealed, rep.HealSource = &h, source
		fmt.Fprintf(os.Stderr, "healed %d steps on %s (loss %.4f -> %.4f): perplexity %.3f\n", n, source, losses[0], losses[len(losses)-1], healed)
	}
	if err := saveHFWithTokenizer(pruned, tok, out); err != nil {
		return err
	}
	if wantGGUF {
		name := fmt.Sprintf("%s without layers %v", filepath.Base(strings.TrimRight(rep.Model, "/")), rep.Drop)
		if err := saveGGUFWithTokenizer(pruned, tok, filepath.Join(out, "model.gguf"), ggufType, name); err != nil {
			return err
		}
	}
	buf, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := fsutil.WriteFile(filepath.Join(out, "prune.json"), append(buf, '\n')); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s (%d layers; prune.json)\n", out, pruned.Config.NumHiddenLayers)
	fmt.Println(out) // the result, on stdout
	return nil
}

// saveHFWithTokenizer writes a complete HF directory: the model with the tokenizer's BOS/EOS
// ids in its configs, and the tokenizer's files.
func saveHFWithTokenizer(m *model.Model, tok *tokenizer.Tokenizer, dir string) error {
	if id, ok := tok.BOS(); ok {
		m.Config.BOSTokenID = &id
	}
	if id, ok := tok.EOS(); ok {
		m.Config.EOSTokenID = &id
	}
	if err := m.SaveHF(dir); err != nil {
		return err
	}
	return tok.SaveDir(dir)
}

func formatScores(s []float64) string {
	parts := make([]string, len(s))
	for i, x := range s {
		parts[i] = fmt.Sprintf("%d:%.4g", i, x)
	}
	return strings.Join(parts, " ")
}
