package safetensors

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"path/filepath"
	"sort"
	"strings"

	"github.com/growthtrain/growthtrain/internal/fsutil"
)

// Tensor is one tensor to write: Data holds the raw little-endian element bytes.
type Tensor struct {
	Name  string
	DType DType
	Shape []int64
	Data  []byte
}

type headerEntry struct {
	DType       DType    `json:"dtype"`
	Shape       []int64  `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// checkTensors validates names, dtypes, shapes and data lengths and returns the tensors sorted
// by name.
func checkTensors(path string, tensors []Tensor) ([]Tensor, error) {
	sorted := append([]Tensor(nil), tensors...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for i, t := range sorted {
		if t.Name == "" || t.Name == "__metadata__" {
			return nil, fmt.Errorf("%s: invalid tensor name %q", path, t.Name)
		}
		if i > 0 && sorted[i-1].Name == t.Name {
			return nil, fmt.Errorf("%s: duplicate tensor name %q", path, t.Name)
		}
		if t.DType.Size() == 0 {
			return nil, fmt.Errorf("%s: tensor %q: unknown dtype %q", path, t.Name, t.DType)
		}
		numel := uint64(1)
		for _, d := range t.Shape {
			if d < 0 {
				return nil, fmt.Errorf("%s: tensor %q: negative dimension in shape %v", path, t.Name, t.Shape)
			}
			hi, lo := bits.Mul64(numel, uint64(d))
			if hi != 0 || lo > math.MaxInt64/8 {
				return nil, fmt.Errorf("%s: tensor %q: shape %v has too many elements", path, t.Name, t.Shape)
			}
			numel = lo
		}
		if want := numel * uint64(t.DType.Size()); uint64(len(t.Data)) != want {
			return nil, fmt.Errorf("%s: tensor %q: %d data bytes but shape %v of %s needs %d",
				path, t.Name, len(t.Data), t.Shape, t.DType, want)
		}
	}
	return sorted, nil
}

// encodeHeader returns the padded JSON header for tensors laid out back to back in order.
func encodeHeader(sorted []Tensor, metadata map[string]string) ([]byte, error) {
	// Build the object by hand so that __metadata__ comes first and tensors follow in data order.
	var b strings.Builder
	b.WriteByte('{')
	first := true
	if len(metadata) > 0 {
		m, err := json.Marshal(metadata) // map keys are sorted by encoding/json
		if err != nil {
			return nil, err
		}
		b.WriteString(`"__metadata__":`)
		b.Write(m)
		first = false
	}
	var off int64
	for _, t := range sorted {
		if !first {
			b.WriteByte(',')
		}
		first = false
		name, err := json.Marshal(t.Name)
		if err != nil {
			return nil, err
		}
		shape := t.Shape
		if shape == nil {
			shape = []int64{}
		}
		e, err := json.Marshal(headerEntry{DType: t.DType, Shape: shape, DataOffsets: [2]int64{off, off + int64(len(t.Data))}})
		if err != nil {
			return nil, err
		}
		b.Write(name)
		b.WriteByte(':')
		b.Write(e)
		off += int64(len(t.Data))
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	return []byte(b.String()), nil
}

// Write writes tensors (sorted by name, data back to back in that order) and metadata to path.
// The header is padded with spaces to a multiple of 8 bytes so the data is 8-byte aligned. The
// file is written atomically: to a temporary file in the same directory, fsynced, renamed over
// path, and the directory fsynced, so a crash leaves either the old file or the new one.
func Write(path string, tensors []Tensor, metadata map[string]string) error {
	sorted, err := checkTensors(path, tensors)
	if err != nil {
		return err
	}
	header, err := encodeHeader(sorted, metadata)
	if err != nil {
		return fmt.Errorf("%s: encode header: %w", path, err)
	}
	return fsutil.WriteAtomic(path, func(w *bufio.Writer) error {
		var n [8]byte
		for i := range n {
			n[i] = byte(uint64(len(header)) >> (8 * i))
		}
		w.Write(n[:])
		w.Write(header)
		for _, t := range sorted {
			if _, err := w.Write(t.Data); err != nil {
				return err
			}
		}
		return nil
	})
}

// IndexName is the Hugging Face index file name for sharded checkpoints.
const IndexName = "model.safetensors.index.json"

// ShardName returns Hugging Face's shard file name, e.g. model-00001-of-00002.safetensors (i is
// 1-based).
func ShardName(i, n int) string {
	return fmt.Sprintf("model-%05d-of-%05d.safetensors", i, n)
}

// WriteSharded writes tensors into dir as shards of at most maxShardBytes of tensor data each
// (a larger tensor gets a shard of its own), named like Hugging Face's
// model-00001-of-0000N.safetensors, plus model.safetensors.index.json. Tensors are assigned in
// name order. Each shard carries the metadata {"format": "pt"} that transformers expects; the
// index records {"total_size": bytes} and the weight_map. Every file is written atomically and
// the index last, but the set as a whole is not: a crash midway can leave new shards beside an
// old index, so write a fresh directory when that matters. An index is written even for a
// single shard.
func WriteSharded(dir string, tensors []Tensor, maxShardBytes int64) error {
	idxPath := filepath.Join(dir, IndexName)
	sorted, err := checkTensors(idxPath, tensors)
	if err != nil {
		return err
	}
	if maxShardBytes <= 0 {
		return fmt.Errorf("%s: maxShardBytes must be positive, got %d", idxPath, maxShardBytes)
	}
	var shards [][]Tensor
	var cur []Tensor
	var curBytes, total int64
	for _, t := range sorted {
		sz := int64(len(t.Data))
		if len(cur) > 0 && curBytes+sz > maxShardBytes {
			shards = append(shards, cur)
			cur, curBytes = nil, 0
		}
		cur = append(cur, t)
		curBytes += sz
		total += sz
	}
	if len(cur) > 0 || len(shards) == 0 {
		shards = append(shards, cur)
	}
	weightMap := map[string]string{}
	for i, sh := range shards {
		name := ShardName(i+1, len(shards))
		if err := Write(filepath.Join(dir, name), sh, map[string]string{"format": "pt"}); err != nil {
			return err
		}
		for _, t := range sh {
			weightMap[t.Name] = name
		}
	}
	idx := struct {
		Metadata  map[string]any    `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}{map[string]any{"total_size": total}, weightMap}
	data, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", idxPath, err)
	}
	data = append(data, '\n')
	return fsutil.WriteAtomic(idxPath, func(w *bufio.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
