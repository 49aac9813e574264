package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/internal/testref"
	"github.com/growthtrain/growthtrain/model"
)

// fetch without -o fills the Hugging Face cache layout; -m owner/name then finds the model
// there, and so does transformers (offline, from the same cache), with the same logits. A cache
// laid out as huggingface_hub does (snapshot files linked to blobs/) resolves too.
func TestHubIDsUseTheHuggingFaceCache(t *testing.T) {
	src := tinyModelDir(t)
	const commit = "0123456789abcdef0123456789abcdef01234567"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if len(parts) != 5 || parts[0] != "acme" || parts[1] != "tiny" || parts[2] != "resolve" {
			http.NotFound(w, r)
			return
		}
		data, err := os.ReadFile(filepath.Join(src, parts[4]))
		if err != nil {
			w.Header().Set("X-Error-Code", "EntryNotFound")
			http.NotFound(w, r)
			return
		}
		sum := sha256.Sum256(data)
		w.Header().Set("X-Repo-Commit", commit)
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		if r.Method == http.MethodHead {
			return
		}
		w.Write(data)
	}))
	defer srv.Close()
	cache := t.TempDir()
	t.Setenv("HF_HUB_CACHE", cache)
	if err := run("fetch", "--endpoint", srv.URL, "acme/tiny"); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(cache, "models--acme--tiny", "snapshots", commit)
	if _, err := os.Stat(filepath.Join(snap, "model.safetensors")); err != nil {
		t.Fatalf("fetch did not write the snapshot: %v", err)
	}
	if ref, err := os.ReadFile(filepath.Join(cache, "models--acme--tiny", "refs", "main")); err != nil || string(ref) != commit {
		t.Fatalf("refs/main = %q, %v", ref, err)
	}
	text := filepath.Join(testref.RepoRoot(t), "model", "testdata", "moby_dick_ch1-3.txt")
	for _, id := range []string{"acme/tiny", "acme/tiny@main", "acme/tiny@" + commit} {
		if err := run("eval", "-m", id, "--data", text, "--max-tokens", "200", "--seq-len", "64"); err != nil {
			t.Fatalf("eval -m %s: %v", id, err)
		}
	}
	if err := run("eval", "-m", "acme/absent", "--data", text); err == nil || !strings.Contains(err.Error(), "growthtrain fetch acme/absent") {
		t.Fatalf("eval -m acme/absent: %v", err)
	}
	ids := []int64{5, 17, 99, 3, 150, 42, 7, 8}
	m, err := model.Load(snap, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ours := forwardLogits(t, m, ids)
	m.Close()
	idsJSON, _ := json.Marshal(ids)
	out := testref.RunPython(t, `
import json, os, sys, torch
os.environ["HF_HUB_CACHE"], os.environ["HF_HUB_OFFLINE"] = sys.argv[1], "1"
from transformers import AutoModelForCausalLM
m = AutoModelForCausalLM.from_pretrained("acme/tiny").eval()
with torch.no_grad():
    print(json.dumps(m(torch.tensor([json.loads(sys.argv[2])])).logits.flatten().tolist()))
`, cache, string(idsJSON))
	var theirs []float32
	if err := json.Unmarshal(out, &theirs); err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(ours, theirs); d > 1e-4 {
		t.Fatalf("transformers on the cached model: logits differ by %g", d)
	}
	// huggingface_hub's own layout: blobs/<etag>, snapshot entries as relative symlinks.
	other := "fedcba9876543210fedcba9876543210fedcba98"
	repoDir := filepath.Join(cache, "models--acme--linked")
	if err := os.MkdirAll(filepath.Join(repoDir, "blobs"), 0o755); err != nil {
		t.Fatal(err)
	}
	lsnap := filepath.Join(repoDir, "snapshots", other)
	if err := os.MkdirAll(lsnap, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json"} {
		data, _ := os.ReadFile(filepath.Join(src, f))
		sum := sha256.Sum256(data)
		blob := hex.EncodeToString(sum[:])
		os.WriteFile(filepath.Join(repoDir, "blobs", blob), data, 0o644)
		if err := os.Symlink(filepath.Join("..", "..", "blobs", blob), filepath.Join(lsnap, f)); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(repoDir, "refs"), 0o755)
	os.WriteFile(filepath.Join(repoDir, "refs", "main"), []byte(other), 0o644)
	if err := run("eval", "-m", "acme/linked", "--data", text, "--max-tokens", "200", "--seq-len", "64"); err != nil {
		t.Fatalf("eval -m acme/linked: %v", err)
	}
}
