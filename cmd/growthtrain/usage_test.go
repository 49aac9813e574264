package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/internal/testref"
)

// runStreams runs the CLI as main does and returns its exit status, stdout and stderr (what the
// command writes to os.Stdout and os.Stderr, and runMain's error report).
func runStreams(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	capture := func(f **os.File) (restore func() string) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		saved := *f
		*f = w
		done := make(chan string)
		go func() {
			b, _ := io.ReadAll(r)
			done <- string(b)
		}()
		return func() string {
			*f = saved
			w.Close()
			return <-done
		}
	}
	stdout, stderr := capture(&os.Stdout), capture(&os.Stderr)
	code := runMainTo(os.Stderr, append([]string{"growthtrain"}, args...))
	return code, stdout(), stderr()
}

// Every class of usage error exits with 2 and prints the error and the usage line on stderr,
// nothing on stdout; a command's own failure exits with 1 and no usage line; help is a result
// (stdout, status 0).
func TestUsageConventions(t *testing.T) {
	text := filepath.Join(testref.RepoRoot(t), "model", "testdata", "moby_dick_ch1-3.txt")
	out := t.TempDir()
	cases := []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"unknown command", []string{"evl"}, 2, `unknown command "evl"`},
		{"unknown subcommand", []string{"tokenizer", "trian"}, 2, `unknown command "trian"`},
		{"missing subcommand", []string{"tokenizer"}, 2, "missing command (train)"},
		{"unknown flag", []string{"eval", "--bogus", "-m", "x", "--data", text}, 2, "flag provided but not defined: -bogus"},
		{"flag after a positional", []string{"fetch", "org/name", "--revision", "v1"}, 2, "flag --revision after the positional argument \"org/name\""},
		{"flag after a stray argument", []string{"eval", "-m", "/nonexistent", "extra", "--data", text}, 2, "flag --data after the positional argument \"extra\""},
		{"positional where none is taken", []string{"version", "extra"}, 2, `unexpected argument "extra"`},
		{"missing required flag", []string{"eval", "--data", text}, 2, "missing --model (-m)"},
		{"missing required flags", []string{"budget", "--cost", "0.5"}, 2, "missing --from, --output (-o)"},
		{"value out of range", []string{"eval", "-m", "/nonexistent", "--data", text, "--seq-len", "0"}, 2, "--seq-len 0: want"},
		{"value not in the list", []string{"analyze", "-m", "/nonexistent", "--format", "gif", "-o", out}, 2, `--format "gif"`},
		{"unknown metric", []string{"analyze", "-m", "/nonexistent", "--metrics", "ablation,lense", "-o", out}, 2, `unknown metric "lense"`},
		{"unknown data format", []string{"eval", "-m", "/nonexistent", "--data", text, "--data-format", "csv"}, 2, `unknown data format "csv"`},
		{"unparsable value", []string{"eval", "-m", "/nonexistent", "--data", text, "--batch", "two"}, 2, "invalid value \"two\" for flag -batch"},
		{"a command's own failure", []string{"eval", "-m", "/nonexistent/model", "--data", text}, 1, "/nonexistent/model"},
		{"not a model", []string{"eval", "-m", text, "--data", text}, 1, "not a model file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runStreams(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d (want %d), stderr:\n%s\nwant %q in it", code, tc.code, stderr, tc.want)
			}
			if stdout != "" {
				t.Errorf("stdout is not empty:\n%s", stdout)
			}
			if hasUsage := strings.Contains(stderr, "\nusage: "); hasUsage != (tc.code == 2) {
				t.Errorf("usage line printed: %v, want %v:\n%s", hasUsage, tc.code == 2, stderr)
			}
			if strings.Count(stderr, "growthtrain: ") != 1 {
				t.Errorf("the error is not printed exactly once:\n%s", stderr)
			}
		})
	}
	// The usage line is the command's own.
	if _, _, stderr := runStreams(t, "eval", "--data", text); !strings.Contains(stderr, "usage: growthtrain eval -m MODEL") {
		t.Errorf("eval's usage line missing:\n%s", stderr)
	}
	// Help is asked for: stdout, status 0.
	for _, args := range [][]string{{"--help"}, {"eval", "--help"}, {"tokenizer", "train", "--help"}} {
		code, stdout, stderr := runStreams(t, args...)
		if code != 0 || !strings.Contains(stdout, "USAGE:") || stderr != "" {
			t.Errorf("%v: exit %d, stdout %d bytes, stderr %q", args, code, len(stdout), stderr)
		}
	}
}

// Each flag's help shows one default: the value urfave/cli prints, or the flag's own words, not
// both (--recovery-steps used to say "(default: 200 on a GPU ...) (default: 0)").
func TestHelpShowsOneDefault(t *testing.T) {
	for _, cmd := range newApp().Commands {
		for _, f := range cmd.Flags {
			s := f.String()
			if n := strings.Count(s, "default"); n > 1 {
				t.Errorf("%s: %s", cmd.Name, s)
			}
		}
	}
}
