package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/growthtrain/growthtrain/internal/fsutil"
	"github.com/growthtrain/growthtrain/model/safetensors"
)

// KV is one metadata entry to write. Value is one of uint8, int8, uint16, int16, uint32,
// int32, float32, bool, string, uint64, int64, float64, or a slice of one of those.
type KV struct {
	Key   string
	Value any
}

// WriteTensor is one tensor to write: GGUF dims (ne0 first) and its encoded bytes.
type WriteTensor struct {
	Name string
	Type GGMLType
	Dims []uint64
	Data []byte
}

// Write writes a GGUF v3 file (little-endian, general.alignment 32) with the metadata in the
// given order and the tensors in the given order, each tensor's data aligned. The write is
// atomic (temporary file, fsync, rename). Every value is checked: an unsupported value type,
// duplicate keys or tensor names, or data whose size the type and dims do not imply is an
// error naming the path and the entry.
func Write(path string, kvs []KV, tensors []WriteTensor) error {
	seen := map[string]bool{}
	for _, kv := range kvs {
		if seen[kv.Key] {
			return fmt.Errorf("%s: duplicate metadata key %q", path, kv.Key)
		}
		seen[kv.Key] = true
		if kv.Key == "general.alignment" {
			return fmt.Errorf("%s: general.alignment is written by Write itself", path)
		}
	}
	names := map[string]bool{}
	var offsets []uint64
	var off uint64
	for _, t := range tensors {
		if names[t.Name] {
			return fmt.Errorf("%s: duplicate tensor %q", path, t.Name)
		}
		names[t.Name] = true
		if len(t.Dims) == 0 || len(t.Dims) > MaxDims {
			return fmt.Errorf("%s: tensor %s has %d dims (1 to %d)", path, t.Name, len(t.Dims), MaxDims)
		}
		want, err := encodedSize(t.Type, t.Dims)
		if err != nil {
			return fmt.Errorf("%s: tensor %s: %w", path, t.Name, err)
		}
		if int64(len(t.Data)) != want {
			return fmt.Errorf("%s: tensor %s: %d bytes of data, its type %s and dims %v need %d", path, t.Name, len(t.Data), t.Type, t.Dims, want)
		}
		offsets = append(offsets, off)
		off = alignUp(off+uint64(len(t.Data)), DefaultAlignment)
	}
	all := append([]KV{{"general.alignment", uint32(DefaultAlignment)}}, kvs...)
	return fsutil.WriteAtomic(path, func(w *bufio.Writer) error {
		e := &encoder{w: w}
		e.raw([]byte("GGUF"))
		e.u32(3)
		e.u64(uint64(len(tensors)))
		e.u64(uint64(len(all)))
		for _, kv := range all {
			e.str(kv.Key)
			if err := e.value(kv.Value, true); err != nil {
				return fmt.Errorf("metadata %s: %w", kv.Key, err)
			}
		}
		for i, t := range tensors {
			e.str(t.Name)
			e.u32(uint32(len(t.Dims)))
			for _, d := range t.Dims {
				e.u64(d)
			}
			e.u32(uint32(t.Type))
			e.u64(offsets[i])
		}
		e.pad()
		start := e.n
		for i, t := range tensors {
			for e.n-start < offsets[i] {
				e.raw([]byte{0})
			}
			e.raw(t.Data)
		}
		e.pad()
		return e.err
	})
}

func alignUp(x, a uint64) uint64 { return (x + a - 1) / a * a }

// encodedSize is the byte size of a tensor of type t with the given dims.
func encodedSize(t GGMLType, dims []uint64) (int64, error) {
	tr, ok := traits[t]
	if !ok || tr.typeSize == 0 {
		return 0, fmt.Errorf("type %s cannot be written", t)
	}
	if dims[0]%uint64(tr.blockSize) != 0 {
		return 0, fmt.Errorf("row length %d is not a multiple of %s's block size %d", dims[0], t, tr.blockSize)
	}
	n := uint64(1)
	for _, d := range dims {
		if d == 0 || n > math.MaxInt64/d {
			return 0, fmt.Errorf("dims %v: zero or too large", dims)
		}
		n *= d
	}
	return int64(n / uint64(tr.blockSize) * uint64(tr.typeSize)), nil
}

type encoder struct {
	w   *bufio.Writer
	n   uint64
	err error
}

func (e *encoder) raw(b []byte) {
	if e.err != nil {
		return
	}
	_, e.err = e.w.Write(b)
	e.n += uint64(len(b))
}

