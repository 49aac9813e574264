package safetensors

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/internal/testref"
)

func f32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// sampleTensors covers every dtype, a scalar, an empty tensor and odd shapes.
func sampleTensors() []Tensor {
	f32 := []float32{1, -2.5, float32(math.Inf(1)), 3.14159, 1e-40, -0, 65504, 7}
	var f16, bf16 []byte
	for _, x := range f32 {
		f16 = binary.LittleEndian.AppendUint16(f16, Float32ToFloat16(x))
		bf16 = binary.LittleEndian.AppendUint16(bf16, Float32ToBFloat16(x))
	}
	f64 := make([]byte, 0, 24)
	for _, x := range []float64{1.5, -1e300, 1.0 / 3} {
		f64 = binary.LittleEndian.AppendUint64(f64, math.Float64bits(x))
	}
	return []Tensor{
		{Name: "w.f32", DType: F32, Shape: []int64{2, 4}, Data: f32Bytes(f32)},
		{Name: "w.f16", DType: F16, Shape: []int64{8}, Data: f16},
		{Name: "w.bf16", DType: BF16, Shape: []int64{4, 2}, Data: bf16},
		{Name: "w.f64", DType: F64, Shape: []int64{3}, Data: f64},
		{Name: "i64", DType: I64, Shape: []int64{1}, Data: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
		{Name: "i32", DType: I32, Shape: []int64{}, Data: []byte{0xff, 0xff, 0xff, 0xff}},
		{Name: "i8", DType: I8, Shape: []int64{3}, Data: []byte{0x80, 0x7f, 0}},
		{Name: "u8", DType: U8, Shape: []int64{1, 1, 5}, Data: []byte{1, 2, 3, 4, 5}},
		{Name: "mask", DType: BOOL, Shape: []int64{2}, Data: []byte{1, 0}},
		{Name: "empty", DType: F32, Shape: []int64{0, 3}, Data: []byte{}},
		{Name: "i16", DType: I16, Shape: []int64{1}, Data: []byte{1, 2}},
	}
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	meta := map[string]string{"format": "pt", "note": "héllo \"quoted\""}
	tensors := sampleTensors()
	if err := Write(path, tensors, meta); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(path)
	if n := binary.LittleEndian.Uint64(first); n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	// Deterministic: same bytes whatever the input order.
	rev := append([]Tensor(nil), tensors...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	if err := Write(path, rev, meta); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(path)
	if !bytes.Equal(first, second) {
		t.Error("Write is not deterministic")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary files left behind: %v", ents)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !reflect.DeepEqual(f.Metadata(), meta) {
		t.Errorf("metadata %v, want %v", f.Metadata(), meta)
	}
	var want []string
	for _, tt := range tensors {
		want = append(want, tt.Name)
	}
	if got := f.Names(); len(got) != len(want) || !sortedStrings(got) {
		t.Errorf("names %v not sorted or wrong length", got)
	}
	for _, tt := range tensors {
		t.Run(tt.Name, func(t *testing.T) {
			info, ok := f.Info(tt.Name)
			if !ok {
				t.Fatal("missing")
			}
			if info.DType != tt.DType || !reflect.DeepEqual(info.Shape, tt.Shape) {
				t.Errorf("info %+v, want dtype %s shape %v", info, tt.DType, tt.Shape)
			}
			b, err := f.Bytes(tt.Name)
			if err != nil || !bytes.Equal(b, tt.Data) {
				t.Errorf("bytes %v %v, want %v", b, err, tt.Data)
			}
			vals, err := f.Float32(tt.Name)
			switch tt.DType {
			case F32, F16, BF16, F64:
				if err != nil {
					t.Fatal(err)
				}
				ref, _ := DecodeFloat32(tt.DType, tt.Data)
				if !bytes.Equal(f32Bytes(vals), f32Bytes(ref)) {
					t.Errorf("Float32 %v, want %v", vals, ref)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), path) {
					t.Errorf("Float32 of %s: err %v, want an error naming the file", tt.DType, err)
				}
			}
		})
	}
	if _, err := f.Bytes("nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("missing tensor: %v", err)
	}
	f.Close()
	if _, err := f.Bytes("u8"); err == nil {
		t.Error("Bytes after Close succeeded")
	}
}

func sortedStrings(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] {
			return false
		}
	}
	return true
}

