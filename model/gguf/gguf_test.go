package gguf

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/growthtrain/growthtrain/internal/testref"
)

func f32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func TestParseSmall(t *testing.T) {
	img, _ := baseSpec().image()
	f, err := Parse("small.gguf", img)
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != 3 || f.Alignment != 32 || f.Metadata.Len() != 15 {
		t.Errorf("version %d alignment %d keys %d", f.Version, f.Alignment, f.Metadata.Len())
	}
	md := f.Metadata
	if s, err := md.String("general.architecture"); s != "llama" || err != nil {
		t.Errorf("architecture %q %v", s, err)
	}
	if u, err := md.Uint("t.u8"); u != 200 || err != nil {
		t.Errorf("u8 %d %v", u, err)
	}
	if i, err := md.Int("t.i8"); i != -128 || err != nil {
		t.Errorf("i8 %d %v", i, err)
	}
	if u, err := md.Uint("t.u64"); u != 1<<63 || err != nil {
		t.Errorf("u64 %d %v", u, err)
	}
	if _, err := md.Int("t.u64"); err == nil {
		t.Error("Int of 2^63 succeeded")
	}
	if _, err := md.Uint("t.i64"); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("Uint of a negative: %v", err)
	}
	if x, err := md.Float("t.f32"); x != 1.5 || err != nil {
		t.Errorf("f32 %v %v", x, err)
	}
	if b, err := md.Bool("t.bool"); !b || err != nil {
		t.Errorf("bool %v %v", b, err)
	}
	if ss, err := md.Strings("tokenizer.ggml.tokens"); !reflect.DeepEqual(ss, []string{"a", "b", "ccc"}) || err != nil {
		t.Errorf("tokens %v %v", ss, err)
	}
	if is, err := md.Int32s("tokenizer.ggml.token_type"); !reflect.DeepEqual(is, []int32{1, 2, 3}) || err != nil {
		t.Errorf("token types %v %v", is, err)
	}
	if _, err := md.String("t.u8"); err == nil || !strings.Contains(err.Error(), `small.gguf: metadata key "t.u8" is uint8, not string`) {
		t.Errorf("wrong-type error: %v", err)
	}
	if _, err := md.String("missing"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing key error: %v", err)
	}
	nv, _ := md.Value("t.nested")
	inner := nv.Any().([]Value)
	if nv.Type != ValueArray || nv.ElemType != ValueArray || len(inner) != 2 ||
		!reflect.DeepEqual(inner[0].Any(), []int32{1, 2}) || !reflect.DeepEqual(inner[1].Any(), []int32{3}) {
		t.Errorf("nested array %+v", nv)
	}
	if k := md.Keys(); k[0] != "general.architecture" || k[len(k)-1] != "tokenizer.ggml.token_type" {
		t.Errorf("key order %v", k)
	}
	ts := f.Tensors()
	if len(ts) != 2 || !reflect.DeepEqual(ts[0].Shape, []int64{2, 4}) || !reflect.DeepEqual(ts[0].Dims, []uint64{4, 2}) ||
		ts[1].Size != 34 || ts[1].Type != TypeQ8_0 {
		t.Errorf("tensors %+v", ts)
	}
	a, err := f.Float32("a.weight")
	if err != nil || a[0] != -2.5 || a[7] != 4.5 {
		t.Errorf("a.weight %v %v", a, err)
	}
	b, err := f.Float32("b.weight")
	if err != nil || b[0] != -16 || b[31] != 15 {
		t.Errorf("b.weight %v %v", b, err)
	}
	p, err := f.LlamaParams()
	if err == nil {
		t.Errorf("LlamaParams without llama.* keys succeeded: %+v", p)
	}
	if _, err := f.Float32("nope"); err == nil || !strings.Contains(err.Error(), `small.gguf: no tensor "nope"`) {
		t.Errorf("missing tensor: %v", err)
	}
	f.Close()
	if _, err := f.Bytes("a.weight"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Bytes after Close: %v", err)
	}
}

