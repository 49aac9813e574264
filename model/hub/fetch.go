package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/growthtrain/growthtrain/internal/inputfile"
	"github.com/growthtrain/growthtrain/model/safetensors"
)

// DefaultFiles are the files Fetch needs to load a model: a missing one is an error (except
// model.safetensors, which may be replaced by a sharded checkpoint).
var DefaultFiles = []string{"config.json", "model.safetensors", "tokenizer.json"}

// OptionalFiles are fetched along with DefaultFiles when the repo has them.
var OptionalFiles = []string{"tokenizer_config.json", "generation_config.json", "special_tokens_map.json"}

const (
	singleWeights  = "model.safetensors"
	shardedWeights = "model.safetensors.index.json"
)

// Fetch downloads files of repo at revision ("" means "main") into destDir and returns their
// local paths. With no files it fetches DefaultFiles, plus the OptionalFiles the repo has;
// named files are all required. See FetchFiles.
func (c *Client) Fetch(ctx context.Context, repo, revision, destDir string, files []string) ([]string, error) {
	if len(files) == 0 {
		return c.FetchFiles(ctx, repo, revision, destDir, DefaultFiles, OptionalFiles)
	}
	return c.FetchFiles(ctx, repo, revision, destDir, files, nil)
}

// FetchFiles downloads the required files, then those optional files that exist (a file the
// hub answers 404 for is skipped), into destDir, in order, and returns the local paths.
//
// The revision is pinned to the commit the hub reports for the first file (X-Repo-Commit), so
// all files come from one commit even if the branch moves meanwhile. When a required
// "model.safetensors" is missing, "model.safetensors.index.json" and every shard it lists are
// downloaded instead.
func (c *Client) FetchFiles(ctx context.Context, repo, revision, destDir string, required, optional []string) ([]string, error) {
	if revision == "" {
		revision = DefaultRevision
	}
	f := &fetcher{c: c, repo: repo, revision: revision, rev: revision, destDir: destDir, done: map[string]bool{}}
	for _, name := range required {
		if err := f.get(ctx, name, false); err != nil {
			return f.paths, err
		}
	}
	for _, name := range optional {
		if err := f.get(ctx, name, true); err != nil {
			return f.paths, err
		}
	}
	return f.paths, nil
}

type fetcher struct {
	c        *Client
	repo     string
	revision string // as asked
	rev      string // revision used in URLs: the pinned commit once known
	destDir  string
	done     map[string]bool
	paths    []string
}

func (f *fetcher) stat(ctx context.Context, name string) (*FileInfo, error) {
	info, err := f.c.Stat(ctx, f.repo, f.rev, name)
	if err != nil {
		var he *HTTPError
		if errors.As(err, &he) && f.rev != f.revision {
			he.Revision = fmt.Sprintf("%s (commit %s)", f.revision, f.rev)
		}
		return nil, err
	}
	if f.rev == f.revision && commitHex.MatchString(info.Commit) {
		f.rev = info.Commit
	}
	return info, nil
}

func (f *fetcher) get(ctx context.Context, name string, optional bool) error {
	if f.done[name] {
		return nil
	}
	info, err := f.stat(ctx, name)
	switch {
	case err == nil:
	case fileMissing(err) && optional:
		f.c.logf("hub: %s has no %s, skipped", f.repo, name)
		f.done[name] = true
		return nil
	case fileMissing(err) && name == singleWeights:
		return f.getSharded(ctx, err)
	default:
		return err
	}
	p, err := f.c.DownloadFile(ctx, info, f.destDir)
	if err != nil {
		return err
	}
	f.done[name] = true
	f.paths = append(f.paths, p)
	return nil
}

// getSharded downloads model.safetensors.index.json and the shards its weight_map names.
func (f *fetcher) getSharded(ctx context.Context, singleErr error) error {
	info, err := f.stat(ctx, shardedWeights)
	if fileMissing(err) {
		return fmt.Errorf("%w (and there is no %s either)", singleErr, shardedWeights)
	}
	if err != nil {
		return err
	}
	p, err := f.c.DownloadFile(ctx, info, f.destDir)
	if err != nil {
		return err
	}
	f.done[shardedWeights] = true
	f.paths = append(f.paths, p)
	shards, err := readIndex(p)
	if err != nil {
		return err
	}
	for _, s := range shards {
		if err := f.get(ctx, s, false); err != nil {
			return err
		}
	}
	return nil
}

// readIndex returns the sorted distinct file names in an index's weight_map.
func readIndex(name string) ([]string, error) {
	data, err := inputfile.ReadFile(name, safetensors.MaxIndexSize, "safetensors index")
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("hub: %s: %w", name, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("hub: %s: empty or missing weight_map", name)
	}
	var shards []string
	for _, s := range idx.WeightMap {
		if err := checkFilename(s); err != nil {
			return nil, fmt.Errorf("hub: %s: %w", name, err)
		}
		shards = append(shards, s)
	}
	slices.Sort(shards)
	return slices.Compact(shards), nil
}
