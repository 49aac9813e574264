// Package gguf reads GGUF (versions 2 and 3) model files, as written by llama.cpp and gguf-py,
// and dequantises their tensors to float32, using only the standard library.
//
// Layout (little-endian): magic "GGUF", uint32 version, uint64 tensor count, uint64 metadata
// count, the metadata key/value pairs (key: uint64 length + bytes; uint32 value type; value),
// the tensor infos (name, uint32 n_dims, n_dims x uint64 dims with ne0 the fastest-varying,
// uint32 ggml type, uint64 offset relative to the data section), padding to general.alignment
// (default 32), then the data section.
//
// Open validates everything before returning: counts against the file size, every string and
// array against the bytes left, value and tensor types, duplicate keys and tensor names, tensor
// offsets (aligned, inside the file, not overlapping) and the alignment itself. Errors name the
// file and the problem; no input makes the package panic.
package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sort"
	"sync"

	"github.com/growthtrain/growthtrain/internal/mmap"
)

// DefaultAlignment is the data alignment used when general.alignment is absent.
const DefaultAlignment = 32

// MaxDims is ggml's GGML_MAX_DIMS.
const MaxDims = 4

// maxArrayDepth bounds nested metadata arrays.
const maxArrayDepth = 16

// TensorInfo describes one tensor.
type TensorInfo struct {
	Name string
	Type GGMLType
	// Dims are the GGUF dimensions, ne0 (fastest-varying, contiguous) first.
	Dims []uint64
	// Shape is the PyTorch/row-major shape: Dims reversed.
	Shape       []int64
	NumElements int64
	// Offset is relative to the start of the data section; Size is the byte size.
	Offset uint64
	Size   int64
}

// File is an open GGUF file. Its methods are safe for concurrent use, but Close must not race
// with them.
type File struct {
	Path       string
	Version    uint32
	Metadata   *Metadata
	Alignment  uint64
	DataOffset int64 // absolute offset of the data section

	tensors []TensorInfo
	byName  map[string]int
	buf     []byte
	release func() error

	mu     sync.RWMutex
	closed bool
}

// Open maps path read-only and parses it.
func Open(path string) (*File, error) {
	buf, release, err := mmap.Open(path)
	if err != nil {
		return nil, err
	}
	gf, err := Parse(path, buf)
	if err != nil {
		release()
		return nil, err
	}
	gf.release = release
	return gf, nil
}

type reader struct {
	name string
	buf  []byte
	pos  int
}

func (r *reader) errf(format string, args ...any) error {
	return fmt.Errorf("%s: "+format, append([]any{r.name}, args...)...)
}

func (r *reader) left() int { return len(r.buf) - r.pos }

func (r *reader) need(n int, what string) error {
	if n < 0 || r.left() < n {
		return r.errf("truncated: %s needs %d bytes at offset %d but the file is %d bytes", what, n, r.pos, len(r.buf))
	}
	return nil
}

func (r *reader) u32(what string) (uint32, error) {
	if err := r.need(4, what); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint32(r.buf[r.pos:])
	r.pos += 4
	return v, nil
}

func (r *reader) u64(what string) (uint64, error) {
	if err := r.need(8, what); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint64(r.buf[r.pos:])
	r.pos += 8
	return v, nil
}

func (r *reader) str(what string) (string, error) {
	n, err := r.u64(what + " length")
	if err != nil {
		return "", err
	}
	if n > uint64(r.left()) {
		return "", r.errf("%s: string length %d at offset %d runs past end of file (%d bytes left)", what, n, r.pos-8, r.left())
	}
	s := string(r.buf[r.pos : r.pos+int(n)])
	r.pos += int(n)
	return s, nil
}