func TestWriteRejects(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	cases := []struct {
		name    string
		tensors []Tensor
		want    string
	}{
		{"dup", []Tensor{{Name: "a", DType: U8, Shape: []int64{1}, Data: []byte{1}}, {Name: "a", DType: U8, Shape: []int64{1}, Data: []byte{1}}}, "duplicate tensor name"},
		{"len", []Tensor{{Name: "a", DType: F32, Shape: []int64{2}, Data: []byte{1}}}, "needs 8"},
		{"dtype", []Tensor{{Name: "a", DType: "F8", Shape: []int64{1}, Data: []byte{1}}}, "unknown dtype"},
		{"neg", []Tensor{{Name: "a", DType: U8, Shape: []int64{-1}, Data: nil}}, "negative dimension"},
		{"reserved", []Tensor{{Name: "__metadata__", DType: U8, Shape: []int64{1}, Data: []byte{1}}}, "invalid tensor name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Write(path, c.tensors, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("err %v, want %q naming %s", err, c.want, path)
			}
			if _, serr := os.Stat(path); serr == nil {
				t.Error("a file was written")
			}
		})
	}
}

// image builds a safetensors byte image from a raw header string and data.
func image(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func TestBadInput(t *testing.T) {
	ok := `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"empty file", nil, "shorter than the 8-byte header length"},
		{"short file", []byte{1, 2, 3}, "shorter than the 8-byte header length"},
		{"header past end", append(binary.LittleEndian.AppendUint64(nil, 1000), "{}"...), "header length 1000 past end of file"},
		{"huge header", binary.LittleEndian.AppendUint64(nil, math.MaxUint64), "past end of file"},
		{"bad json", image(`{"a":{"dtype":"F32",`, nil), "bad JSON"},
		{"not object", image(`[1,2]`, nil), "not a JSON object"},
		{"trailing garbage", image(ok+`x`, make([]byte, 8)), "trailing data"},
		{"bad utf8", image("{\"\xff\":{}}", nil), "not valid UTF-8"},
		{"unknown dtype", image(`{"a":{"dtype":"F8_E4M3X","shape":[2],"data_offsets":[0,2]}}`, make([]byte, 2)), `tensor "a": unknown dtype "F8_E4M3X"`},
		{"size mismatch", image(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)), `tensor "a": byte range [0, 8) holds 8 bytes but shape [3] of F32 needs 12`},
		{"past end of data", image(`{"x":{"dtype":"U8","shape":[80],"data_offsets":[10,90]}}`, make([]byte, 80)), `tensor "x": byte range [10, 90) past end of data (80 bytes)`},
		{"begin after end", image(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,2]}}`, make([]byte, 4)), "begin after end"},
		{"negative offset", image(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[-1,2]}}`, make([]byte, 4)), "negative data_offsets"},
		{"overlap", image(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}`, make([]byte, 6)), `tensor "b": byte range [2, 6) overlaps tensor "a"`},
		{"gap", image(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}}`, make([]byte, 6)), "data bytes [2, 4) are not covered"},
		{"trailing bytes", image(ok, make([]byte, 12)), "data bytes [8, 12) are not covered"},
		{"duplicate tensor", image(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, make([]byte, 2)), `duplicate key "a"`},
		{"duplicate field", image(`{"a":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, make([]byte, 1)), `duplicate key "dtype"`},
		{"negative dim", image(`{"a":{"dtype":"U8","shape":[-2,-1],"data_offsets":[0,2]}}`, make([]byte, 2)), `tensor "a": negative dimension -2`},
		{"float dim", image(`{"a":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}}`, make([]byte, 1)), "not a 64-bit integer"},
		{"huge shape", image(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,1]}}`, make([]byte, 1)), "too many elements"},
		{"missing offsets", image(`{"a":{"dtype":"U8","shape":[1]}}`, make([]byte, 1)), "missing data_offsets"},
		{"three offsets", image(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}}`, make([]byte, 1)), "more than 2 entries"},
		{"unknown field", image(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}`, make([]byte, 1)), `unknown field "x"`},
		{"metadata not string", image(`{"__metadata__":{"k":1}}`, nil), `__metadata__: key "k": value is not a string`},
		{"metadata duplicate", image(`{"__metadata__":{"k":"1","k":"2"}}`, nil), `duplicate key "k"`},
		{"tensor not object", image(`{"a":[1]}`, nil), `tensor "a": bad JSON`},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".safetensors")
			if err := os.WriteFile(path, c.file, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := Open(path)
			if err == nil {
				f.Close()
				t.Fatalf("Open succeeded, want error %q", c.want)
			}
			if !strings.Contains(err.Error(), path+": ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want it to name %s and contain %q", err, path, c.want)
			}
		})
	}
	// A valid header padded with spaces (as the reference writer does) and an empty file set.
	for _, good := range [][]byte{image(ok+"      ", make([]byte, 8)), image(`{}`, nil), image(`{"__metadata__":{}}`, nil)} {
		if _, err := Parse("good", good); err != nil {
			t.Errorf("valid image rejected: %v", err)
		}
	}
}

func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "seed.safetensors")
	if err := Write(path, sampleTensors(), map[string]string{"format": "pt"}); err != nil {
		f.Fatal(err)
	}
	seed, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	f.Add(image(`{"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(image(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}`, make([]byte, 6)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := Parse("fuzz.safetensors", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.safetensors: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		checkAccepted(t, sf)
		sf.Close()
	})
}

