package gguf

import (
	"encoding/binary"
	"math"
)

// Test-only GGUF image builder.

type kvEnc struct {
	key string
	typ uint32
	val []byte
}

type tiEnc struct {
	name string
	dims []uint64
	typ  uint32
	off  uint64
}

type spec struct {
	magic    string
	version  uint32
	nTensors *uint64
	nKV      *uint64
	kvs      []kvEnc
	tis      []tiEnc
	align    int
	data     []byte
}

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
func encStr(s string) []byte {
	return append(le64(uint64(len(s))), s...)
}
func encStrArr(ss ...string) []byte {
	b := append(le32(uint32(ValueString)), le64(uint64(len(ss)))...)
	for _, s := range ss {
		b = append(b, encStr(s)...)
	}
	return b
}
func ptr(v uint64) *uint64 { return &v }

// image encodes the spec; marks holds the offsets where sections start.
func (s spec) image() (b []byte, marks map[string]int) {
	marks = map[string]int{}
	b = append(b, s.magic...)
	b = append(b, le32(s.version)...)
	nt, nk := uint64(len(s.tis)), uint64(len(s.kvs))
	if s.nTensors != nil {
		nt = *s.nTensors
	}
	if s.nKV != nil {
		nk = *s.nKV
	}
	b = append(b, le64(nt)...)
	b = append(b, le64(nk)...)
	marks["kv"] = len(b)
	for i, kv := range s.kvs {
		if i == 1 {
			marks["kv1"] = len(b)
		}
		b = append(b, encStr(kv.key)...)
		b = append(b, le32(kv.typ)...)
		marks["kvval"] = len(b)
		b = append(b, kv.val...)
	}
	marks["ti"] = len(b)
	for _, t := range s.tis {
		b = append(b, encStr(t.name)...)
		b = append(b, le32(uint32(len(t.dims)))...)
		for _, d := range t.dims {
			b = append(b, le64(d)...)
		}
		b = append(b, le32(t.typ)...)
		b = append(b, le64(t.off)...)
	}
	marks["pad"] = len(b)
	for len(b)%s.align != 0 {
		b = append(b, 0)
	}
	marks["data"] = len(b)
	b = append(b, s.data...)
	return b, marks
}

// baseSpec is a small valid GGUF v3 file: metadata of every scalar type plus arrays, an F32
// tensor [2 x 4] and a Q8_0 tensor [32].
func baseSpec() spec {
	f32 := make([]byte, 0, 64)
	for i := 0; i < 8; i++ {
		f32 = binary.LittleEndian.AppendUint32(f32, math.Float32bits(float32(i)-2.5))
	}
	for len(f32) < 32 {
		f32 = append(f32, 0)
	}
	q8 := []byte{0x00, 0x3c} // d = 1.0
	for i := 0; i < 32; i++ {
		q8 = append(q8, byte(int8(i-16)))
	}
	nested := append(le32(uint32(ValueArray)), le64(2)...)
	nested = append(nested, append(le32(uint32(ValueInt32)), le64(2)...)...)
	nested = append(nested, le32(1)...)
	nested = append(nested, le32(2)...)
	nested = append(nested, append(le32(uint32(ValueInt32)), le64(1)...)...)
	nested = append(nested, le32(3)...)
	return spec{
		magic: "GGUF", version: 3, align: 32,
		kvs: []kvEnc{
			{"general.architecture", uint32(ValueString), encStr("llama")},
			{"general.alignment", uint32(ValueUint32), le32(32)},
			{"t.u8", uint32(ValueUint8), []byte{200}},
			{"t.i8", uint32(ValueInt8), []byte{0x80}},
			{"t.u16", uint32(ValueUint16), []byte{1, 2}},
			{"t.i16", uint32(ValueInt16), []byte{0xff, 0xff}},
			{"t.i32", uint32(ValueInt32), le32(0xfffffffe)},
			{"t.f32", uint32(ValueFloat32), le32(math.Float32bits(1.5))},
			{"t.bool", uint32(ValueBool), []byte{1}},
			{"t.u64", uint32(ValueUint64), le64(1 << 63)},
			{"t.i64", uint32(ValueInt64), le64(uint64(1<<64 - 5))},
			{"t.f64", uint32(ValueFloat64), le64(math.Float64bits(-0.25))},
			{"t.nested", uint32(ValueArray), nested},
			{"tokenizer.ggml.tokens", uint32(ValueArray), encStrArr("a", "b", "ccc")},
			{"tokenizer.ggml.token_type", uint32(ValueArray), append(append(le32(uint32(ValueInt32)), le64(3)...), append(append(le32(1), le32(2)...), le32(3)...)...)},
		},
		tis: []tiEnc{
			{"a.weight", []uint64{4, 2}, uint32(TypeF32), 0},
			{"b.weight", []uint64{32}, uint32(TypeQ8_0), 32},
		},
		data: append(f32, q8...),
	}
}