func TestUnsupportedType(t *testing.T) {
	s := baseSpec()
	s.tis[1] = tiEnc{"b.weight", []uint64{256}, uint32(TypeQ2_K), 32}
	s.data = append(s.data[:32], make([]byte, TypeQ2_K.TypeSize())...)
	img, _ := s.image()
	f, err := Parse("q2.gguf", img)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Float32("b.weight"); err == nil || !strings.Contains(err.Error(), `q2.gguf: tensor "b.weight": dequantisation of type Q2_K is not supported`) {
		t.Errorf("err %v", err)
	}
	if raw, err := f.Bytes("b.weight"); err != nil || len(raw) != 84 {
		t.Errorf("Bytes: %d %v", len(raw), err)
	}
}

func TestBadInput(t *testing.T) {
	base, marks := baseSpec().image()
	mut := func(f func(s *spec)) []byte {
		s := baseSpec()
		f(&s)
		b, _ := s.image()
		return b
	}
	be := append([]byte("GGUF"), 0, 0, 0, 3)
	be = append(be, base[8:]...)
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "too short for the GGUF magic"},
		{"truncated magic", base[:2], "too short for the GGUF magic"},
		{"truncated version", base[:6], "truncated: version needs 4 bytes at offset 4"},
		{"truncated counts", base[:20], "truncated: metadata count needs 8 bytes at offset 16"},
		{"truncated key", func() []byte {
			b := append([]byte("GGUF"), le32(3)...)
			b = append(b, le64(0)...)
			b = append(b, le64(1)...)
			b = append(b, le64(1000)...)
			return append(b, "general.architecture"...)
		}(), `metadata key #0: string length 1000 at offset 24 runs past end of file (20 bytes left)`},
		{"truncated value", base[:marks["kvval"]+3], `truncated: metadata "tokenizer.ggml.token_type" array`},
		{"truncated tensor info", base[:marks["ti"]+20], `tensor "a.weight"`},
		{"truncated data", base[:len(base)-1], `tensor "b.weight": data [32, 66) past end of file`},
		{"wrong magic", append([]byte("GGML"), base[4:]...), `bad magic "GGML"`},
		{"version 1", mut(func(s *spec) { s.version = 1 }), "unsupported GGUF version 1"},
		{"version 4", mut(func(s *spec) { s.version = 4 }), "unsupported GGUF version 4"},
		{"big endian", be, "big-endian GGUF"},
		{"huge tensor count", mut(func(s *spec) { s.nTensors = ptr(1 << 62) }), "tensor count 4611686018427387904 is impossible"},
		{"huge kv count", mut(func(s *spec) { s.nKV = ptr(math.MaxUint64) }), "metadata count 18446744073709551615 is impossible"},
		{"huge string", mut(func(s *spec) { s.kvs[0].val = append(le64(1<<40), "llama"...) }), `metadata "general.architecture": string length 1099511627776`},
		{"huge array", mut(func(s *spec) { s.kvs[13].val = append(le32(uint32(ValueString)), le64(1<<60)...) }), `metadata "tokenizer.ggml.tokens": array of 1152921504606846976 string runs past end of file`},
		{"unknown value type", mut(func(s *spec) { s.kvs[2].typ = 13 }), `metadata "t.u8": unknown value type 13`},
		{"unknown array type", mut(func(s *spec) { s.kvs[13].val = append(le32(99), le64(1)...) }), `unknown array element type 99`},
		{"bad bool", mut(func(s *spec) { s.kvs[8].val = []byte{2} }), "bool byte 2"},
		{"deep nesting", mut(func(s *spec) {
			var v []byte
			for i := 0; i < 40; i++ {
				v = append(v, append(le32(uint32(ValueArray)), le64(1)...)...)
			}
			s.kvs[12].val = append(v, le32(uint32(ValueUint8))...)
		}), "arrays nested deeper than 16"},
		{"duplicate key", mut(func(s *spec) { s.kvs[3].key = "t.u8" }), `duplicate metadata key "t.u8"`},
		{"unknown tensor type", mut(func(s *spec) { s.tis[0].typ = 77 }), `tensor "a.weight": unknown tensor type 77`},
		{"too many dims", mut(func(s *spec) { s.tis[0].dims = []uint64{1, 1, 1, 1, 8} }), `tensor "a.weight": 5 dimensions (max 4)`},
		{"dims overflow", mut(func(s *spec) { s.tis[0].dims = []uint64{1 << 40, 1 << 40} }), "overflow"},
		{"row not multiple of block", mut(func(s *spec) { s.tis[1].dims = []uint64{16, 2} }), "row length 16 is not a multiple of the Q8_0 block size 32"},
		{"misaligned offset", mut(func(s *spec) { s.tis[1].off = 36 }), `tensor "b.weight": offset 36 is not a multiple of the alignment 32`},
		{"data past EOF", mut(func(s *spec) { s.tis[1].off = 1 << 20 }), `tensor "b.weight": data [1048576, 1048610) past end of file`},
		{"huge offset", mut(func(s *spec) { s.tis[1].off = math.MaxUint64 - 31 }), "past end of file"},
		{"overlap", mut(func(s *spec) { s.tis[1].dims = []uint64{8}; s.tis[1].typ = uint32(TypeF32); s.tis[1].off = 0 }), `overlaps tensor`},
		{"duplicate tensor", mut(func(s *spec) { s.tis[1].name = "a.weight" }), `duplicate tensor name "a.weight"`},
		{"bad alignment", mut(func(s *spec) { s.kvs[1].val = le32(24) }), "general.alignment 24 is not a power of two"},
		{"alignment type", mut(func(s *spec) { s.kvs[1].typ = uint32(ValueInt32) }), "general.alignment is int32, want uint32"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".gguf")
			if err := os.WriteFile(path, c.file, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := Open(path)
			if err == nil {
				f.Close()
				t.Fatalf("Open succeeded, want %q", c.want)
			}
			if !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\nwant it to start with %s and contain %q", err, path, c.want)
			}
		})
	}
	// Every truncation of the valid image fails cleanly.
	for n := 0; n < len(base); n++ {
		if _, err := Parse("cut.gguf", base[:n]); err == nil || !strings.HasPrefix(err.Error(), "cut.gguf: ") {
			t.Fatalf("truncated at %d: %v", n, err)
		}
	}
}

