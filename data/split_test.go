package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func makeDocs(prefix string, n int) []Document {
	docs := make([]Document, n)
	for i := range docs {
		docs[i] = Document{Name: fmt.Sprintf("%s%04d.txt", prefix, i), Text: fmt.Sprint("text ", i)}
	}
	return docs
}

func valSet(val []Document) map[string]bool {
	m := map[string]bool{}
	for _, d := range val {
		m[d.Name] = true
	}
	return m
}

func TestSplitPartitionAndFractions(t *testing.T) {
	docs := makeDocs("doc", 2000)
	tests := []struct {
		frac   float64
		lo, hi int // accepted range of len(val)
	}{
		{0, 0, 0},
		{0.01, 8, 40},
		{0.1, 150, 250},
		{0.5, 900, 1100},
		{0.9, 1700, 1900},
		{math.Nextafter(1, 0), 1999, 1999}, // every hash is below it; one goes back to train
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.frac), func(t *testing.T) {
			train, val, err := Split(docs, tc.frac, 42)
			if err != nil {
				t.Fatal(err)
			}
			if len(val) < tc.lo || len(val) > tc.hi {
				t.Errorf("len(val) = %d, want in [%d, %d]", len(val), tc.lo, tc.hi)
			}
			// Partition, each side in input order.
			in := valSet(val)
			var wantTrain, wantVal []Document
			for _, d := range docs {
				if in[d.Name] {
					wantVal = append(wantVal, d)
				} else {
					wantTrain = append(wantTrain, d)
				}
			}
			if !slices.Equal(train, wantTrain) || !slices.Equal(val, wantVal) {
				t.Error("train/val are not an order-preserving partition of docs")
			}
		})
	}
}

func TestSplitDeterministic(t *testing.T) {
	docs := makeDocs("doc", 300)
	tr1, va1, _ := Split(docs, 0.2, 7)
	tr2, va2, _ := Split(slices.Clone(docs), 0.2, 7)
	if !slices.Equal(tr1, tr2) || !slices.Equal(va1, va2) {
		t.Fatal("same inputs gave different splits")
	}
	// Input order does not change membership.
	shuffled := slices.Clone(docs)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	_, va3, _ := Split(shuffled, 0.2, 7)
	if a, b := valSet(va1), valSet(va3); len(a) != len(b) || !mapsSubset(a, b) {
		t.Error("membership depends on input order")
	}
	// Another seed gives another split.
	_, va4, _ := Split(docs, 0.2, 8)
	if a, b := valSet(va1), valSet(va4); len(a) == len(b) && mapsSubset(a, b) {
		t.Error("seed does not change the split")
	}
}

func mapsSubset(a, b map[string]bool) bool {
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func TestSplitStableUnderAddition(t *testing.T) {
	old := makeDocs("old", 500)
	_, val, err := Split(old, 0.1, 3)
	if err != nil {
		t.Fatal(err)
	}
	before := valSet(val)
	grown := append(slices.Clone(old), makeDocs("new", 300)...)
	rand.New(rand.NewPCG(5, 6)).Shuffle(len(grown), func(i, j int) { grown[i], grown[j] = grown[j], grown[i] })
	_, val2, err := Split(grown, 0.1, 3)
	if err != nil {
		t.Fatal(err)
	}
	after := valSet(val2)
	for _, d := range old {
		if before[d.Name] != after[d.Name] {
			t.Errorf("%s moved (val before %v, after %v)", d.Name, before[d.Name], after[d.Name])
		}
	}
}

func TestSplitSmallCorpora(t *testing.T) {
	tests := []struct {
		name               string
		n                  int
		frac               float64
		wantTrain, wantVal int // -1: not checked
	}{
		{"empty", 0, 0.1, 0, 0},
		{"one doc, zero fraction", 1, 0, 1, 0},
		{"two docs tiny fraction", 2, 1e-9, 1, 1},
		{"two docs huge fraction", 2, 0.999999, 1, 1},
		{"three docs tiny fraction", 3, 1e-9, 2, 1},
		{"three docs huge fraction", 3, 0.999999, 1, 2},
		{"two docs zero fraction", 2, 0, 2, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			train, val, err := Split(makeDocs("s", tc.n), tc.frac, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(train) != tc.wantTrain || len(val) != tc.wantVal {
				t.Errorf("got %d train, %d val; want %d, %d", len(train), len(val), tc.wantTrain, tc.wantVal)
			}
		})
	}
}

func TestSplitErrors(t *testing.T) {
	for _, frac := range []float64{-0.1, 1, 1.5, math.NaN(), math.Inf(1), math.Inf(-1)} {
		_, _, err := Split(makeDocs("e", 3), frac, 0)
		if err == nil || !strings.Contains(err.Error(), "outside [0, 1)") {
			t.Errorf("fraction %v: err = %v", frac, err)
		}
	}
}