// Parse parses an in-memory GGUF image; name is used in error messages. The File references buf.
func Parse(name string, buf []byte) (*File, error) {
	r := &reader{name: name, buf: buf}
	if len(buf) < 4 {
		return nil, r.errf("file is %d bytes, too short for the GGUF magic", len(buf))
	}
	if string(buf[:4]) != "GGUF" {
		return nil, r.errf("bad magic %q, not a GGUF file", buf[:4])
	}
	r.pos = 4
	version, err := r.u32("version")
	if err != nil {
		return nil, err
	}
	switch {
	case version == 2 || version == 3:
	case bits.ReverseBytes32(version) <= 3 && bits.ReverseBytes32(version) != 0:
		return nil, r.errf("big-endian GGUF (version %d byte-swapped) is not supported", bits.ReverseBytes32(version))
	default:
		return nil, r.errf("unsupported GGUF version %d (want 2 or 3)", version)
	}
	nTensors, err := r.u64("tensor count")
	if err != nil {
		return nil, err
	}
	nKV, err := r.u64("metadata count")
	if err != nil {
		return nil, err
	}
	// Smallest encodings: a key/value pair is 8 (key length) + 4 (type) + 1 bytes; a tensor
	// info is 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset) bytes.
	if left := uint64(r.left()); nKV > left/13 {
		return nil, r.errf("metadata count %d is impossible in a %d-byte file", nKV, len(buf))
	} else if nTensors > left/24 {
		return nil, r.errf("tensor count %d is impossible in a %d-byte file", nTensors, len(buf))
	}
	md := &Metadata{file: name, m: make(map[string]Value, min(nKV, 1024))}
	for i := uint64(0); i < nKV; i++ {
		key, err := r.str(fmt.Sprintf("metadata key #%d", i))
		if err != nil {
			return nil, err
		}
		if _, dup := md.m[key]; dup {
			return nil, r.errf("duplicate metadata key %q", key)
		}
		typ, err := r.u32(fmt.Sprintf("metadata %q type", key))
		if err != nil {
			return nil, err
		}
		v, err := r.value(key, ValueType(typ), 0)
		if err != nil {
			return nil, err
		}
		md.keys = append(md.keys, key)
		md.m[key] = v
	}
	gf := &File{Path: name, Version: version, Metadata: md, Alignment: DefaultAlignment, buf: buf,
		byName: make(map[string]int, min(nTensors, 4096))}
	if v, ok := md.m["general.alignment"]; ok {
		a, isU32 := v.v.(uint32)
		if !isU32 {
			return nil, r.errf("general.alignment is %s, want uint32", v.typeName())
		}
		if a == 0 || a&(a-1) != 0 {
			return nil, r.errf("general.alignment %d is not a power of two", a)
		}
		gf.Alignment = uint64(a)
	}
	for i := uint64(0); i < nTensors; i++ {
		t, err := r.tensorInfo(i)
		if err != nil {
			return nil, err
		}
		if _, dup := gf.byName[t.Name]; dup {
			return nil, r.errf("duplicate tensor name %q", t.Name)
		}
		gf.byName[t.Name] = len(gf.tensors)
		gf.tensors = append(gf.tensors, t)
	}
	start := (uint64(r.pos) + gf.Alignment - 1) / gf.Alignment * gf.Alignment
	if start > uint64(len(buf)) {
		if len(gf.tensors) > 0 {
			return nil, r.errf("data section at offset %d starts past end of file (%d bytes)", start, len(buf))
		}
		start = uint64(len(buf))
	}
	gf.DataOffset = int64(start)
	dataLen := uint64(len(buf)) - start
	order := make([]int, len(gf.tensors))
	for i := range gf.tensors {
		t := &gf.tensors[i]
		order[i] = i
		if t.Offset%gf.Alignment != 0 {
			return nil, r.errf("tensor %q: offset %d is not a multiple of the alignment %d", t.Name, t.Offset, gf.Alignment)
		}
		if t.Offset > dataLen || uint64(t.Size) > dataLen-t.Offset {
			return nil, r.errf("tensor %q: data [%d, %d) past end of file (data section is %d bytes from offset %d)",
				t.Name, t.Offset, t.Offset+uint64(t.Size), dataLen, start)
		}
	}
	sort.Slice(order, func(a, b int) bool { return gf.tensors[order[a]].Offset < gf.tensors[order[b]].Offset })
	for k := 1; k < len(order); k++ {
		p, c := &gf.tensors[order[k-1]], &gf.tensors[order[k]]
		if c.Offset < p.Offset+uint64(p.Size) {
			return nil, r.errf("tensor %q: data [%d, %d) overlaps tensor %q [%d, %d)",
				c.Name, c.Offset, c.Offset+uint64(c.Size), p.Name, p.Offset, p.Offset+uint64(p.Size))
		}
	}
	return gf, nil
}