func FuzzOpen(f *testing.F) {
	base, marks := baseSpec().image()
	f.Add(base)
	f.Add(base[:marks["ti"]])
	s := baseSpec()
	s.version = 2
	v2, _ := s.image()
	f.Add(v2)
	for _, typ := range []GGMLType{TypeQ4_0, TypeQ4_1, TypeQ5_0, TypeQ5_1, TypeQ4_K, TypeQ5_K, TypeQ6_K, TypeF16, TypeBF16} {
		s := baseSpec()
		s.tis[1] = tiEnc{"b.weight", []uint64{uint64(typ.BlockSize()) * 32 / uint64(typ.BlockSize())}, uint32(typ), 32}
		if typ.BlockSize() == 256 {
			s.tis[1].dims = []uint64{256}
		}
		n := int(s.tis[1].dims[0]) / typ.BlockSize() * typ.TypeSize()
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i * 37)
		}
		s.data = append(s.data[:32], data...)
		img, _ := s.image()
		f.Add(img)
	}
	llama, _ := llamaSpec(nil, nil).image()
	f.Add(llama)
	f.Fuzz(func(t *testing.T, data []byte) {
		gf, err := Parse("fuzz.gguf", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.gguf: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		checkAccepted(t, gf, len(data))
		gf.Close()
	})
}

