package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/growthtrain/growthtrain/model/hub"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

func fetchCommand() *cli.Command {
	return &cli.Command{
		Name:      "fetch",
		Usage:     "download a model (config.json, weights, tokenizer) from the Hugging Face hub",
		UsageText: "growthtrain fetch [-o DIR] [--revision REV] OWNER/NAME  (e.g. HuggingFaceTB/SmolLM2-135M)",
		ArgsUsage: "OWNER/NAME",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "directory to write into (default: the Hugging Face cache, HF_HUB_CACHE or HF_HOME/hub, where -m OWNER/NAME and transformers find it)"},
			&cli.StringFlag{Name: "revision", Value: "main", Usage: "branch, tag or commit"},
			&cli.StringFlag{Name: "endpoint", Usage: "hub URL (default: $HF_ENDPOINT, else https://huggingface.co)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 || !strings.Contains(c.Args().First(), "/") {
				return usageError(c, fmt.Errorf("fetch needs one repository id like HuggingFaceTB/SmolLM2-135M"))
			}
			repo := c.Args().First()
			// Ctrl-C stops the transfer and keeps the partial file, so a rerun resumes.
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			defer stop()
			client := &hub.Client{
				Endpoint:     hubEndpoint(c.String("endpoint")),
				Token:        hubToken(),
				ShowProgress: term.IsTerminal(int(os.Stderr.Fd())),
				Logf:         func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) },
			}
			rev, dir := c.String("revision"), c.String("output")
			var cache, commit string
			if dir == "" {
				// The Hugging Face cache layout, shared with transformers:
				// models--owner--name/snapshots/<commit>/ and refs/<revision>.
				var err error
				if cache, err = hub.CacheDir(os.Getenv); err != nil {
					return err
				}
				info, err := client.Stat(ctx, repo, rev, "config.json")
				if err != nil {
					return err
				}
				if commit = info.Commit; !isCommit(commit) {
					return fmt.Errorf("fetch %s: the hub did not say which commit %s is, so it cannot go into the cache; pass -o DIR", repo, rev)
				}
				dir = filepath.Join(hub.RepoCacheDir(cache, repo), "snapshots", commit)
			}
			fetchRev := rev
			if commit != "" {
				fetchRev = commit
			}
			paths, err := client.Fetch(ctx, repo, fetchRev, dir, nil)
			if err == nil && commit != "" {
				err = hub.WriteRef(cache, repo, rev, commit)
			}
			for _, p := range paths {
				fmt.Println(p)
			}
			if ctx.Err() != nil {
				return fmt.Errorf("interrupted; run the same command again to resume")
			}
			return err
		},
	}
}

// hubEndpoint is --endpoint, else $HF_ENDPOINT (as huggingface_hub reads it), else the
// package's default.
func hubEndpoint(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv("HF_ENDPOINT")
}

// hubToken is $HF_TOKEN, else the older $HUGGING_FACE_HUB_TOKEN.
func hubToken() string {
	if t := os.Getenv("HF_TOKEN"); t != "" {
		return t
	}
	return os.Getenv("HUGGING_FACE_HUB_TOKEN")
}

// isCommit reports whether s is a full commit hash.
func isCommit(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}
