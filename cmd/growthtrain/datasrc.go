package main

import (
	"fmt"

	"github.com/growthtrain/growthtrain/data"
	"github.com/urfave/cli/v2"
)

// dataFlags are the flags of an evaluation text: --data with the usage what, and how to read it.
func dataFlags(what string) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "data", Usage: what + "; a text file, a JSON Lines file (.jsonl) or a Parquet file or folder of shards (.parquet)"},
		&cli.StringFlag{Name: "data-format", Value: string(data.FormatAuto), Usage: "auto (from the name), text, jsonl or parquet"},
		&cli.StringFlag{Name: "data-field", Value: "text", Usage: "the JSONL field or Parquet column holding the text"},
	}
}

// dataSource parses --data-format and --data-field.
func dataSource(c *cli.Context) (data.RecordOptions, error) {
	f, err := data.ParseFormat(c.String("data-format"))
	if err != nil {
		return data.RecordOptions{}, usageError(c, fmt.Errorf("--data-format: %w", err))
	}
	return data.RecordOptions{Format: f, Field: c.String("data-field")}, nil
}