// checkAccepted checks what must hold for every file Parse accepts: each tensor's data is
// aligned, inside the file and disjoint from the others, its size is what its type and
// dimensions need, its shape is its dimensions reversed; the metadata keys are distinct; and
// LlamaParams, when it accepts the metadata, gives positive sizes and no more blocks than tensors.
func checkAccepted(t *testing.T, gf *File, fileSize int) {
	t.Helper()
	type span struct{ lo, hi uint64 }
	var spans []span
	names := map[string]bool{}
	for _, ti := range gf.Tensors() {
		if names[ti.Name] {
			t.Fatalf("tensor %q listed twice", ti.Name)
		}
		names[ti.Name] = true
		lo := uint64(gf.DataOffset) + ti.Offset
		hi := lo + uint64(ti.Size)
		if ti.Offset%gf.Alignment != 0 || hi < lo || hi > uint64(fileSize) {
			t.Fatalf("%s: data [%d, %d) misaligned or outside the %d-byte file", ti.Name, lo, hi, fileSize)
		}
		n := int64(1)
		for j, d := range ti.Dims {
			n *= int64(d)
			if ti.Shape[len(ti.Shape)-1-j] != int64(d) {
				t.Fatalf("%s: shape %v is not dims %v reversed", ti.Name, ti.Shape, ti.Dims)
			}
		}
		if n != ti.NumElements || ti.Size != n/int64(ti.Type.BlockSize())*int64(ti.Type.TypeSize()) {
			t.Fatalf("%s: %d elements, %d bytes for dims %v of %s", ti.Name, ti.NumElements, ti.Size, ti.Dims, ti.Type)
		}
		for _, s := range spans {
			if lo < s.hi && s.lo < hi {
				t.Fatalf("%s: data [%d, %d) overlaps [%d, %d)", ti.Name, lo, hi, s.lo, s.hi)
			}
		}
		spans = append(spans, span{lo, hi})
		v, err := gf.Float32(ti.Name)
		if err == nil && int64(len(v)) != ti.NumElements {
			t.Fatalf("%s: %d values for %d elements", ti.Name, len(v), ti.NumElements)
		}
		b, err := gf.Bytes(ti.Name)
		if err != nil || int64(len(b)) != ti.Size {
			t.Fatalf("%s: Bytes %d %v", ti.Name, len(b), err)
		}
	}
	keys := gf.Metadata.Keys()
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] {
			t.Fatalf("metadata key %q listed twice", k)
		}
		seen[k] = true
		gf.Metadata.String(k)
		gf.Metadata.Uint(k)
		gf.Metadata.Float(k)
		gf.Metadata.ArrayLen(k)
	}
	if p, err := gf.LlamaParams(); err == nil {
		if p.BlockCount <= 0 || p.BlockCount > len(gf.Tensors()) || p.EmbeddingLength <= 0 || p.HeadCount <= 0 ||
			p.HeadCountKV <= 0 || p.VocabSize <= 0 || !(p.RMSNormEps > 0) || !(p.RopeFreqBase > 0) ||
			math.IsInf(p.RMSNormEps, 0) || math.IsInf(p.RopeFreqBase, 0) {
			t.Fatalf("LlamaParams accepted %+v", p)
		}
	}
}

// ---- Parity with gguf-py ----

const pyDump = `
import sys, json, hashlib, numpy as np, gguf
from gguf import GGUFReader, GGUFValueType as VT

def scalar(part, vt):
    if vt == VT.STRING:
        return bytes(part).hex()
    return part.tolist()[0]

def dump(path, rawdir=None):
    r = GGUFReader(path)
    fields = []
    for k, f in r.fields.items():
        if k.startswith("GGUF."):
            continue
        t = [int(x) for x in f.types]
        if f.types[0] == VT.ARRAY and len(f.types) > 1 and f.types[1] == VT.ARRAY:
            fields.append({"key": k, "types": t, "nested": True})
            continue
        if f.types[0] == VT.ARRAY:
            v = [scalar(f.parts[i], f.types[1]) for i in f.data]
        else:
            v = scalar(f.parts[f.data[0]], f.types[0])
        fields.append({"key": k, "types": t, "value": v})
    tensors = []
    for t in r.tensors:
        a = np.ascontiguousarray(gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float32)
        raw = a.tobytes()
        if rawdir:
            open(rawdir + "/" + t.name + ".f32", "wb").write(raw)
        tensors.append({"name": t.name, "type": int(t.tensor_type), "shape": list(a.shape),
                        "n_bytes": int(t.n_bytes), "sha": hashlib.sha256(raw).hexdigest()})
    return {"version": int(r.fields["GGUF.version"].parts[-1][0]), "alignment": int(r.alignment),
            "data_offset": int(r.data_offset), "fields": fields, "tensors": tensors}
`

type pyField struct {
	Key    string          `json:"key"`
	Types  []int           `json:"types"`
	Nested bool            `json:"nested"`
	Value  json.RawMessage `json:"value"`
}

