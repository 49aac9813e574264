package hub

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCacheDirFollowsHuggingFaceHub(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"HF_HUB_CACHE": "/c", "HF_HOME": "/h", "HOME": "/u"}, "/c"},
		{map[string]string{"HF_HOME": "/h", "XDG_CACHE_HOME": "/x", "HOME": "/u"}, "/h/hub"},
		{map[string]string{"XDG_CACHE_HOME": "/x", "HOME": "/u"}, "/x/huggingface/hub"},
		{map[string]string{"HOME": "/u"}, "/u/.cache/huggingface/hub"},
	} {
		got, err := CacheDir(func(k string) string { return tc.env[k] })
		if err != nil || got != tc.want {
			t.Errorf("%v: %q, %v; want %q", tc.env, got, err, tc.want)
		}
	}
	if _, err := CacheDir(func(string) string { return "" }); err == nil {
		t.Error("no environment at all: no error")
	}
}

func TestResolveCached(t *testing.T) {
	cache := t.TempDir()
	commit := "0123456789abcdef0123456789abcdef01234567"
	repo := RepoCacheDir(cache, "acme/tiny")
	if filepath.Base(repo) != "models--acme--tiny" {
		t.Fatalf("repo dir %s", repo)
	}
	snap := filepath.Join(repo, "snapshots", commit)
	if err := os.MkdirAll(snap, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteRef(cache, "acme/tiny", "main", commit); err != nil {
		t.Fatal(err)
	}
	for _, rev := range []string{"main", commit} {
		if got, err := ResolveCached(cache, "acme/tiny", rev); err != nil || got != snap {
			t.Errorf("revision %s: %q, %v", rev, got, err)
		}
	}
	for _, tc := range []struct{ repo, rev, want string }{
		{"acme/other", "main", "growthtrain fetch acme/other"},
		{"acme/tiny", "v2", "refs/v2"},
		{"acme/tiny", "fedcba9876543210fedcba9876543210fedcba98", "no snapshot"},
		{"acme/tiny", "../x", "bad revision"},
	} {
		_, err := ResolveCached(cache, tc.repo, tc.rev)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s@%s: %v, want an error containing %q", tc.repo, tc.rev, err, tc.want)
		}
	}
	for s, want := range map[string]bool{"acme/tiny": true, "acme/tiny@v1": true, "models/tiny/": false,
		"./acme/tiny": false, "/abs/path": false, "a/b/c": false, "file.gguf": false} {
		if IsRepoID(s) != want {
			t.Errorf("IsRepoID(%q) = %v", s, !want)
		}
	}
}
