package safetensors

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/internal/testref"
)

func TestShardedRoundTrip(t *testing.T) {
	dir := t.TempDir()
	tensors := sampleTensors()
	if err := WriteSharded(dir, tensors, 24); err != nil {
		t.Fatal(err)
	}
	idx, err := os.ReadFile(filepath.Join(dir, IndexName))
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Metadata  map[string]int64  `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(idx, &parsed); err != nil {
		t.Fatal(err)
	}
	shards := map[string]bool{}
	for _, s := range parsed.WeightMap {
		shards[s] = true
	}
	if len(shards) < 3 || !shards[ShardName(1, len(shards))] || !shards[ShardName(len(shards), len(shards))] {
		t.Fatalf("unexpected shards %v", shards)
	}
	var total int64
	for _, tt := range tensors {
		total += int64(len(tt.Data))
	}
	if parsed.Metadata["total_size"] != total {
		t.Errorf("total_size %d, want %d", parsed.Metadata["total_size"], total)
	}
	r, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if len(r.Names()) != len(tensors) {
		t.Fatalf("names %v", r.Names())
	}
	for _, tt := range tensors {
		b, err := r.Bytes(tt.Name)
		if err != nil || string(b) != string(tt.Data) {
			t.Errorf("%s: %v", tt.Name, err)
		}
	}
	if r.Metadata()["format"] != "pt" {
		t.Errorf("shard metadata %v", r.Metadata())
	}
	// Python (transformers-style loading: read the index, open each shard) sees the same tensors.
	out := testref.RunPython(t, pyMakeTensors+`
import sys, json, os
from safetensors import safe_open
d = sys.argv[1]
idx = json.load(open(os.path.join(d, "model.safetensors.index.json")))
ts = {}
for name, shard in idx["weight_map"].items():
    with safe_open(os.path.join(d, shard), "pt") as f:
        assert f.metadata().get("format") == "pt"
        ts[name] = f.get_tensor(name)
print(json.dumps(describe({k: v for k, v in ts.items() if v.dtype != torch.int16})))
`, dir)
	var want map[string]pyTensor
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(tensors)-1 {
		t.Errorf("Python loaded %d tensors", len(want))
	}
	for name, w := range want {
		info, _ := r.Info(name)
		if w.DType != string(info.DType) || !reflect.DeepEqual(w.Shape, info.Shape) {
			t.Errorf("%s: Python %s %v, Go %s %v", name, w.DType, w.Shape, info.DType, info.Shape)
		}
	}
}

func TestPythonShardedIndex(t *testing.T) {
	dir := t.TempDir()
	out := testref.RunPython(t, pyMakeTensors+`
import sys, json
from huggingface_hub import save_torch_state_dict
ts = tensors()
save_torch_state_dict(ts, sys.argv[1], max_shard_size=300)
print(json.dumps(describe(ts)))
`, dir)
	var want map[string]pyTensor
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, IndexName)); err != nil {
		t.Fatalf("Python wrote no index: %v", err)
	}
	r, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s := r.(*Sharded)
	if len(s.shards) < 2 {
		t.Errorf("expected several shards, got %d", len(s.shards))
	}
	checkAgainst(t, r, want)
}

func TestShardedErrors(t *testing.T) {
	mk := func(t *testing.T) string {
		dir := t.TempDir()
		if err := WriteSharded(dir, sampleTensors(), 24); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	readIdx := func(t *testing.T, dir string) map[string]any {
		var m map[string]any
		b, _ := os.ReadFile(filepath.Join(dir, IndexName))
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	writeIdx := func(t *testing.T, dir string, m map[string]any) {
		b, _ := json.Marshal(m)
		if err := os.WriteFile(filepath.Join(dir, IndexName), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name   string
		mutate func(t *testing.T, dir string)
		want   string
	}{
		{"missing shard", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, ShardName(2, 5)))
		}, "shard " + ShardName(2, 5) + " is missing"},
		{"listed but absent", func(t *testing.T, dir string) {
			m := readIdx(t, dir)
			m["weight_map"].(map[string]any)["ghost.weight"] = ShardName(1, 5)
			writeIdx(t, dir, m)
		}, `tensor "ghost.weight" listed for shard ` + ShardName(1, 5) + " is absent from it"},
		{"in two shards", func(t *testing.T, dir string) {
			m := readIdx(t, dir)
			wm := m["weight_map"].(map[string]any)
			var in1 string
			for k, v := range wm {
				if v == ShardName(1, 5) {
					in1 = k
				}
			}
			// Rewrite shard 2 so it also holds a tensor of shard 1.
			f, err := Open(filepath.Join(dir, ShardName(1, 5)))
			if err != nil {
				t.Fatal(err)
			}
			info, _ := f.Info(in1)
			data, _ := f.Bytes(in1)
			dup := Tensor{Name: in1, DType: info.DType, Shape: info.Shape, Data: append([]byte(nil), data...)}
			f.Close()
			g, err := Open(filepath.Join(dir, ShardName(2, 5)))
			if err != nil {
				t.Fatal(err)
			}
			var ts []Tensor
			for _, n := range g.Names() {
				i, _ := g.Info(n)
				b, _ := g.Bytes(n)
				ts = append(ts, Tensor{Name: n, DType: i.DType, Shape: i.Shape, Data: append([]byte(nil), b...)})
			}
			g.Close()
			if err := Write(filepath.Join(dir, ShardName(2, 5)), append(ts, dup), nil); err != nil {
				t.Fatal(err)
			}
		}, "is in two shards"},
		{"unlisted tensor", func(t *testing.T, dir string) {
			m := readIdx(t, dir)
			wm := m["weight_map"].(map[string]any)
			for k, v := range wm {
				if v == ShardName(1, 5) {
					delete(wm, k)
					break
				}
			}
			writeIdx(t, dir, m)
		}, "which the index does not list"},
		{"path escape", func(t *testing.T, dir string) {
			m := readIdx(t, dir)
			m["weight_map"].(map[string]any)["x"] = "../x.safetensors"
			writeIdx(t, dir, m)
		}, "must be a plain file name"},
		{"bad json", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, IndexName), []byte(`{"weight_map": [`), 0o644)
		}, "bad index JSON"},
		{"duplicate weight_map key", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, IndexName), []byte(`{"weight_map": {"u8": "`+ShardName(1, 5)+`", "u8": "`+ShardName(2, 5)+`"}}`), 0o644)
		}, `duplicate key "u8"`},
		{"weight_map given twice", func(t *testing.T, dir string) {
			m := readIdx(t, dir)
			wm, _ := json.Marshal(m["weight_map"])
			os.WriteFile(filepath.Join(dir, IndexName), []byte(`{"weight_map": {"u8": "`+ShardName(1, 5)+`"}, "weight_map": `+string(wm)+`}`), 0o644)
		}, `duplicate key "weight_map"`},
		{"corrupt shard", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, ShardName(4, 5)), []byte("garbage!garbage!"), 0o644)
		}, ShardName(4, 5) + ": header length"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := mk(t)
			if _, err := os.Stat(filepath.Join(dir, ShardName(5, 5))); err != nil {
				t.Fatalf("expected 5 shards: %v", err)
			}
			c.mutate(t, dir)
			r, err := OpenDir(dir)
			if err == nil {
				r.Close()
				t.Fatal("OpenDir succeeded")
			}
			if !strings.Contains(err.Error(), IndexName) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want it to name the index and contain %q", err, c.want)
			}
		})
	}
}