type pyTensor struct {
	Name   string  `json:"name"`
	Type   int     `json:"type"`
	Shape  []int64 `json:"shape"`
	NBytes int64   `json:"n_bytes"`
	SHA    string  `json:"sha"`
}

type pyFile struct {
	Version    uint32     `json:"version"`
	Alignment  uint64     `json:"alignment"`
	DataOffset int64      `json:"data_offset"`
	Fields     []pyField  `json:"fields"`
	Tensors    []pyTensor `json:"tensors"`
}

func runDump(t *testing.T, path, rawdir string) pyFile {
	t.Helper()
	out := testref.RunPython(t, pyDump+`
print(json.dumps(dump(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)))
`, append([]string{path}, rawdirArg(rawdir)...)...)
	var pf pyFile
	if err := json.Unmarshal(out, &pf); err != nil {
		t.Fatal(err)
	}
	return pf
}

func rawdirArg(d string) []string {
	if d == "" {
		return nil
	}
	return []string{d}
}

// canonGo renders a scalar Go metadata value the way canonPy renders Python's JSON.
func canonGo(v any) string {
	switch x := v.(type) {
	case string:
		return hex.EncodeToString([]byte(x))
	case bool:
		return strconv.FormatBool(x)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 64)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}

func canonPy(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return strconv.FormatInt(i, 10)
		}
		if u, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return strconv.FormatUint(u, 10)
		}
		f, _ := strconv.ParseFloat(string(x), 64)
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return fmt.Sprintf("?%v", v)
}

func elems(v Value) []any {
	rv := reflect.ValueOf(v.Any())
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out
}

func compareMetadata(t *testing.T, f *File, pf pyFile) {
	t.Helper()
	if f.Version != pf.Version || f.Alignment != pf.Alignment || f.DataOffset != pf.DataOffset {
		t.Errorf("version/alignment/data offset: Go %d/%d/%d, Python %d/%d/%d", f.Version, f.Alignment, f.DataOffset, pf.Version, pf.Alignment, pf.DataOffset)
	}
	keys := f.Metadata.Keys()
	if len(keys) != len(pf.Fields) {
		t.Errorf("Go has %d keys, Python %d", len(keys), len(pf.Fields))
	}
	for i, pfld := range pf.Fields {
		if i < len(keys) && keys[i] != pfld.Key {
			t.Errorf("key %d: Go %q, Python %q", i, keys[i], pfld.Key)
		}
		v, ok := f.Metadata.Value(pfld.Key)
		if !ok {
			t.Errorf("%s: missing in Go", pfld.Key)
			continue
		}
		if int(v.Type) != pfld.Types[0] || (v.Type == ValueArray && int(v.ElemType) != pfld.Types[1]) {
			t.Errorf("%s: Go type %s, Python types %v", pfld.Key, v.typeName(), pfld.Types)
			continue
		}
		if pfld.Nested {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(pfld.Value))
		dec.UseNumber()
		var pv any
		if err := dec.Decode(&pv); err != nil {
			t.Fatal(err)
		}
		if v.Type != ValueArray {
			if g, p := canonGo(v.Any()), canonPy(pv); g != p {
				t.Errorf("%s: Go %s, Python %s", pfld.Key, g, p)
			}
			continue
		}
		pa, _ := pv.([]any)
		ga := elems(v)
		if len(ga) != len(pa) {
			t.Errorf("%s: Go %d elements, Python %d", pfld.Key, len(ga), len(pa))
			continue
		}
		for j := range ga {
			if g, p := canonGo(ga[j]), canonPy(pa[j]); g != p {
				t.Errorf("%s[%d]: Go %s, Python %s", pfld.Key, j, g, p)
				break
			}
		}
	}
}

