package safetensors

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzOpenIndex fuzzes model.safetensors.index.json over a fixed set of valid shards.
// Invariants of an accepted index: every tensor it lists is served by the shard it names, with
// that shard's bytes; the names are exactly the index's, sorted.
func FuzzOpenIndex(f *testing.F) {
	dir := f.TempDir()
	if err := WriteSharded(dir, sampleTensors(), 24); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(dir, IndexName))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"metadata": {"total_size": 1}, "weight_map": {"u8": "` + ShardName(1, 5) + `"}}`))
	f.Add([]byte(`{"weight_map": {"u8": "../x.safetensors"}}`))
	f.Add([]byte(`{"weight_map": {"u8": "a", "u8": "b"}}`))
	f.Add([]byte(`{"weight_map": {}, "weight_map": {}}`))
	f.Add([]byte(`{"weight_map": null}`))
	f.Add([]byte(`[]`))
	// Each fuzz worker is a process of its own and runs its inputs one after another, so one
	// index path per worker is enough.
	path := filepath.Join(dir, "fuzz.index.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := OpenIndex(path)
		if err != nil {
			if !strings.HasPrefix(err.Error(), path) {
				t.Fatalf("error does not name the index: %v", err)
			}
			return
		}
		defer s.Close()
		names := s.Names()
		for i, n := range names {
			if i > 0 && names[i-1] >= n {
				t.Fatalf("names not sorted and unique: %q, %q", names[i-1], n)
			}
			shard, ok := s.Shard(n)
			if !ok {
				t.Fatalf("%q has no shard", n)
			}
			sf, err := Open(filepath.Join(dir, shard))
			if err != nil {
				t.Fatal(err)
			}
			want, err1 := sf.Bytes(n)
			got, err2 := s.Bytes(n)
			if err1 != nil || err2 != nil || !bytes.Equal(got, want) {
				t.Fatalf("%q: the index serves other bytes than shard %s holds (%v, %v)", n, shard, err1, err2)
			}
			sf.Close()
		}
		if len(names) == 0 {
			t.Fatal("accepted an index without tensors")
		}
	})
}
