package data

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// Encoder turns text into token ids, or says why it cannot (*tokenizer.Tokenizer's TryEncode
// fails when a Split regex of the tokenizer runs out of time on the text). Tokenize calls it from
// several goroutines at once, so implementations must be safe for concurrent use.
type Encoder interface {
	TryEncode(string) ([]int64, error)
}

// Tokenize encodes each document with enc and concatenates the results, with the separator
// token sep (typically EOS) between consecutive documents (not before the first or after the
// last): doc0 sep doc1 sep ... docN. Documents are encoded in parallel by workers goroutines
// (workers <= 0 means GOMAXPROCS); the result does not depend on workers.
//
// It fails, naming the document, when enc fails on it or returns an id outside the stream's
// int32 elements, and on a separator outside [0, MaxInt32].
func Tokenize(docs []Document, enc Encoder, sep int64, workers int) ([]int32, error) {
	return tokenize(docs, enc, sep, workers)
}

func tokenize(docs []Document, enc Encoder, sep int64, workers int) ([]int32, error) {
	if sep < 0 || sep > math.MaxInt32 {
		return nil, fmt.Errorf("data: separator token %d outside [0, %d]", sep, math.MaxInt32)
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, len(docs)))
	parts := make([][]int32, len(docs))
	errs := make([]error, len(docs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(docs) {
					return
				}
				parts[i], errs[i] = encodeDoc(docs[i], enc)
			}
		})
	}
	wg.Wait()
	total := max(0, len(docs)-1)
	for i, p := range parts {
		if errs[i] != nil {
			return nil, errs[i] // the first failing document in order, whatever the workers
		}
		total += len(p)
	}
	out := make([]int32, 0, total)
	for i, p := range parts {
		if i > 0 {
			out = append(out, int32(sep))
		}
		out = append(out, p...)
	}
	return out, nil
}

func encodeDoc(d Document, enc Encoder) ([]int32, error) {
	ids, err := enc.TryEncode(d.Text)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", d.Name, err)
	}
	out := make([]int32, len(ids))
	for j, id := range ids {
		if id < 0 || id > math.MaxInt32 {
			return nil, fmt.Errorf("data: %s: token id %d at position %d outside [0, %d]", d.Name, id, j, math.MaxInt32)
		}
		out[j] = int32(id)
	}
	return out, nil
}
