package data

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
)

// Sampler draws training batches of random windows from a token stream. Each window holds
// seqLen+1 consecutive tokens, so a model's inputs (window[:seqLen]) and next-token targets
// (window[1:]) come from one window. Window starts are uniform over every offset in
// [0, len(tokens)-seqLen-1], drawn from a math/rand/v2 PCG generator seeded by seed.
//
// The draw uses only PCG.Uint64 and a fixed bounded-integer method (Lemire's multiply with
// rejection), so the sequence of windows is a pure function of the stream, seqLen, batch, seed
// and the number of batches drawn. State and Restore carry that position across a restart.
//
// A Sampler is not safe for concurrent use.
type Sampler struct {
	tokens      []int32
	seqLen      int
	batch       int
	pcg         *rand.PCG
	step        int64
	fingerprint [8]byte
}

// pcgStream is the second PCG seed word, fixed so that only seed selects the sequence.
const pcgStream = 0x9e3779b97f4a7c15

// NewSampler returns a sampler over tokens (which it keeps and does not modify; the caller must
// not modify it either) drawing batch windows of seqLen+1 tokens per Next call. It returns an
// error when seqLen or batch is not positive or the stream is shorter than seqLen+1 tokens.
func NewSampler(tokens []int32, seqLen, batch int, seed uint64) (*Sampler, error) {
	if seqLen < 1 {
		return nil, fmt.Errorf("data: NewSampler: sequence length %d, want >= 1", seqLen)
	}
	if batch < 1 {
		return nil, fmt.Errorf("data: NewSampler: batch size %d, want >= 1", batch)
	}
	if len(tokens) < seqLen+1 {
		return nil, fmt.Errorf("data: NewSampler: token stream has %d tokens, need at least seqLen+1 = %d", len(tokens), seqLen+1)
	}
	return &Sampler{
		tokens:      tokens,
		seqLen:      seqLen,
		batch:       batch,
		pcg:         rand.NewPCG(seed, pcgStream),
		fingerprint: streamFingerprint(tokens),
	}, nil
}

// streamFingerprint is the first 8 bytes of the sha256 of the stream as little-endian int32s.
func streamFingerprint(tokens []int32) [8]byte {
	h := sha256.New()
	buf := make([]byte, 0, 64<<10)
	for _, t := range tokens {
		buf = binary.LittleEndian.AppendUint32(buf, uint32(t))
		if len(buf) == cap(buf) {
			h.Write(buf)
			buf = buf[:0]
		}
	}
	h.Write(buf)
	var fp [8]byte
	copy(fp[:], h.Sum(nil))
	return fp
}

// uint64n returns a uniform value in [0, n) for n > 0 (Lemire's method with rejection).
func (s *Sampler) uint64n(n uint64) uint64 {
	hi, lo := bits.Mul64(s.pcg.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(s.pcg.Uint64(), n)
		}
	}
	return hi
}

// Next draws the next batch: batch windows of seqLen+1 tokens each, copied out of the stream
// (the caller may modify them), and advances Step by one.
func (s *Sampler) Next() [][]int64 {
	w := s.seqLen + 1
	n := uint64(len(s.tokens) - s.seqLen) // number of valid window starts
	flat := make([]int64, s.batch*w)
	out := make([][]int64, s.batch)
	for b := range out {
		off := int(s.uint64n(n))
		row := flat[b*w : (b+1)*w : (b+1)*w]
		for i, t := range s.tokens[off : off+w] {
			row[i] = int64(t)
		}
		out[b] = row
	}
	s.step++
	return out
}

// Step returns the number of batches drawn so far (including those before a Restore).
func (s *Sampler) Step() int64 { return s.step }

// Sampler state format (integers little-endian):
//
//	magic "GTSAMPLR" | version uint32 (1) | seqLen uint64 | batch uint64 | stream length uint64 |
//	stream fingerprint [8] | step int64 | PCG state length uint32 | PCG state (PCG.MarshalBinary)
const (
	samplerMagic   = "GTSAMPLR"
	samplerVersion = 1
)

// State returns the sampler's position (PCG state and step) together with its configuration
// (seqLen, batch, stream length and a fingerprint of the stream). Restore on a sampler over the
// same stream with the same seqLen and batch then continues with the very same windows.
func (s *Sampler) State() ([]byte, error) {
	pcg, err := s.pcg.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("data: Sampler.State: %w", err)
	}
	b := []byte(samplerMagic)
	b = binary.LittleEndian.AppendUint32(b, samplerVersion)
	b = binary.LittleEndian.AppendUint64(b, uint64(s.seqLen))
	b = binary.LittleEndian.AppendUint64(b, uint64(s.batch))
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s.tokens)))
	b = append(b, s.fingerprint[:]...)
	b = binary.LittleEndian.AppendUint64(b, uint64(s.step))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(pcg)))
	return append(b, pcg...), nil
}

// Restore sets the sampler to a position saved by State. It returns an error, leaving the
// sampler unchanged, when the state is malformed or was saved by a sampler with a different
// seqLen, batch size or token stream. The seed given to NewSampler does not matter: the saved
// generator state replaces it.
func (s *Sampler) Restore(state []byte) error {
	const fixed = 8 + 4 + 8 + 8 + 8 + 8 + 8 + 4
	if len(state) < fixed {
		return fmt.Errorf("data: Sampler.Restore: state is %d bytes, shorter than its %d-byte header", len(state), fixed)
	}
	if string(state[:8]) != samplerMagic {
		return errors.New("data: Sampler.Restore: not a sampler state (bad magic)")
	}
	le := binary.LittleEndian
	if v := le.Uint32(state[8:]); v != samplerVersion {
		return fmt.Errorf("data: Sampler.Restore: unsupported state version %d", v)
	}
	seqLen, batch, length := le.Uint64(state[12:]), le.Uint64(state[20:]), le.Uint64(state[28:])
	if seqLen != uint64(s.seqLen) || batch != uint64(s.batch) {
		return fmt.Errorf("data: Sampler.Restore: state is for seqLen %d, batch %d; sampler has seqLen %d, batch %d", seqLen, batch, s.seqLen, s.batch)
	}
	if length != uint64(len(s.tokens)) || [8]byte(state[36:44]) != s.fingerprint {
		return fmt.Errorf("data: Sampler.Restore: state is for a different token stream (%d tokens; sampler has %d)", length, len(s.tokens))
	}
	step := int64(le.Uint64(state[44:]))
	if step < 0 {
		return fmt.Errorf("data: Sampler.Restore: negative step %d", step)
	}
	n := le.Uint32(state[52:])
	if uint64(len(state)-fixed) != uint64(n) {
		return fmt.Errorf("data: Sampler.Restore: generator state length %d, but %d bytes follow", n, len(state)-fixed)
	}
	pcg := new(rand.PCG)
	if err := pcg.UnmarshalBinary(state[fixed:]); err != nil {
		return fmt.Errorf("data: Sampler.Restore: generator state: %w", err)
	}
	s.pcg, s.step = pcg, step
	return nil
}