// checkAccepted checks what must hold for every file Parse accepts: the tensors lie inside the
// data buffer, tile it without overlap, and hold exactly shape x dtype bytes; the names are
// sorted and unique; and writing the tensors back gives a file that parses to the same tensors.
func checkAccepted(t *testing.T, sf *File) {
	t.Helper()
	names := sf.Names()
	var tensors []Tensor
	var infos []TensorInfo
	for i, n := range names {
		if i > 0 && names[i-1] >= n {
			t.Fatalf("names not sorted and unique: %q, %q", names[i-1], n)
		}
		info, ok := sf.Info(n)
		if !ok {
			t.Fatalf("Info(%q) missing", n)
		}
		if info.Begin < 0 || info.End < info.Begin || info.End > int64(len(sf.data)) {
			t.Fatalf("%q: range [%d, %d) outside the %d-byte data buffer", n, info.Begin, info.End, len(sf.data))
		}
		if info.End-info.Begin != info.NumElements()*int64(info.DType.Size()) {
			t.Fatalf("%q: %d bytes for shape %v of %s", n, info.End-info.Begin, info.Shape, info.DType)
		}
		b, err := sf.Bytes(n)
		if err != nil || int64(len(b)) != info.End-info.Begin {
			t.Fatalf("Bytes(%q): %d bytes, %v", n, len(b), err)
		}
		if v, err := sf.Float32(n); err == nil && int64(len(v)) != info.NumElements() {
			t.Fatalf("Float32(%q): %d values for %d elements", n, len(v), info.NumElements())
		}
		infos = append(infos, info)
		tensors = append(tensors, Tensor{Name: n, DType: info.DType, Shape: info.Shape, Data: b})
	}
	sorted := slices.Clone(infos)
	slices.SortFunc(sorted, func(a, b TensorInfo) int { return cmp.Compare(a.Begin, b.Begin)*2 + cmp.Compare(a.End, b.End) })
	var pos int64
	for _, ti := range sorted {
		if ti.Begin != pos {
			t.Fatalf("tensor %q starts at %d, the previous one ends at %d (gap or overlap)", ti.Name, ti.Begin, pos)
		}
		pos = ti.End
	}
	if pos != int64(len(sf.data)) {
		t.Fatalf("tensors end at %d of %d data bytes", pos, len(sf.data))
	}
	// Round trip through the writer's encoding (names sorted, data back to back).
	header, err := encodeHeader(tensors, sf.Metadata())
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	img := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	img = append(img, header...)
	for _, tt := range tensors {
		img = append(img, tt.Data...)
	}
	back, err := Parse("again.safetensors", img)
	if err != nil {
		t.Fatalf("the file written back does not parse: %v", err)
	}
	if !slices.Equal(back.Names(), names) || !reflect.DeepEqual(back.Metadata(), sf.Metadata()) {
		t.Fatalf("round trip changed the names or metadata")
	}
	for _, n := range names {
		a, _ := sf.Info(n)
		b, _ := back.Info(n)
		ab, _ := sf.Bytes(n)
		bb, _ := back.Bytes(n)
		if a.DType != b.DType || !slices.Equal(a.Shape, b.Shape) || !bytes.Equal(ab, bb) {
			t.Fatalf("round trip changed tensor %q", n)
		}
	}
}

