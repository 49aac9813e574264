package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/growthtrain/growthtrain/trainer"
)

// A budget written from a template into another folder names the template's files: every
// relative path resolves to the same file from the new folder, and the values that are not
// paths stay as they are.
func TestRebaseTemplatePaths(t *testing.T) {
	root := t.TempDir()
	tdir, odir := filepath.Join(root, "configs"), filepath.Join(root, "elsewhere", "deeper")
	for _, d := range []string{tdir, odir, filepath.Join(root, "data")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	phases := "\n[[phase]]\nname = \"all\"\nlayers = \"0-1\"\nsteps = 2\n"
	model := "[model]\nnum_hidden_layers = 2\nhidden_size = 16\nintermediate_size = 32\nnum_attention_heads = 2\nnum_key_value_heads = 1\nmax_position_embeddings = 32\n"
	cases := []struct {
		name, data, checkpoint string
		check                  func(t *testing.T, b *trainer.Budget)
	}{
		{"relative tokenizer, corpus, cache and checkpoint dir",
			"[data]\ncorpus = [\"../data/a.txt\", \"../data/b.txt\"]  # two files\ntokenizer = \"../data/tok.json\"\ncache_dir = \"../.cache/tokens\"\n",
			"[checkpoint]\ndir = \"ckpt\"\n",
			func(t *testing.T, b *trainer.Budget) {
				want := map[string]string{
					b.Resolve(b.Data.Corpus[0]): filepath.Join(root, "data", "a.txt"),
					b.Resolve(b.Data.Corpus[1]): filepath.Join(root, "data", "b.txt"),
					b.Resolve(b.Data.Tokenizer): filepath.Join(root, "data", "tok.json"),
					b.Resolve(b.Data.CacheDir):  filepath.Join(root, ".cache", "tokens"),
					b.Resolve(b.Checkpoint.Dir): filepath.Join(tdir, "ckpt"),
				}
				for got, w := range want {
					if filepath.Clean(got) != w {
						t.Errorf("resolves to %s, want %s", got, w)
					}
				}
			}},
		{"values that are not paths", "[data]\ncorpus = [\"default\"]\ntokenizer = \"train:300\"\n", "",
			func(t *testing.T, b *trainer.Budget) {
				if b.Data.Corpus[0] != "default" || b.Data.Tokenizer != "train:300" || b.Model.Init != "scratch" {
					t.Errorf("corpus %v, tokenizer %q, init %q", b.Data.Corpus, b.Data.Tokenizer, b.Model.Init)
				}
			}},
		{"absolute paths", "[data]\ntokenizer = \"" + filepath.Join(root, "data", "tok.json") + "\"\n", "",
			func(t *testing.T, b *trainer.Budget) {
				if b.Data.Tokenizer != filepath.Join(root, "data", "tok.json") {
					t.Errorf("tokenizer %q", b.Data.Tokenizer)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			head := "[run]\nname = \"t\"\n\n" + model + "\n" + tc.data + "\n" + tc.checkpoint
			tpath := filepath.Join(tdir, "t.toml")
			if err := os.WriteFile(tpath, []byte(head+phases), 0o644); err != nil {
				t.Fatal(err)
			}
			tb, err := trainer.LoadBudget(tpath)
			if err != nil {
				t.Fatal(err)
			}
			opath := filepath.Join(odir, "out.toml")
			if err := os.WriteFile(opath, []byte(rebaseTemplatePaths(head, tb, tpath, opath)+phases), 0o644); err != nil {
				t.Fatal(err)
			}
			b, err := trainer.LoadBudget(opath)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, b)
		})
	}
}
