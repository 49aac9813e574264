package data

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
)

// splitDomain separates the split hash from any other use of sha256 over document names.
const splitDomain = "growthtrain/data.Split v1\x00"

// splitKey is the keyed hash of a document name that decides its set: the first 8 bytes
// (big-endian) of sha256(splitDomain ‖ seed as 8 little-endian bytes ‖ name).
func splitKey(name string, seed uint64) uint64 {
	h := sha256.New()
	h.Write([]byte(splitDomain))
	var s [8]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	h.Write(s[:])
	h.Write([]byte(name))
	return binary.BigEndian.Uint64(h.Sum(nil))
}

// Split divides docs into training and validation sets. A document goes to validation when
// the keyed hash of its name (sha256 over a domain tag, seed and name), read as a number
// u in [0,1), is below valFraction; so each document's set depends only on its own name, the
// seed and the fraction, and adding or removing documents never moves other documents between
// the sets. About valFraction of the documents land in val; both outputs keep the input order.
//
// When valFraction > 0 and len(docs) >= 2, each set gets at least one document: if the rule
// leaves val empty, the document with the smallest u moves to val; if it leaves train empty,
// the one with the largest u moves to train. (Only this fix-up, which matters for tiny corpora,
// can depend on the other documents.) valFraction == 0 puts everything in train.
//
// It returns an error when valFraction is outside [0, 1) or NaN.
func Split(docs []Document, valFraction float64, seed uint64) (train, val []Document, err error) {
	if math.IsNaN(valFraction) || valFraction < 0 || valFraction >= 1 {
		return nil, nil, fmt.Errorf("data: Split: validation fraction %v outside [0, 1)", valFraction)
	}
	inVal := make([]bool, len(docs))
	keys := make([]uint64, len(docs))
	nVal := 0
	for i, d := range docs {
		keys[i] = splitKey(d.Name, seed)
		u := float64(keys[i]>>11) / (1 << 53) // exactly representable, in [0,1)
		if u < valFraction {
			inVal[i] = true
			nVal++
		}
	}
	if valFraction > 0 && len(docs) >= 2 {
		switch nVal {
		case 0:
			inVal[argBest(keys, func(a, b uint64) bool { return a < b })] = true
		case len(docs):
			inVal[argBest(keys, func(a, b uint64) bool { return a > b })] = false
		}
	}
	for i, d := range docs {
		if inVal[i] {
			val = append(val, d)
		} else {
			train = append(train, d)
		}
	}
	return train, val, nil
}

// argBest returns the index of the key that is better than all others (first one on ties).
func argBest(keys []uint64, better func(a, b uint64) bool) int {
	best := 0
	for i, k := range keys {
		if better(k, keys[best]) {
			best = i
		}
	}
	return best
}
