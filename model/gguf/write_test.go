package gguf

import (
	"encoding/hex"
	"encoding/json"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/internal/testref"
)

// Write's files read back in gguf-py (every metadata type, tensor names, types, dims and
// bytes) and in Open; QuantizeQ8_0, EncodeF16 and EncodeBF16 give gguf-py's bytes exactly.
func TestWriteReadsBackInGGUFPy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([]float32, 32*40)
	for i := range vals {
		vals[i] = float32(rng.NormFloat64() * math.Pow(10, float64(i%7-3)))
	}
	for i := 0; i < 32; i++ { // an all-zero block, and a block of exact .5 ties (d = 127/127 = 1)
		vals[i] = 0
		vals[32+i] = float32(i-16) + 0.5
	}
	vals[63] = 127
	q8, err := QuantizeQ8_0(vals)
	if err != nil {
		t.Fatal(err)
	}
	tensors := []WriteTensor{
		{Name: "a.f32", Type: TypeF32, Dims: []uint64{64, 20}, Data: EncodeF32(vals)},
		{Name: "b.f16", Type: TypeF16, Dims: []uint64{1280}, Data: EncodeF16(vals)},
		{Name: "c.bf16", Type: TypeBF16, Dims: []uint64{32, 40}, Data: EncodeBF16(vals)},
		{Name: "d.q8_0", Type: TypeQ8_0, Dims: []uint64{64, 20}, Data: q8},
		{Name: "e.small", Type: TypeF32, Dims: []uint64{3}, Data: EncodeF32(vals[:3])},
	}
	kvs := []KV{
		{"k.u8", uint8(7)}, {"k.i8", int8(-7)}, {"k.u16", uint16(700)}, {"k.i16", int16(-700)},
		{"k.u32", uint32(70000)}, {"k.i32", int32(-70000)}, {"k.f32", float32(1.5)}, {"k.bool", true},
		{"k.str", "héllo"}, {"k.u64", uint64(1 << 40)}, {"k.i64", int64(-1 << 40)}, {"k.f64", 0.1},
		{"k.strs", []string{"a b", "", "ü"}}, {"k.i32s", []int32{1, -2, 3}}, {"k.f32s", []float32{0.5, -1}},
	}
	path := filepath.Join(t.TempDir(), "w.gguf")
	if err := Write(path, kvs, tensors); err != nil {
		t.Fatal(err)
	}
	valsJSON, _ := json.Marshal(vals)
	out := testref.RunPython(t, `
import json, sys, numpy as np
from gguf import GGUFReader, GGMLQuantizationType as Q, quants
r = GGUFReader(sys.argv[1])
vals = np.array(json.loads(sys.argv[2]), dtype=np.float32)
res = {"fields": {}, "tensors": {}}
for name, f in r.fields.items():
    if name.startswith("GGUF."):
        continue
    v = f.contents()
    res["fields"][name] = [f.types[0].name.lower(), v]
for tn in r.tensors:
    res["tensors"][tn.name] = [tn.tensor_type.name, [int(x) for x in tn.shape], bytes(tn.data.tobytes()).hex()]
res["q8_0"] = quants.quantize(vals.reshape(20, 64), Q.Q8_0).tobytes().hex()
res["bf16"] = quants.quantize(vals, Q.BF16).tobytes().hex()
res["f16"] = vals.astype(np.float16).tobytes().hex()
print(json.dumps(res))
`, path, string(valsJSON))
	var got struct {
		Fields  map[string][2]any `json:"fields"`
		Tensors map[string][3]any `json:"tensors"`
		Q8      string            `json:"q8_0"`
		BF16    string            `json:"bf16"`
		F16     string            `json:"f16"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(q8) != got.Q8 {
		t.Error("QuantizeQ8_0 differs from gguf-py's quants.quantize")
	}
	if hex.EncodeToString(EncodeBF16(vals)) != got.BF16 || hex.EncodeToString(EncodeF16(vals)) != got.F16 {
		t.Error("EncodeBF16 / EncodeF16 differ from gguf-py / numpy")
	}
	wantFields := map[string]string{
		"general.alignment": `["uint32",32]`, "k.u8": `["uint8",7]`, "k.i8": `["int8",-7]`, "k.u16": `["uint16",700]`,
		"k.i16": `["int16",-700]`, "k.u32": `["uint32",70000]`, "k.i32": `["int32",-70000]`, "k.f32": `["float32",1.5]`,
		"k.bool": `["bool",true]`, "k.str": `["string","héllo"]`, "k.u64": `["uint64",1099511627776]`,
		"k.i64": `["int64",-1099511627776]`, "k.f64": `["float64",0.1]`, "k.strs": `["array",["a b","","ü"]]`,
		"k.i32s": `["array",[1,-2,3]]`, "k.f32s": `["array",[0.5,-1]]`,
	}
	if len(got.Fields) != len(wantFields) {
		t.Errorf("gguf-py reads %d fields, want %d: %v", len(got.Fields), len(wantFields), got.Fields)
	}
	for k, want := range wantFields {
		b, _ := json.Marshal(got.Fields[k])
		if string(b) != want {
			t.Errorf("field %s: gguf-py reads %s, want %s", k, b, want)
		}
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, wt := range tensors {
		g := got.Tensors[wt.Name]
		if g[0] != wt.Type.String() || hex.EncodeToString(wt.Data) != g[2] {
			t.Errorf("tensor %s: gguf-py reads type %v and other bytes", wt.Name, g[0])
		}
		ti, ok := f.Tensor(wt.Name)
		if !ok || ti.Type != wt.Type || len(ti.Dims) != len(wt.Dims) {
			t.Fatalf("Open: tensor %s: %+v", wt.Name, ti)
		}
		b, err := f.Bytes(wt.Name)
		if err != nil || hex.EncodeToString(b) != g[2] {
			t.Errorf("Open: tensor %s bytes differ (%v)", wt.Name, err)
		}
	}
	if s, err := f.Metadata.String("k.str"); err != nil || s != "héllo" {
		t.Errorf("Open: k.str = %q, %v", s, err)
	}
	// Bad requests are refused with the entry named.
	for _, bad := range []struct {
		kvs  []KV
		ts   []WriteTensor
		want string
	}{
		{[]KV{{"a", 1}}, nil, "unsupported value type int"},
		{[]KV{{"a", "x"}, {"a", "y"}}, nil, `duplicate metadata key "a"`},
		{nil, []WriteTensor{{Name: "t", Type: TypeF32, Dims: []uint64{4}, Data: make([]byte, 12)}}, "12 bytes"},
		{nil, []WriteTensor{{Name: "t", Type: TypeQ8_0, Dims: []uint64{33}, Data: make([]byte, 34)}}, "block size"},
		{nil, []WriteTensor{{Name: "t", Type: TypeQ4_K, Dims: []uint64{256}, Data: make([]byte, 144)}, {Name: "t", Type: TypeF32, Dims: []uint64{1}, Data: make([]byte, 4)}}, `duplicate tensor "t"`},
	} {
		err := Write(filepath.Join(t.TempDir(), "bad.gguf"), bad.kvs, bad.ts)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Write: error %v, want one containing %q", err, bad.want)
		}
	}
}
