package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/growthtrain/growthtrain/internal/testref"
)

// runErr runs the CLI in-process with stderr captured and a deadline (a flag that made a command
// spin forever fails the test instead of hanging it).
func runErr(t *testing.T, args ...string) (error, string) {
	t.Helper()
	var stderr bytes.Buffer
	app := newApp()
	app.ErrWriter = &stderr
	done := make(chan error, 1)
	go func() { done <- app.Run(append([]string{"growthtrain"}, args...)) }()
	select {
	case err := <-done:
		return err, stderr.String()
	case <-time.After(60 * time.Second):
		t.Fatalf("growthtrain %s did not return", strings.Join(args, " "))
		return nil, ""
	}
}

// Every numeric flag is checked before any work: out of range, NaN or infinite values are an
// error naming the flag and its range (eval --seq-len 0 used to spin forever; negative values
// panicked; others were accepted without a word).
func TestNumericFlagsValidated(t *testing.T) {
	dir := tinyModelDir(t)
	text := filepath.Join(testref.RepoRoot(t), "model", "testdata", "moby_dick_ch1-3.txt")
	out := filepath.Join(t.TempDir(), "budget.toml")
	budget := writeFile(t, "b.toml", "[run]\noutput = \"x\"\n[model]\nnum_hidden_layers = 2\n[[phase]]\nlayers = \"all\"\nsteps = 2\n")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"eval", "-m", dir, "--data", text, "--seq-len", "0"}, "--seq-len 0: want"},
		{[]string{"eval", "-m", dir, "--data", text, "--seq-len", "1"}, "--seq-len 1: want"},
		{[]string{"eval", "-m", dir, "--data", text, "--seq-len", "-4"}, "--seq-len -4: want"},
		{[]string{"eval", "-m", dir, "--data", text, "--batch", "0"}, "--batch 0: want"},
		{[]string{"eval", "-m", dir, "--data", text, "--max-tokens", "-1"}, "--max-tokens -1: want"},
		{[]string{"analyze", "-m", dir, "--data", text, "--seq-len", "0", "-o", t.TempDir()}, "--seq-len 0: want"},
		{[]string{"analyze", "-m", dir, "--batch", "-1", "-o", t.TempDir()}, "--batch -1: want"},
		{[]string{"analyze", "-m", dir, "--eval-tokens", "-1", "-o", t.TempDir()}, "--eval-tokens -1: want"},
		{[]string{"analyze", "-m", dir, "--bootstrap", "0", "-o", t.TempDir()}, "--bootstrap 0: want"},
		{[]string{"analyze", "-m", dir, "--recovery-steps", "-5", "-o", t.TempDir()}, "--recovery-steps -5: want"},
		{[]string{"generate", "-m", dir, "-p", "x", "--max-new-tokens", "0"}, "--max-new-tokens 0: want"},
		{[]string{"generate", "-m", dir, "-p", "x", "--max-new-tokens", "-3"}, "--max-new-tokens -3: want"},
		{[]string{"generate", "-m", dir, "-p", "x", "--temperature", "NaN"}, "--temperature NaN: want"},
		{[]string{"generate", "-m", dir, "-p", "x", "--temperature", "-1"}, "--temperature -1: want"},
		{[]string{"generate", "-m", dir, "-p", "x", "--temperature", "Inf"}, "--temperature +Inf: want"},
		{[]string{"generate", "-m", dir, "-p", "x", "--top-k", "-1"}, "--top-k -1: want"},
		{[]string{"budget", "--from", "a.json", "--cost", "NaN", "-o", out}, "--cost NaN: want"},
		{[]string{"budget", "--from", "a.json", "--cost", "0", "-o", out}, "--cost 0: want"},
		{[]string{"budget", "--from", "a.json", "--cost", "1.5", "-o", out}, "--cost 1.5: want"},
		{[]string{"budget", "--from", "a.json", "--phases", "0", "-o", out}, "--phases 0: want"},
		{[]string{"budget", "--from", "a.json", "--steps", "0", "-o", out}, "--steps 0: want"},
		{[]string{"reproduce", "-o", t.TempDir(), "--seeds", "0", "growth"}, "--seeds 0: want"},
		{[]string{"reproduce", "-o", t.TempDir(), "-m", dir, "--bootstrap", "0", "ablation"}, "--bootstrap 0: want"},
		{[]string{"reproduce", "-o", t.TempDir(), "-m", dir, "--recovery-steps", "-5", "recovery"}, "--recovery-steps -5: want"},
		{[]string{"selftest", "--steps", "0"}, "--steps 0: want"},
		{[]string{"selftest", "--hidden", "-2"}, "--hidden -2: want"},
		{[]string{"tokenizer", "train", "--vocab-size", "0", "-o", filepath.Join(t.TempDir(), "t.json"), text}, "--vocab-size 0: want"},
		{[]string{"tokenizer", "train", "--vocab-size", "300", "--min-frequency", "0", "-o", filepath.Join(t.TempDir(), "t.json"), text}, "--min-frequency 0: want"},
		{[]string{"-c", budget, "--stop-at", "-1"}, "--stop-at -1: want"},
		{[]string{"train", "-c", budget, "--stop-at", "-1"}, "--stop-at -1: want"},
		{[]string{"-c", budget, "--activation-checkpointing", "1-3"}, `--activation-checkpointing: layer range "1-3" is outside 0-1`},
		{[]string{"train", "-c", budget, "--activation-checkpointing", "top"}, `--activation-checkpointing: layer "top": want a number`},
		{[]string{"train", "-c", budget, "--activation-checkpointing", ","}, `--activation-checkpointing: ",": want all, none, or layers`},
	}
	for _, tc := range cases {
		t.Run(tc.args[0]+" "+strings.TrimSuffix(tc.want, ": want"), func(t *testing.T) {
			err, _ := runErr(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// generate says on stderr when the model's context length, not --max-new-tokens, ended it.
func TestGenerateSaysWhenContextEndsIt(t *testing.T) {
	dir := tinyModelDir(t) // context of 128 tokens
	err, stderr := runErr(t, "generate", "-m", dir, "-p", "Call me Ishmael.", "--max-new-tokens", "500")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "context length of 128 tokens") {
		t.Fatalf("stderr %q does not say the context length stopped generation", stderr)
	}
	err, stderr = runErr(t, "generate", "-m", dir, "-p", "Call me Ishmael.", "--max-new-tokens", "3")
	if err != nil || strings.Contains(stderr, "context length") {
		t.Fatalf("a short generation: %v, stderr %q", err, stderr)
	}
}