func (r *reader) tensorInfo(i uint64) (TensorInfo, error) {
	var t TensorInfo
	name, err := r.str(fmt.Sprintf("tensor #%d name", i))
	if err != nil {
		return t, err
	}
	t.Name = name
	nd, err := r.u32(fmt.Sprintf("tensor %q n_dims", name))
	if err != nil {
		return t, err
	}
	if nd > MaxDims {
		return t, r.errf("tensor %q: %d dimensions (max %d)", name, nd, MaxDims)
	}
	t.Dims = make([]uint64, nd)
	numel := uint64(1)
	for j := range t.Dims {
		d, err := r.u64(fmt.Sprintf("tensor %q dim %d", name, j))
		if err != nil {
			return t, err
		}
		hi, lo := bits.Mul64(numel, d)
		if hi != 0 || lo > math.MaxInt64 {
			return t, r.errf("tensor %q: dims %v overflow", name, t.Dims[:j+1])
		}
		t.Dims[j], numel = d, lo
	}
	typ, err := r.u32(fmt.Sprintf("tensor %q type", name))
	if err != nil {
		return t, err
	}
	t.Type = GGMLType(typ)
	if !t.Type.Known() {
		return t, r.errf("tensor %q: unknown tensor type %d", name, typ)
	}
	if t.Offset, err = r.u64(fmt.Sprintf("tensor %q offset", name)); err != nil {
		return t, err
	}
	bs, ts := uint64(t.Type.BlockSize()), uint64(t.Type.TypeSize())
	ne0 := uint64(1)
	if nd > 0 {
		ne0 = t.Dims[0]
	}
	if ne0%bs != 0 {
		return t, r.errf("tensor %q: row length %d is not a multiple of the %s block size %d", name, ne0, t.Type, bs)
	}
	hi, size := bits.Mul64(numel/bs, ts)
	if hi != 0 || size > math.MaxInt64 {
		return t, r.errf("tensor %q: byte size overflows", name)
	}
	t.NumElements, t.Size = int64(numel), int64(size)
	t.Shape = make([]int64, nd)
	for j, d := range t.Dims {
		t.Shape[int(nd)-1-j] = int64(d)
	}
	return t, nil
}

func (r *reader) value(key string, typ ValueType, depth int) (Value, error) {
	v := Value{Type: typ}
	what := fmt.Sprintf("metadata %q", key)
	if typ == ValueString {
		s, err := r.str(what)
		v.v = s
		return v, err
	}
	if typ == ValueArray {
		if depth >= maxArrayDepth {
			return v, r.errf("%s: arrays nested deeper than %d", what, maxArrayDepth)
		}
		et, err := r.u32(what + " array type")
		if err != nil {
			return v, err
		}
		v.ElemType = ValueType(et)
		n, err := r.u64(what + " array length")
		if err != nil {
			return v, err
		}
		minSize := uint64(v.ElemType.fixedSize())
		switch v.ElemType {
		case ValueString:
			minSize = 8
		case ValueArray:
			minSize = 12
		}
		if minSize == 0 {
			return v, r.errf("%s: unknown array element type %d", what, et)
		}
		if n > uint64(r.left())/minSize {
			return v, r.errf("%s: array of %d %s runs past end of file (%d bytes left)", what, n, v.ElemType, r.left())
		}
		v.v, err = r.array(key, v.ElemType, int(n), depth)
		return v, err
	}
	size := typ.fixedSize()
	if size == 0 {
		return v, r.errf("%s: unknown value type %d", what, uint32(typ))
	}
	if err := r.need(size, what); err != nil {
		return v, err
	}
	b := r.buf[r.pos:]
	r.pos += size
	switch typ {
	case ValueUint8:
		v.v = b[0]
	case ValueInt8:
		v.v = int8(b[0])
	case ValueBool:
		if b[0] > 1 {
			return v, r.errf("%s: bool byte %d is neither 0 nor 1", what, b[0])
		}
		v.v = b[0] == 1
	case ValueUint16:
		v.v = binary.LittleEndian.Uint16(b)
	case ValueInt16:
		v.v = int16(binary.LittleEndian.Uint16(b))
	case ValueUint32:
		v.v = binary.LittleEndian.Uint32(b)
	case ValueInt32:
		v.v = int32(binary.LittleEndian.Uint32(b))
	case ValueFloat32:
		v.v = math.Float32frombits(binary.LittleEndian.Uint32(b))
	case ValueUint64:
		v.v = binary.LittleEndian.Uint64(b)
	case ValueInt64:
		v.v = int64(binary.LittleEndian.Uint64(b))
	case ValueFloat64:
		v.v = math.Float64frombits(binary.LittleEndian.Uint64(b))
	}
	return v, nil
}