func TestConversionsSelf(t *testing.T) {
	// Every non-NaN half survives half -> float32 -> half exactly.
	for h := 0; h < 1<<16; h++ {
		f := Float16ToFloat32(uint16(h))
		if math.IsNaN(float64(f)) != (h&0x7c00 == 0x7c00 && h&0x3ff != 0) {
			t.Fatalf("half %#04x: NaN-ness wrong (%v)", h, f)
		}
		if back := Float32ToFloat16(f); back != uint16(h) && !math.IsNaN(float64(f)) {
			t.Fatalf("half %#04x -> %v -> %#04x", h, f, back)
		}
		if back := Float32ToBFloat16(BFloat16ToFloat32(uint16(h))); back != uint16(h) && !math.IsNaN(float64(BFloat16ToFloat32(uint16(h)))) {
			t.Fatalf("bf16 %#04x round trip gave %#04x", h, back)
		}
	}
	cases := []struct {
		in       float32
		f16, b16 uint16
	}{
		{0, 0, 0},
		{float32(math.Copysign(0, -1)), 0x8000, 0x8000},
		{1, 0x3c00, 0x3f80},
		{65504, 0x7bff, 0x4780},
		{65520, 0x7c00, 0x4780},                // rounds to inf in half
		{65519.996, 0x7bff, 0x4780},            // just below the half overflow threshold
		{5.960464477539063e-08, 1, 0x3380},     // smallest half subnormal 2^-24
		{2.9802322387695312e-08, 0, 0x3300},    // 2^-25: tie rounds to even (0)
		{4.470348358154297e-08, 1, 0x3340},     // 1.5 * 2^-25 rounds up to 2^-24
		{6.097555160522461e-05, 0x3ff, 0x3880}, // largest half subnormal
		{float32(math.Inf(-1)), 0xfc00, 0xff80},
		{1.00390625, 0x3c04, 0x3f80}, // bf16 tie (1 + 2^-8) -> even 1.0
		{1.01171875, 0x3c0c, 0x3f82}, // bf16 tie (1 + 3*2^-8) -> even up
	}
	for _, c := range cases {
		if got := Float32ToFloat16(c.in); got != c.f16 {
			t.Errorf("Float32ToFloat16(%g) = %#04x, want %#04x", c.in, got, c.f16)
		}
		if got := Float32ToBFloat16(c.in); got != c.b16 {
			t.Errorf("Float32ToBFloat16(%g) = %#04x, want %#04x", c.in, got, c.b16)
		}
	}
}

// conversionInputs returns float32 bit patterns covering special values, rounding ties for both
// half formats, the half subnormal range and random bits.
func conversionInputs() []uint32 {
	in := []uint32{0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0x7fbfffff,
		0xff812345, 0x7fffffff, 0x00000001, 0x807fffff, 0x3f800000, 0x477fe000, 0x477fefff, 0x477ff000,
		0x477fffff, 0x47800000, 0x7f7fffff, 0xff7fffff, 0x33800000, 0x33000000, 0x33000001, 0x32ffffff,
		0x387fc000, 0x387fe000, 0x38800000, 0x387ff000}
	state := uint64(0x9e3779b97f4a7c15)
	next := func() uint32 {
		state ^= state << 13
		state ^= state >> 7
		state ^= state << 17
		return uint32(state >> 32)
	}
	for i := 0; i < 20000; i++ {
		r := next()
		in = append(in, r)
		in = append(in, r&0xffff0000|0x8000)         // bf16 tie
		in = append(in, r&0xffffe000|0x1000)         // f16 tie
		e := uint32(100 + next()%50)                 // exponents around the half range
		in = append(in, r&0x807fffff|e<<23)          // half normal/subnormal/overflow region
		in = append(in, (r&0x807fe000|e<<23)|0x1000) // ties in that region
	}
	return in
}