func compareTensors(t *testing.T, f *File, pf pyFile, rawdir string) {
	t.Helper()
	ts := f.Tensors()
	if len(ts) != len(pf.Tensors) {
		t.Fatalf("Go has %d tensors, Python %d", len(ts), len(pf.Tensors))
	}
	for i, pt := range pf.Tensors {
		gt := ts[i]
		if gt.Name != pt.Name || int(gt.Type) != pt.Type || !reflect.DeepEqual(gt.Shape, pt.Shape) || gt.Size != pt.NBytes {
			t.Errorf("tensor %d: Go %s %s %v %d bytes, Python %s %d %v %d bytes", i, gt.Name, gt.Type, gt.Shape, gt.Size, pt.Name, pt.Type, pt.Shape, pt.NBytes)
			continue
		}
		v, err := f.Float32(gt.Name)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		raw := f32Bytes(v)
		if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != pt.SHA {
			msg := ""
			if rawdir != "" {
				if want, err := os.ReadFile(filepath.Join(rawdir, gt.Name+".f32")); err == nil && len(want) == len(raw) {
					var maxDiff float64
					first := -1
					for k := 0; k < len(v); k++ {
						w := math.Float32frombits(binary.LittleEndian.Uint32(want[4*k:]))
						if math.Float32bits(w) != math.Float32bits(v[k]) && first < 0 {
							first = k
						}
						maxDiff = math.Max(maxDiff, math.Abs(float64(w)-float64(v[k])))
					}
					msg = fmt.Sprintf(" (first differing element %d, max abs diff %g)", first, maxDiff)
				}
			}
			t.Errorf("%s (%s): Go dequantisation differs from gguf.quants.dequantize%s", gt.Name, gt.Type, msg)
		}
	}
}

func TestSmolLM2Parity(t *testing.T) {
	path := testref.SmolLM2GGUF(t)
	pf := runDump(t, path, "")
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	compareMetadata(t, f, pf)
	compareTensors(t, f, pf, "")
	types := map[GGMLType]int{}
	for _, ti := range f.Tensors() {
		types[ti.Type]++
	}
	t.Logf("SmolLM2: %d keys, %d tensors, types %v", f.Metadata.Len(), len(f.Tensors()), types)
}

