package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/growthtrain/growthtrain/internal/inputfile"
	"github.com/growthtrain/growthtrain/internal/jsonx"
)

// MaxIndexSize bounds model.safetensors.index.json (real ones list one line per tensor: well
// under a megabyte even for models with tens of thousands of tensors).
const MaxIndexSize = 64 << 20

// Sharded is a checkpoint split over several safetensors files and described by a Hugging Face
// index (model.safetensors.index.json). It has the same accessors as File.
type Sharded struct {
	path      string
	shards    []*File          // in shard-name order
	owner     map[string]*File // tensor -> shard holding it
	names     []string
	indexMeta map[string]any
}

var _ Reader = (*Sharded)(nil)

// OpenDir opens the checkpoint in dir: the index model.safetensors.index.json when present,
// otherwise the single file model.safetensors.
func OpenDir(dir string) (Reader, error) {
	idx := filepath.Join(dir, IndexName)
	if _, err := os.Stat(idx); err == nil {
		return OpenIndex(idx)
	}
	single := filepath.Join(dir, "model.safetensors")
	if _, err := os.Stat(single); err != nil {
		return nil, fmt.Errorf("%s: neither %s nor model.safetensors found", dir, IndexName)
	}
	return Open(single)
}

// OpenIndex reads a Hugging Face index file ({"metadata": {...}, "weight_map": {tensor: shard}})
// and opens every shard it names (relative to the index's directory). It fails if a shard is
// missing or invalid, names a path outside the directory, a tensor listed in the index is absent
// from its shard, a shard holds a tensor the index does not list, or a tensor appears in two
// shards.
func OpenIndex(path string) (*Sharded, error) {
	raw, err := inputfile.ReadFile(path, MaxIndexSize, "safetensors index")
	if err != nil {
		return nil, err
	}
	var idx struct {
		Metadata  map[string]any    `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&idx); err != nil {
		return nil, fmt.Errorf("%s: bad index JSON: %w", path, err)
	}
	if err := jsonx.CheckDuplicateKeys(raw, "weight_map"); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("%s: index has no weight_map entries", path)
	}
	dir := filepath.Dir(path)
	s := &Sharded{path: path, owner: map[string]*File{}, indexMeta: idx.Metadata}
	if s.indexMeta == nil {
		s.indexMeta = map[string]any{}
	}
	byShard := map[string][]string{}
	for tensor, shard := range idx.WeightMap {
		if shard == "" || shard != filepath.Base(shard) || shard == "." || shard == ".." || strings.ContainsAny(shard, `/\`) {
			return nil, fmt.Errorf("%s: tensor %q: shard name %q must be a plain file name", path, tensor, shard)
		}
		byShard[shard] = append(byShard[shard], tensor)
	}
	shardNames := make([]string, 0, len(byShard))
	for n := range byShard {
		shardNames = append(shardNames, n)
	}
	sort.Strings(shardNames)
	fail := func(err error) (*Sharded, error) {
		s.Close()
		return nil, err
	}
	seenIn := map[string]string{}
	for _, sn := range shardNames {
		f, err := Open(filepath.Join(dir, sn))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return fail(fmt.Errorf("%s: shard %s is missing: %w", path, sn, err))
			}
			return fail(fmt.Errorf("%s: shard %s: %w", path, sn, err))
		}
		s.shards = append(s.shards, f)
		for _, name := range f.names {
			if other, dup := seenIn[name]; dup {
				return fail(fmt.Errorf("%s: tensor %q is in two shards, %s and %s", path, name, other, sn))
			}
			seenIn[name] = sn
			if idx.WeightMap[name] != sn {
				if idx.WeightMap[name] == "" {
					return fail(fmt.Errorf("%s: shard %s holds tensor %q which the index does not list", path, sn, name))
				}
				// Reported as a duplicate when the listed shard also holds it (checked below).
				continue
			}
			s.owner[name] = f
		}
	}
	for tensor, shard := range idx.WeightMap {
		if s.owner[tensor] == nil {
			if other, ok := seenIn[tensor]; ok {
				return fail(fmt.Errorf("%s: tensor %q is listed in %s but stored in %s", path, tensor, shard, other))
			}
			return fail(fmt.Errorf("%s: tensor %q listed for shard %s is absent from it", path, tensor, shard))
		}
	}
	for n := range s.owner {
		s.names = append(s.names, n)
	}
	sort.Strings(s.names)
	return s, nil
}

// Path returns the index file name.
func (s *Sharded) Path() string { return s.path }

// Names returns all tensor names, sorted.
func (s *Sharded) Names() []string { return append([]string(nil), s.names...) }

// Info returns a tensor's description (offsets relative to its shard's data buffer).
func (s *Sharded) Info(name string) (TensorInfo, bool) {
	f := s.owner[name]
	if f == nil {
		return TensorInfo{}, false
	}
	return f.Info(name)
}

// Shard returns the file name of the shard holding name.
func (s *Sharded) Shard(name string) (string, bool) {
	f := s.owner[name]
	if f == nil {
		return "", false
	}
	return filepath.Base(f.path), true
}

// Bytes returns the raw bytes of a tensor, aliasing its shard's memory map (valid until Close).
func (s *Sharded) Bytes(name string) ([]byte, error) {
	f := s.owner[name]
	if f == nil {
		return nil, fmt.Errorf("%s: no tensor %q", s.path, name)
	}
	return f.Bytes(name)
}

// Float32 converts a floating-point tensor to float32.
func (s *Sharded) Float32(name string) ([]float32, error) {
	f := s.owner[name]
	if f == nil {
		return nil, fmt.Errorf("%s: no tensor %q", s.path, name)
	}
	return f.Float32(name)
}

// Metadata returns the union of the shards' __metadata__ maps (for transformers checkpoints,
// {"format": "pt"}); on conflicting values the first shard in name order wins.
func (s *Sharded) Metadata() map[string]string {
	m := map[string]string{}
	for i := len(s.shards) - 1; i >= 0; i-- {
		for k, v := range s.shards[i].meta {
			m[k] = v
		}
	}
	return m
}

// IndexMetadata returns the index's "metadata" object (e.g. total_size as a json.Number).
func (s *Sharded) IndexMetadata() map[string]any {
	m := make(map[string]any, len(s.indexMeta))
	for k, v := range s.indexMeta {
		m[k] = v
	}
	return m
}

// Close closes every shard.
func (s *Sharded) Close() error {
	var first error
	for _, f := range s.shards {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