func TestConversionsMatchTorch(t *testing.T) {
	dir := t.TempDir()
	in := conversionInputs()
	raw := make([]byte, 4*len(in))
	for i, v := range in {
		binary.LittleEndian.PutUint32(raw[4*i:], v)
	}
	inPath := filepath.Join(dir, "in.f32")
	if err := os.WriteFile(inPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	testref.RunPython(t, `
import sys, numpy as np, torch
d = sys.argv[1]
x = torch.from_numpy(np.fromfile(d + "/in.f32", dtype=np.float32))
x.to(torch.bfloat16).view(torch.int16).numpy().tofile(d + "/bf16.bin")
x.to(torch.float16).view(torch.int16).numpy().tofile(d + "/f16.bin")
allh = torch.from_numpy(np.arange(65536, dtype=np.uint16).view(np.int16))
allh.view(torch.float16).float().numpy().tofile(d + "/f16_f32.bin")
allh.view(torch.bfloat16).float().numpy().tofile(d + "/bf16_f32.bin")
`, dir)
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	bf, hf := read("bf16.bin"), read("f16.bin")
	isNaN32 := func(v uint32) bool { return v&0x7fffffff > 0x7f800000 }
	bad := 0
	for i, v := range in {
		wantB := binary.LittleEndian.Uint16(bf[2*i:])
		wantH := binary.LittleEndian.Uint16(hf[2*i:])
		gotB := Float32ToBFloat16(math.Float32frombits(v))
		gotH := Float32ToFloat16(math.Float32frombits(v))
		if isNaN32(v) {
			// torch's NaN payloads depend on its code path; only NaN-ness is specified.
			if gotB&0x7fff <= 0x7f80 || wantB&0x7fff <= 0x7f80 || gotH&0x7fff <= 0x7c00 {
				t.Errorf("%#08x: NaN not preserved (bf16 got %#04x torch %#04x, f16 got %#04x)", v, gotB, wantB, gotH)
			}
			if gotH != wantH {
				t.Errorf("%#08x: f16 NaN got %#04x torch %#04x", v, gotH, wantH)
			}
			continue
		}
		if gotB != wantB || gotH != wantH {
			if bad++; bad < 20 {
				t.Errorf("%#08x (%g): bf16 got %#04x torch %#04x; f16 got %#04x torch %#04x", v, math.Float32frombits(v), gotB, wantB, gotH, wantH)
			}
		}
	}
	t.Logf("compared %d float32 inputs against torch", len(in))
	h32, b32 := read("f16_f32.bin"), read("bf16_f32.bin")
	for h := 0; h < 1<<16; h++ {
		want := binary.LittleEndian.Uint32(h32[4*h:])
		if got := math.Float32bits(Float16ToFloat32(uint16(h))); got != want {
			t.Errorf("half %#04x: got %#08x torch %#08x", h, got, want)
		}
		want = binary.LittleEndian.Uint32(b32[4*h:])
		if got := math.Float32bits(BFloat16ToFloat32(uint16(h))); got != want {
			t.Errorf("bf16 %#04x: got %#08x torch %#08x", h, got, want)
		}
	}
}

type pyTensor struct {
	DType   string  `json:"dtype"`
	Shape   []int64 `json:"shape"`
	Raw     string  `json:"raw"`
	Float32 string  `json:"f32"`
}

const pyMakeTensors = `
import torch
g = torch.Generator().manual_seed(7)
def tensors():
    r = lambda *s: torch.randn(*s, generator=g)
    return {
        "model.embed_tokens.weight": r(16, 8),
        "model.layers.0.self_attn.q_proj.weight": r(8, 8).to(torch.float16),
        "model.layers.0.mlp.up_proj.weight": (r(12, 8) * 1e4).to(torch.bfloat16),
        "model.norm.weight": torch.tensor([1.0, float("inf"), -0.0, 1e-42, 65504.0, 7e-8], dtype=torch.float16),
        "f64": r(5).double(),
        "scalar": torch.tensor(3.5),
        "ids": torch.arange(6, dtype=torch.int64).reshape(2, 3),
        "i32": torch.tensor([-1, 2], dtype=torch.int32),
        "i8": torch.tensor([-128, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "mask": torch.tensor([True, False, True]),
        "empty": torch.zeros(0, 4),
    }
def describe(ts):
    import hashlib
    out = {}
    for k, t in ts.items():
        t = t.contiguous()
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.dtype != torch.bool else t.reshape(-1).numpy().tobytes()
        d = {"dtype": {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
                       torch.int64: "I64", torch.int32: "I32", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}[t.dtype],
             "shape": list(t.shape), "raw": hashlib.sha256(raw).hexdigest()}
        if t.is_floating_point():
            d["f32"] = hashlib.sha256(t.float().numpy().tobytes()).hexdigest()
        out[k] = d
    return out
`

func checkAgainst(t *testing.T, r Reader, want map[string]pyTensor) {
	t.Helper()
	if len(r.Names()) != len(want) {
		t.Errorf("Go sees %d tensors, Python %d", len(r.Names()), len(want))
	}
	for name, w := range want {
		info, ok := r.Info(name)
		if !ok {
			t.Errorf("%s: missing in Go", name)
			continue
		}
		if string(info.DType) != w.DType || !reflect.DeepEqual(info.Shape, w.Shape) {
			t.Errorf("%s: Go %s %v, Python %s %v", name, info.DType, info.Shape, w.DType, w.Shape)
		}
		b, err := r.Bytes(name)
		if err != nil || sha(b) != w.Raw {
			t.Errorf("%s: raw bytes differ (%v)", name, err)
		}
		if w.Float32 != "" {
			v, err := r.Float32(name)
			if err != nil || sha(f32Bytes(v)) != w.Float32 {
				t.Errorf("%s: float32 values differ from torch .float() (%v)", name, err)
			}
		}
	}
}

func TestPythonWritesGoReads(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	out := testref.RunPython(t, pyMakeTensors+`
import sys, json
from safetensors.torch import save_file
ts = tensors()
save_file(ts, sys.argv[1], metadata={"format": "pt", "producer": "python"})
print(json.dumps(describe(ts)))
`, path)
	var want map[string]pyTensor
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	checkAgainst(t, f, want)
	if m := f.Metadata(); m["format"] != "pt" || m["producer"] != "python" || len(m) != 2 {
		t.Errorf("metadata %v", m)
	}
}

func TestGoWritesPythonReads(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "go.safetensors")
	tensors := sampleTensors()
	meta := map[string]string{"format": "pt", "source": "growthtrain"}
	if err := Write(path, tensors, meta); err != nil {
		t.Fatal(err)
	}
	out := testref.RunPython(t, pyMakeTensors+`
import sys, json
from safetensors import safe_open
with safe_open(sys.argv[1], "pt") as f:
    ts = {k: f.get_tensor(k) for k in f.keys()}
    meta = f.metadata()
print(json.dumps({"meta": meta, "tensors": describe({k: v for k, v in ts.items() if v.dtype != torch.int16})}))
`, path)
	var got struct {
		Meta    map[string]string   `json:"meta"`
		Tensors map[string]pyTensor `json:"tensors"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Meta, meta) {
		t.Errorf("Python metadata %v, want %v", got.Meta, meta)
	}
	for _, tt := range tensors {
		if tt.DType == I16 {
			continue // torch has no int16 view to uint8 path in describe(); covered by round trip
		}
		w, ok := got.Tensors[tt.Name]
		if !ok {
			t.Errorf("%s: not loaded by Python", tt.Name)
			continue
		}
		if w.DType != string(tt.DType) || !reflect.DeepEqual(w.Shape, tt.Shape) || w.Raw != sha(tt.Data) {
			t.Errorf("%s: Python sees %s %v %s, Go wrote %s %v %s", tt.Name, w.DType, w.Shape, w.Raw, tt.DType, tt.Shape, sha(tt.Data))
		}
		if w.Float32 != "" {
			v, _ := DecodeFloat32(tt.DType, tt.Data)
			if sha(f32Bytes(v)) != w.Float32 {
				t.Errorf("%s: torch .float() differs from Go's conversion", tt.Name)
			}
		}
	}
}