func TestSmolLM2Llama(t *testing.T) {
	f, err := Open(testref.SmolLM2GGUF(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := f.LlamaParams()
	if err != nil {
		t.Fatal(err)
	}
	want := LlamaParams{Architecture: "llama", BlockCount: 30, EmbeddingLength: 576, FeedForwardLength: 1536,
		HeadCount: 9, HeadCountKV: 3, ContextLength: 8192, VocabSize: 49152,
		RopeFreqBase: 100000, RMSNormEps: float64(float32(1e-5)), RopeDimensionCount: 64}
	if p != want {
		t.Errorf("params %+v\nwant   %+v", p, want)
	}
	hf := map[string]bool{}
	for _, ti := range f.Tensors() {
		name, ok := HFName(ti.Name)
		if !ok {
			t.Errorf("%s has no HF name", ti.Name)
		}
		hf[name] = true
		switch {
		case strings.HasSuffix(ti.Name, "attn_q.weight"):
			if !reflect.DeepEqual(ti.Shape, []int64{576, 576}) {
				t.Errorf("%s shape %v", ti.Name, ti.Shape)
			}
		case strings.HasSuffix(ti.Name, "attn_k.weight"):
			if !reflect.DeepEqual(ti.Shape, []int64{192, 576}) {
				t.Errorf("%s shape %v", ti.Name, ti.Shape)
			}
		}
	}
	// 30 blocks x 9 tensors + embeddings + final norm (lm_head is tied).
	if len(hf) != 30*9+2 || !hf["model.embed_tokens.weight"] || !hf["model.layers.29.mlp.down_proj.weight"] {
		t.Errorf("mapped %d distinct HF names", len(hf))
	}
}

func loadAll(tb testing.TB, path string) (n int64) {
	f, err := Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	for _, ti := range f.Tensors() {
		v, err := f.Float32(ti.Name)
		if err != nil {
			tb.Fatal(err)
		}
		n += int64(len(v))
	}
	return n
}

func TestSmolLM2LoadTime(t *testing.T) {
	path := testref.SmolLM2GGUF(t)
	loadAll(t, path) // warm the page cache
	start := time.Now()
	n := loadAll(t, path)
	el := time.Since(start)
	t.Logf("SmolLM2 GGUF load (open + dequantise %d tensors' %d elements to float32): %v", 272, n, el)
	if n != 134515008 {
		t.Errorf("dequantised %d elements", n)
	}
}

func BenchmarkLoadSmolLM2(b *testing.B) {
	path := testref.SmolLM2GGUF(b)
	for b.Loop() {
		loadAll(b, path)
	}
}

func TestTypesParity(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "types.gguf")
	rawdir := filepath.Join(dir, "raw")
	if err := os.Mkdir(rawdir, 0o755); err != nil {
		t.Fatal(err)
	}
	testref.RunPython(t, `
import sys, numpy as np, gguf
from gguf import GGMLQuantizationType as Q
from gguf.constants import GGML_QUANT_SIZES
rng = np.random.default_rng(1234)
w = gguf.GGUFWriter(sys.argv[1], "llama")
w.add_uint8("t.u8", 250); w.add_int8("t.i8", -100); w.add_uint16("t.u16", 65000); w.add_int16("t.i16", -30000)
w.add_uint32("t.u32", 4000000000); w.add_int32("t.i32", -2000000000); w.add_float32("t.f32", 0.1)
w.add_uint64("t.u64", 18446744073709551615); w.add_int64("t.i64", -9223372036854775808); w.add_float64("t.f64", 1e-300)
w.add_bool("t.bool", False); w.add_string("t.str", "héllo ✓")
w.add_array("t.arr_f32", [1.5, -2.25, 3e38]); w.add_array("t.arr_str", ["", "x", "日本"])
w.add_array("t.arr_bool", [True, False]); w.add_array("t.nested", [[1, 2], [3]])
w.add_key_value("t.arr_u8", [1, 2, 255], gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.UINT8)
w.add_key_value("t.arr_i64", [-1, 2**62], gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.INT64)
x = (rng.standard_normal((6, 512)) * 0.05).astype(np.float32)
x[0, :8] = [0, -0.0, 1e-8, -1e-8, 65504, -65504, 1e-5, 0.5]
w.add_tensor("f32", x[:2])
w.add_tensor("f16", x[:3].astype(np.float16))
xh = x.copy(); xh[1, :6] = [np.inf, -np.inf, 6e-8, 1e-7, 3e-5, 7e4]
w.add_tensor("f16_special", xh[:2].astype(np.float16))
w.add_tensor("bf16", gguf.quants.quantize(x[:3], Q.BF16), raw_dtype=Q.BF16)
for q in (Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1):
    w.add_tensor(q.name.lower(), gguf.quants.quantize(x, q), raw_dtype=q)
# 3-D tensor: checks the dims/shape order.
w.add_tensor("q8_0_3d", gguf.quants.quantize(x.reshape(2, 3, 512), Q.Q8_0), raw_dtype=Q.Q8_0)
# gguf-py cannot quantise K-quants: random blocks with sane f16 scales.
def kblocks(q, rows, blocks, scale_offsets):
    bs, ts = GGML_QUANT_SIZES[q]
    b = rng.integers(0, 256, size=(rows, blocks, ts), dtype=np.uint8)
    for off in scale_offsets:
        d = (rng.standard_normal((rows, blocks)) * 0.01).astype(np.float16)
        b[:, :, off:off+2] = d.view(np.uint8).reshape(rows, blocks, 2)
    return b.reshape(rows, blocks * ts)
w.add_tensor("q4_k", kblocks(Q.Q4_K, 4, 3, [0, 2]), raw_dtype=Q.Q4_K)
w.add_tensor("q5_k", kblocks(Q.Q5_K, 4, 3, [0, 2]), raw_dtype=Q.Q5_K)
w.add_tensor("q6_k", kblocks(Q.Q6_K, 4, 3, [208]), raw_dtype=Q.Q6_K)
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
`, path)
	pf := runDump(t, path, rawdir)
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	compareMetadata(t, f, pf)
	compareTensors(t, f, pf, rawdir)
	seen := map[GGMLType]bool{}
	for _, ti := range f.Tensors() {
		seen[ti.Type] = true
	}
	for typ := range dequantizers {
		if !seen[typ] {
			t.Errorf("type %s not covered", typ)
		}
	}
	nv, _ := f.Metadata.Value("t.nested")
	if inner, ok := nv.Any().([]Value); !ok || len(inner) != 2 || !reflect.DeepEqual(inner[0].Any(), []int32{1, 2}) {
		t.Errorf("nested %+v", nv.Any())
	}
	if ti, _ := f.Tensor("q8_0_3d"); !reflect.DeepEqual(ti.Shape, []int64{2, 3, 512}) || !reflect.DeepEqual(ti.Dims, []uint64{512, 3, 2}) {
		t.Errorf("3-D tensor shape %v dims %v", ti.Shape, ti.Dims)
	}
}

func TestPermuteQKNumpy(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ rows, cols, heads int }{{576, 576, 9}, {192, 576, 3}, {8, 3, 2}, {4, 1, 1}, {64, 5, 32}}
	for i, c := range cases {
		testref.RunPython(t, `
import sys, numpy as np
rows, cols, n_head, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
w = np.random.default_rng(rows * 7 + cols).standard_normal((rows, cols)).astype(np.float32)
p = w.reshape(n_head, 2, rows // n_head // 2, cols).swapaxes(1, 2).reshape(rows, cols)
w.tofile(out + ".hf"); np.ascontiguousarray(p).tofile(out + ".gguf")
`, strconv.Itoa(c.rows), strconv.Itoa(c.cols), strconv.Itoa(c.heads), filepath.Join(dir, strconv.Itoa(i)))
		read := func(ext string) []float32 {
			b, err := os.ReadFile(filepath.Join(dir, strconv.Itoa(i)+ext))
			if err != nil {
				t.Fatal(err)
			}
			v := make([]float32, len(b)/4)
			for k := range v {
				v[k] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*k:]))
			}
			return v
		}
		hf, gg := read(".hf"), read(".gguf")
		un, err := UnpermuteQK(gg, c.rows, c.cols, c.heads)
		if err != nil || !bytes.Equal(f32Bytes(un), f32Bytes(hf)) {
			t.Errorf("%+v: UnpermuteQK differs from the numpy original (%v)", c, err)
		}
		pe, err := PermuteQK(hf, c.rows, c.cols, c.heads)
		if err != nil || !bytes.Equal(f32Bytes(pe), f32Bytes(gg)) {
			t.Errorf("%+v: PermuteQK differs from numpy (%v)", c, err)
		}
	}
	for _, bad := range []struct{ n, rows, cols, heads int }{{12, 6, 2, 2}, {10, 4, 2, 1}, {0, 0, 1, 1}, {8, 4, 2, 0}} {
		if _, err := UnpermuteQK(make([]float32, bad.n), bad.rows, bad.cols, bad.heads); err == nil {
			t.Errorf("UnpermuteQK%+v succeeded", bad)
		}
	}
}