func (e *encoder) u32(v uint32) { e.raw(binary.LittleEndian.AppendUint32(nil, v)) }
func (e *encoder) u64(v uint64) { e.raw(binary.LittleEndian.AppendUint64(nil, v)) }
func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	e.raw([]byte(s))
}

func (e *encoder) pad() {
	for e.n%DefaultAlignment != 0 {
		e.raw([]byte{0})
	}
}

// value writes v, with its type tag first when tagged.
func (e *encoder) value(v any, tagged bool) error {
	tag := func(t ValueType) {
		if tagged {
			e.u32(uint32(t))
		}
	}
	le := binary.LittleEndian
	switch x := v.(type) {
	case uint8:
		tag(ValueUint8)
		e.raw([]byte{x})
	case int8:
		tag(ValueInt8)
		e.raw([]byte{byte(x)})
	case uint16:
		tag(ValueUint16)
		e.raw(le.AppendUint16(nil, x))
	case int16:
		tag(ValueInt16)
		e.raw(le.AppendUint16(nil, uint16(x)))
	case uint32:
		tag(ValueUint32)
		e.u32(x)
	case int32:
		tag(ValueInt32)
		e.u32(uint32(x))
	case float32:
		tag(ValueFloat32)
		e.u32(math.Float32bits(x))
	case bool:
		tag(ValueBool)
		b := byte(0)
		if x {
			b = 1
		}
		e.raw([]byte{b})
	case string:
		tag(ValueString)
		e.str(x)
	case uint64:
		tag(ValueUint64)
		e.u64(x)
	case int64:
		tag(ValueInt64)
		e.u64(uint64(x))
	case float64:
		tag(ValueFloat64)
		e.u64(math.Float64bits(x))
	case []string:
		return writeArray(e, tagged, ValueString, x)
	case []int32:
		return writeArray(e, tagged, ValueInt32, x)
	case []uint32:
		return writeArray(e, tagged, ValueUint32, x)
	case []float32:
		return writeArray(e, tagged, ValueFloat32, x)
	case []int64:
		return writeArray(e, tagged, ValueInt64, x)
	case []bool:
		return writeArray(e, tagged, ValueBool, x)
	default:
		return fmt.Errorf("unsupported value type %T", v)
	}
	return nil
}

func writeArray[T any](e *encoder, tagged bool, t ValueType, xs []T) error {
	if tagged {
		e.u32(uint32(ValueArray))
	}
	e.u32(uint32(t))
	e.u64(uint64(len(xs)))
	for _, x := range xs {
		if err := e.value(x, false); err != nil {
			return err
		}
	}
	return nil
}

// EncodeF32 returns x as little-endian float32 bytes.
func EncodeF32(x []float32) []byte {
	out := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
	}
	return out
}

// EncodeF16 returns x rounded to IEEE half precision (nearest-even, as numpy's astype).
func EncodeF16(x []float32) []byte {
	out := make([]byte, 2*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint16(out[2*i:], safetensors.Float32ToFloat16(v))
	}
	return out
}

// EncodeBF16 returns x rounded to bfloat16 (nearest-even; NaN stays NaN), as gguf-py does.
func EncodeBF16(x []float32) []byte {
	out := make([]byte, 2*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint16(out[2*i:], safetensors.Float32ToBFloat16(v))
	}
	return out
}

// QuantizeQ8_0 encodes x (a multiple of 32 values) as Q8_0 blocks following gguf-py's
// quants.py in float32 arithmetic: d = max|x| / 127, q = round-half-away(x · (1/d)), d stored
// as float16.
func QuantizeQ8_0(x []float32) ([]byte, error) {
	if len(x)%32 != 0 {
		return nil, fmt.Errorf("Q8_0: %d values are not a multiple of 32", len(x))
	}
	out := make([]byte, 0, len(x)/32*34)
	for b := 0; b < len(x); b += 32 {
		blk := x[b : b+32]
		var amax float32
		for _, v := range blk {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		out = binary.LittleEndian.AppendUint16(out, safetensors.Float32ToFloat16(d))
		for _, v := range blk {
			out = append(out, byte(int8(roundAway(v*id))))
		}
	}
	return out, nil
}

// roundAway is gguf-py's np_roundf: round half away from zero, computed as it does.
func roundAway(n float32) float32 {
	a := float32(math.Abs(float64(n)))
	fl := float32(math.Floor(float64(a)))
	b := fl + float32(math.Floor(float64(2*(a-fl))))
	if n < 0 {
		return -b
	}
	return b
}
