// Package safetensors reads and writes Hugging Face safetensors weight files, single-file and
// sharded (model.safetensors.index.json), using only the standard library.
//
// File layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON mapping tensor
// names to {"dtype", "shape", "data_offsets": [begin, end]} (plus an optional "__metadata__"
// object of string values), then the data buffer; offsets are relative to the buffer start.
//
// Open validates the whole header before returning: the header length against the file size,
// the JSON (duplicate keys included, which encoding/json would silently collapse), dtypes, shapes,
// that every byte range matches shape x dtype size, lies inside the buffer, and that the ranges
// tile the buffer exactly (no overlap, no gap, no trailing bytes). Every error names the file.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"sort"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/growthtrain/growthtrain/internal/mmap"
)

// DType is a safetensors element type name as it appears in the header ("F32", "BF16", ...).
type DType string

// Supported dtypes.
const (
	F64  DType = "F64"
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U64  DType = "U64"
	U32  DType = "U32"
	U16  DType = "U16"
	U8   DType = "U8"
	BOOL DType = "BOOL"
)

// Size returns the element size in bytes, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case F64, I64, U64:
		return 8
	case F32, I32, U32:
		return 4
	case F16, BF16, I16, U16:
		return 2
	case I8, U8, BOOL:
		return 1
	}
	return 0
}

// MaxHeaderSize bounds the JSON header (the reference implementation uses 100 MB).
const MaxHeaderSize = 100 << 20

// TensorInfo describes one tensor. Begin and End are byte offsets relative to the start of the
// data buffer, as in the header's data_offsets.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int64
	Begin int64
	End   int64
}