func TestHFName(t *testing.T) {
	cases := map[string]string{
		"token_embd.weight":        "model.embed_tokens.weight",
		"output_norm.weight":       "model.norm.weight",
		"output.weight":            "lm_head.weight",
		"blk.0.attn_q.weight":      "model.layers.0.self_attn.q_proj.weight",
		"blk.12.attn_k.weight":     "model.layers.12.self_attn.k_proj.weight",
		"blk.1.attn_v.weight":      "model.layers.1.self_attn.v_proj.weight",
		"blk.1.attn_output.weight": "model.layers.1.self_attn.o_proj.weight",
		"blk.2.ffn_gate.weight":    "model.layers.2.mlp.gate_proj.weight",
		"blk.2.ffn_up.weight":      "model.layers.2.mlp.up_proj.weight",
		"blk.2.ffn_down.weight":    "model.layers.2.mlp.down_proj.weight",
		"blk.29.attn_norm.weight":  "model.layers.29.input_layernorm.weight",
		"blk.29.ffn_norm.weight":   "model.layers.29.post_attention_layernorm.weight",
		"blk.x.attn_q.weight":      "",
		"blk.01.attn_q.weight":     "",
		"blk.1.attn_q.bias":        "model.layers.1.self_attn.q_proj.bias", // qwen2
		"blk.1.attn_output.bias":   "",
		"rope_freqs.weight":        "",
		"blk.-1.attn_q.weight":     "",
	}
	for in, want := range cases {
		got, ok := HFName(in)
		if got != want || ok != (want != "") {
			t.Errorf("HFName(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
