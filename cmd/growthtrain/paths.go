package main

import "path/filepath"

// smolLM2GGUF is where `make smollm2` puts SmolLM2-135M-Instruct (4-bit GGUF), relative to the
// working directory (the repository root when run through make). It is the default model of
// `reproduce`, and its tokenizer is what a budget's `tokenizer = "auto"` picks when the file
// exists.
var smolLM2GGUF = filepath.Join(".cache", "smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")

// autoTokenizer is smolLM2GGUF as an absolute path, for trainer.Options.AutoTokenizer.
func autoTokenizer() string {
	p, err := filepath.Abs(smolLM2GGUF)
	if err != nil {
		return smolLM2GGUF
	}
	return p
}