// NumElements is the product of Shape (1 for a scalar).
func (t TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Reader is the read API shared by a single File and a sharded checkpoint.
type Reader interface {
	Names() []string
	Info(name string) (TensorInfo, bool)
	Bytes(name string) ([]byte, error)
	Float32(name string) ([]float32, error)
	Metadata() map[string]string
	Close() error
}

// File is an open safetensors file. Its methods are safe for concurrent use, but Close must not
// race with them.
type File struct {
	path    string
	buf     []byte // whole file (mapped or read)
	data    []byte // data buffer: buf[8+N:]
	tensors map[string]TensorInfo
	names   []string
	meta    map[string]string
	release func() error

	mu     sync.RWMutex
	closed bool
}

var _ Reader = (*File)(nil)

// Open maps path read-only and validates its header.
func Open(path string) (*File, error) {
	buf, release, err := mmap.Open(path)
	if err != nil {
		return nil, err
	}
	sf, err := Parse(path, buf)
	if err != nil {
		release()
		return nil, err
	}
	sf.release = release
	return sf, nil
}

// Parse validates an in-memory safetensors image; name is used in error messages only. The
// returned File references buf (Close is then a no-op apart from invalidating the File).
func Parse(name string, buf []byte) (*File, error) {
	errf := func(format string, args ...any) error {
		return fmt.Errorf("%s: "+format, append([]any{name}, args...)...)
	}
	size := int64(len(buf))
	if size < 8 {
		return nil, errf("file is %d bytes, shorter than the 8-byte header length", size)
	}
	n := binary.LittleEndian.Uint64(buf)
	if n > uint64(size-8) {
		return nil, errf("header length %d past end of file (%d bytes after the length field)", n, size-8)
	}
	if n > MaxHeaderSize {
		return nil, errf("header length %d exceeds the %d byte limit", n, MaxHeaderSize)
	}
	header := buf[8 : 8+n]
	data := buf[8+n:]
	tensors, meta, err := parseHeader(header)
	if err != nil {
		return nil, errf("header: %v", err)
	}
	sf := &File{path: name, buf: buf, data: data, tensors: make(map[string]TensorInfo, len(tensors)), meta: meta}
	dataLen := int64(len(data))
	for _, t := range tensors {
		esz := int64(t.DType.Size())
		numel := int64(1)
		for i, d := range t.Shape {
			if d < 0 {
				return nil, errf("tensor %q: negative dimension %d at index %d", t.Name, d, i)
			}
			hi, lo := bits.Mul64(uint64(numel), uint64(d))
			if hi != 0 || lo > math.MaxInt64/8 {
				return nil, errf("tensor %q: shape %v has too many elements", t.Name, t.Shape)
			}
			numel = int64(lo)
		}
		if t.Begin > t.End {
			return nil, errf("tensor %q: data_offsets [%d, %d) begin after end", t.Name, t.Begin, t.End)
		}
		if t.End > dataLen {
			return nil, errf("tensor %q: byte range [%d, %d) past end of data (%d bytes)", t.Name, t.Begin, t.End, dataLen)
		}
		if want := numel * esz; t.End-t.Begin != want {
			return nil, errf("tensor %q: byte range [%d, %d) holds %d bytes but shape %v of %s needs %d",
				t.Name, t.Begin, t.End, t.End-t.Begin, t.Shape, t.DType, want)
		}
		sf.tensors[t.Name] = t
		sf.names = append(sf.names, t.Name)
	}
	// The byte ranges must tile the data buffer exactly.
	order := append([]TensorInfo(nil), tensors...)
	sort.Slice(order, func(i, j int) bool {
		if order[i].Begin != order[j].Begin {
			return order[i].Begin < order[j].Begin
		}
		return order[i].End < order[j].End
	})
	var pos int64
	prev := ""
	for _, t := range order {
		if t.Begin < pos {
			return nil, errf("tensor %q: byte range [%d, %d) overlaps tensor %q (which ends at %d)", t.Name, t.Begin, t.End, prev, pos)
		}
		if t.Begin > pos {
			return nil, errf("data bytes [%d, %d) are not covered by any tensor (before tensor %q)", pos, t.Begin, t.Name)
		}
		pos, prev = t.End, t.Name
	}
	if pos != dataLen {
		return nil, errf("data bytes [%d, %d) are not covered by any tensor", pos, dataLen)
	}
	sort.Strings(sf.names)
	return sf, nil
}

// parseHeader walks the JSON tokens so that duplicate keys, unknown fields and wrong types are
// reported instead of silently accepted.
func parseHeader(header []byte) ([]TensorInfo, map[string]string, error) {
	// The reference implementation pads with trailing spaces; leading bytes must start the object.
	if !utf8.Valid(header) {
		return nil, nil, errors.New("not valid UTF-8")
	}
	trimmed := bytes.TrimLeft(header, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, nil, errors.New("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	if err := expectDelim(dec, '{'); err != nil {
		return nil, nil, err
	}
	var tensors []TensorInfo
	var meta map[string]string
	seen := map[string]bool{}
	for dec.More() {
		key, err := readKey(dec)
		if err != nil {
			return nil, nil, err
		}
		if seen[key] {
			return nil, nil, fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		if key == "__metadata__" {
			meta, err = readStringMap(dec)
			if err != nil {
				return nil, nil, fmt.Errorf("__metadata__: %w", err)
			}
			continue
		}
		t, err := readTensor(dec, key)
		if err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %w", key, err)
		}
		tensors = append(tensors, t)
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return nil, nil, errors.New("trailing data after the JSON object")
		}
		return nil, nil, fmt.Errorf("trailing data after the JSON object: %w", err)
	}
	if meta == nil {
		meta = map[string]string{}
	}
	return tensors, meta, nil
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("bad JSON: %w", err)
	}
	if got, ok := tok.(json.Delim); !ok || got != d {
		return fmt.Errorf("bad JSON: expected %q, found %v", d, tok)
	}
	return nil
}

func readKey(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", fmt.Errorf("bad JSON: %w", err)
	}
	s, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("bad JSON: expected a key, found %v", tok)
	}
	return s, nil
}

func readStringMap(dec *json.Decoder) (map[string]string, error) {
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	m := map[string]string{}
	for dec.More() {
		k, err := readKey(dec)
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("duplicate key %q", k)
		}
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("bad JSON: %w", err)
		}
		v, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("key %q: value is not a string", k)
		}
		m[k] = v
	}
	return m, expectDelim(dec, '}')
}

func readInt(dec *json.Decoder, what string) (int64, error) {
	tok, err := dec.Token()
	if err != nil {
		return 0, fmt.Errorf("bad JSON: %w", err)
	}
	num, ok := tok.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%s: expected an integer, found %v", what, tok)
	}
	v, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a 64-bit integer", what, string(num))
	}
	return v, nil
}

