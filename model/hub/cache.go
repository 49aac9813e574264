package hub

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The Hugging Face cache layout huggingface_hub and transformers share:
//
//	<cache>/models--<owner>--<name>/refs/<revision>        the commit the revision resolved to
//	<cache>/models--<owner>--<name>/snapshots/<commit>/... the files of that commit
//
// where <cache> is $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.
// (huggingface_hub stores each file once under blobs/ and links it from the snapshot; a plain
// file in the snapshot is read the same way.)

// CacheDir returns the hub cache directory from the environment, read through getenv (os.Getenv
// in the command; tests pass their own).
func CacheDir(getenv func(string) string) (string, error) {
	if d := getenv("HF_HUB_CACHE"); d != "" {
		return d, nil
	}
	if d := getenv("HF_HOME"); d != "" {
		return filepath.Join(d, "hub"), nil
	}
	if x := getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(x, "huggingface", "hub"), nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", fmt.Errorf("hub cache: none of HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME or HOME is set")
	}
	return filepath.Join(home, ".cache", "huggingface", "hub"), nil
}

// IsRepoID reports whether s has the shape of a hub model id (owner/name) rather than a local
// path: two non-empty parts without path syntax.
func IsRepoID(s string) bool {
	repo, _, _ := strings.Cut(s, "@")
	if checkRepo(repo) != nil || strings.Count(repo, "/") != 1 || strings.HasPrefix(repo, ".") || strings.HasPrefix(repo, "~") {
		return false
	}
	return true
}

// RepoCacheDir is the cache directory of a model repo: <cache>/models--owner--name.
func RepoCacheDir(cache, repo string) string {
	return filepath.Join(cache, "models--"+strings.ReplaceAll(repo, "/", "--"))
}

// SplitRevision splits "owner/name@rev" into the repo and the revision (default "main").
func SplitRevision(id string) (repo, revision string) {
	repo, revision, ok := strings.Cut(id, "@")
	if !ok || revision == "" {
		revision = DefaultRevision
	}
	return repo, revision
}

// ResolveCached returns the snapshot directory of repo at revision in the cache: revision is
// a commit, or a branch or tag whose refs/ file names the commit. An error says where it looked
// and how to fill the cache.
func ResolveCached(cache, repo, revision string) (string, error) {
	if err := checkRepo(repo); err != nil {
		return "", err
	}
	dir := RepoCacheDir(cache, repo)
	commit := revision
	if !commitHex.MatchString(revision) {
		if strings.Contains(revision, "..") || strings.HasPrefix(revision, "/") {
			return "", fmt.Errorf("hub cache: bad revision %q", revision)
		}
		data, err := os.ReadFile(filepath.Join(dir, "refs", filepath.FromSlash(revision)))
		if err != nil {
			return "", fmt.Errorf("model %s (revision %s) is not in the Hugging Face cache %s (no %s); download it with `growthtrain fetch %s`",
				repo, revision, cache, filepath.Join(dir, "refs", revision), repo)
		}
		commit = strings.TrimSpace(string(data))
		if !commitHex.MatchString(commit) {
			return "", fmt.Errorf("hub cache: %s holds %q, not a commit hash", filepath.Join(dir, "refs", revision), commit)
		}
	}
	snap := filepath.Join(dir, "snapshots", commit)
	if st, err := os.Stat(snap); err != nil || !st.IsDir() {
		return "", fmt.Errorf("model %s: the Hugging Face cache has no snapshot %s; download it with `growthtrain fetch %s`", repo, snap, repo)
	}
	return snap, nil
}

// WriteRef records that revision resolved to commit (refs/<revision>), as huggingface_hub does,
// atomically. A commit revision needs no ref.
func WriteRef(cache, repo, revision, commit string) error {
	if revision == commit || commitHex.MatchString(revision) {
		return nil
	}
	if strings.Contains(revision, "..") || strings.HasPrefix(revision, "/") {
		return fmt.Errorf("hub cache: bad revision %q", revision)
	}
	path := filepath.Join(RepoCacheDir(cache, repo), "refs", filepath.FromSlash(revision))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("hub cache: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(commit), 0o644); err != nil {
		return fmt.Errorf("hub cache: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("hub cache: %w", err)
	}
	return nil
}