// array reads n elements of type et; the caller has checked that n elements of the smallest
// encoding fit in the file.
func (r *reader) array(key string, et ValueType, n, depth int) (any, error) {
	sz := et.fixedSize()
	if sz > 0 {
		b := r.buf[r.pos : r.pos+n*sz]
		r.pos += n * sz
		switch et {
		case ValueUint8:
			return slices.Clone(b), nil
		case ValueInt8:
			return mapSlice(n, func(i int) int8 { return int8(b[i]) }), nil
		case ValueBool:
			for i, x := range b {
				if x > 1 {
					return nil, r.errf("metadata %q: element %d: bool byte %d is neither 0 nor 1", key, i, x)
				}
			}
			return mapSlice(n, func(i int) bool { return b[i] == 1 }), nil
		case ValueUint16:
			return mapSlice(n, func(i int) uint16 { return binary.LittleEndian.Uint16(b[2*i:]) }), nil
		case ValueInt16:
			return mapSlice(n, func(i int) int16 { return int16(binary.LittleEndian.Uint16(b[2*i:])) }), nil
		case ValueUint32:
			return mapSlice(n, func(i int) uint32 { return binary.LittleEndian.Uint32(b[4*i:]) }), nil
		case ValueInt32:
			return mapSlice(n, func(i int) int32 { return int32(binary.LittleEndian.Uint32(b[4*i:])) }), nil
		case ValueFloat32:
			return mapSlice(n, func(i int) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])) }), nil
		case ValueUint64:
			return mapSlice(n, func(i int) uint64 { return binary.LittleEndian.Uint64(b[8*i:]) }), nil
		case ValueInt64:
			return mapSlice(n, func(i int) int64 { return int64(binary.LittleEndian.Uint64(b[8*i:])) }), nil
		case ValueFloat64:
			return mapSlice(n, func(i int) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])) }), nil
		}
	}
	if et == ValueString {
		out := make([]string, n)
		for i := range out {
			// Inline r.str to avoid formatting a description per element.
			if r.left() < 8 {
				return nil, r.need(8, fmt.Sprintf("metadata %q element %d length", key, i))
			}
			l := binary.LittleEndian.Uint64(r.buf[r.pos:])
			if l > uint64(r.left()-8) {
				return nil, r.errf("metadata %q element %d: string length %d at offset %d runs past end of file (%d bytes left)",
					key, i, l, r.pos, r.left()-8)
			}
			r.pos += 8
			out[i] = string(r.buf[r.pos : r.pos+int(l)])
			r.pos += int(l)
		}
		return out, nil
	}
	out := make([]Value, n)
	for i := range out {
		v, err := r.value(fmt.Sprintf("%s[%d]", key, i), ValueArray, depth+1)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func mapSlice[T any](n int, f func(int) T) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

// Tensors returns the tensor infos in file order.
func (f *File) Tensors() []TensorInfo {
	out := make([]TensorInfo, len(f.tensors))
	for i, t := range f.tensors {
		t.Dims, t.Shape = slices.Clone(t.Dims), slices.Clone(t.Shape)
		out[i] = t
	}
	return out
}

// Tensor returns one tensor's info.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	i, ok := f.byName[name]
	if !ok {
		return TensorInfo{}, false
	}
	t := f.tensors[i]
	t.Dims, t.Shape = slices.Clone(t.Dims), slices.Clone(t.Shape)
	return t, true
}

func (f *File) raw(name string) (TensorInfo, []byte, error) {
	if f.closed {
		return TensorInfo{}, nil, fmt.Errorf("%s: file is closed", f.Path)
	}
	i, ok := f.byName[name]
	if !ok {
		return TensorInfo{}, nil, fmt.Errorf("%s: no tensor %q", f.Path, name)
	}
	t := f.tensors[i]
	begin := f.DataOffset + int64(t.Offset)
	return t, f.buf[begin : begin+t.Size : begin+t.Size], nil
}

// Bytes returns a tensor's raw bytes. The slice aliases the read-only memory map: it is valid
// only until Close, and writing to it faults.
func (f *File) Bytes(name string) ([]byte, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	_, b, err := f.raw(name)
	return b, err
}

// Float32 dequantises a tensor into a new row-major float32 slice (len NumElements), for types
// F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K. Large tensors are split
// across GOMAXPROCS goroutines. Results equal gguf-py's gguf.quants.dequantize bit for bit.
func (f *File) Float32(name string) ([]float32, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	t, b, err := f.raw(name)
	if err != nil {
		return nil, err
	}
	out, err := Dequantize(t.Type, b, t.NumElements)
	if err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %w", f.Path, name, err)
	}
	return out, nil
}

// Close unmaps the file; slices from Bytes must not be used afterwards.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed, f.buf = true, nil
	if f.release != nil {
		if err := f.release(); err != nil {
			return fmt.Errorf("%s: unmap: %w", f.Path, err)
		}
	}
	return nil
}
