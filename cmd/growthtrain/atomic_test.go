package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// linkSentinels replaces every regular file in dir by a hard link to a sentinel copy of it
// (kept in a directory of its own), and returns the sentinels. A command that rewrites a file
// in place writes through the link into its sentinel; one that writes a new file and renames
// it over the old name (what a kill at any moment needs) leaves the sentinel as it was.
func linkSentinels(t *testing.T, dir string) map[string]string {
	t.Helper()
	keep := t.TempDir()
	out := map[string]string{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		s := filepath.Join(keep, fmt.Sprint(i))
		if err := os.WriteFile(s, []byte("sentinel "+e.Name()), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(s, p); err != nil {
			t.Fatal(err)
		}
		out[p] = s
	}
	if len(out) == 0 {
		t.Fatalf("no output files in %s", dir)
	}
	return out
}

// checkSentinels fails for each output that was written in place, and for each output that was
// not rewritten at all.
func checkSentinels(t *testing.T, sentinels map[string]string) {
	t.Helper()
	for p, s := range sentinels {
		raw, _ := os.ReadFile(s)
		if string(raw) != "sentinel "+filepath.Base(p) {
			t.Errorf("%s was rewritten in place (a kill there leaves a partial or empty file)", filepath.Base(p))
		}
		st1, err1 := os.Stat(p)
		st2, err2 := os.Stat(s)
		if err1 != nil || err2 != nil || os.SameFile(st1, st2) {
			t.Errorf("%s was not written again", filepath.Base(p))
		}
	}
}

// Every user-visible output (tables, plots, reports, budgets, reproduce's files) is replaced
// atomically: a new file renamed over the old one, never the old one truncated and rewritten.
func TestOutputsReplacedAtomically(t *testing.T) {
	dir := tinyModelDir(t, 4)
	analysisDir := t.TempDir()
	analyze := []string{"analyze", "-m", dir, "-o", analysisDir, "--metrics", "ablation,structure", "--bootstrap", "20"}
	budgetDir := t.TempDir()
	budget := []string{"budget", "--from", filepath.Join(analysisDir, "analysis.json"), "--steps", "6", "-o", filepath.Join(budgetDir, "budget.toml")}
	reproDir := t.TempDir()
	reproduce := []string{"reproduce", "-m", dir, "-o", reproDir, "--bootstrap", "20", "ablation"}
	growthDir := t.TempDir()
	growth := []string{"reproduce", "--budget", tinyTrainBudget(t, tinyCorpus(t), "train:300", ""), "--seeds", "1", "-o", growthDir, "growth"}
	for _, tc := range []struct {
		name string
		args []string
		dir  string
	}{
		{"analyze", analyze, analysisDir},
		{"budget", budget, budgetDir},
		{"reproduce table", reproduce, reproDir},
		{"reproduce growth", growth, growthDir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := run(tc.args...); err != nil {
				t.Fatal(err)
			}
			sentinels := linkSentinels(t, tc.dir)
			if err := run(tc.args...); err != nil {
				t.Fatal(err)
			}
			checkSentinels(t, sentinels)
		})
	}
}