func readIntArray(dec *json.Decoder, what string, max int) ([]int64, error) {
	if err := expectDelim(dec, '['); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out := []int64{}
	for dec.More() {
		if len(out) >= max {
			return nil, fmt.Errorf("%s: more than %d entries", what, max)
		}
		v, err := readInt(dec, what)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, expectDelim(dec, ']')
}

func readTensor(dec *json.Decoder, name string) (TensorInfo, error) {
	t := TensorInfo{Name: name}
	if err := expectDelim(dec, '{'); err != nil {
		return t, err
	}
	var haveDType, haveShape, haveOffsets bool
	for dec.More() {
		k, err := readKey(dec)
		if err != nil {
			return t, err
		}
		switch k {
		case "dtype":
			if haveDType {
				return t, errors.New("duplicate key \"dtype\"")
			}
			haveDType = true
			tok, err := dec.Token()
			if err != nil {
				return t, fmt.Errorf("bad JSON: %w", err)
			}
			s, ok := tok.(string)
			if !ok {
				return t, fmt.Errorf("dtype is not a string: %v", tok)
			}
			t.DType = DType(s)
			if t.DType.Size() == 0 {
				return t, fmt.Errorf("unknown dtype %q", s)
			}
		case "shape":
			if haveShape {
				return t, errors.New("duplicate key \"shape\"")
			}
			haveShape = true
			if t.Shape, err = readIntArray(dec, "shape", 64); err != nil {
				return t, err
			}
		case "data_offsets":
			if haveOffsets {
				return t, errors.New("duplicate key \"data_offsets\"")
			}
			haveOffsets = true
			offs, err := readIntArray(dec, "data_offsets", 2)
			if err != nil {
				return t, err
			}
			if len(offs) != 2 {
				return t, fmt.Errorf("data_offsets has %d entries, want 2", len(offs))
			}
			if offs[0] < 0 || offs[1] < 0 {
				return t, fmt.Errorf("negative data_offsets [%d, %d)", offs[0], offs[1])
			}
			t.Begin, t.End = offs[0], offs[1]
		default:
			return t, fmt.Errorf("unknown field %q", k)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return t, err
	}
	switch {
	case !haveDType:
		return t, errors.New("missing dtype")
	case !haveShape:
		return t, errors.New("missing shape")
	case !haveOffsets:
		return t, errors.New("missing data_offsets")
	}
	return t, nil
}

// Path returns the file name given to Open.
func (f *File) Path() string { return f.path }

// Names returns the tensor names, sorted.
func (f *File) Names() []string { return append([]string(nil), f.names...) }

// Info returns a tensor's description.
func (f *File) Info(name string) (TensorInfo, bool) {
	t, ok := f.tensors[name]
	if ok {
		t.Shape = slices.Clone(t.Shape)
	}
	return t, ok
}

// Metadata returns a copy of the header's __metadata__ map (empty if absent).
func (f *File) Metadata() map[string]string {
	m := make(map[string]string, len(f.meta))
	for k, v := range f.meta {
		m[k] = v
	}
	return m
}

// Bytes returns the tensor's raw little-endian bytes. The slice aliases the read-only memory
// map: it is valid only until Close, and writing to it faults. Copy it to keep it longer.
func (f *File) Bytes(name string) ([]byte, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	_, b, err := f.tensorLocked(name)
	return b, err
}

// tensorLocked returns a tensor's info and bytes; the caller holds f.mu (the bytes alias the
// mapping, which Close unmaps).
func (f *File) tensorLocked(name string) (TensorInfo, []byte, error) {
	if f.closed {
		return TensorInfo{}, nil, fmt.Errorf("%s: file is closed", f.path)
	}
	t, ok := f.tensors[name]
	if !ok {
		return TensorInfo{}, nil, fmt.Errorf("%s: no tensor %q", f.path, name)
	}
	return t, f.data[t.Begin:t.End:t.End], nil
}

// Float32 returns a freshly allocated float32 copy of a F32, F16, BF16 or F64 tensor.
func (f *File) Float32(name string) ([]float32, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	t, raw, err := f.tensorLocked(name)
	if err != nil {
		return nil, err
	}
	out, err := DecodeFloat32(t.DType, raw)
	if err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %w", f.path, name, err)
	}
	return out, nil
}

// Close unmaps the file. Slices returned by Bytes must not be used afterwards.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	f.buf, f.data = nil, nil
	if f.release != nil {
		if err := f.release(); err != nil {
			return fmt.Errorf("%s: unmap: %w", f.path, err)
		}
	}
	return nil
}
