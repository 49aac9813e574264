package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/growthtrain/growthtrain/model/safetensors"
)

// Dequantisation follows gguf-py's gguf/quants.py (and ggml's dequantize_row_*), operation for
// operation in float32, so results are bit-identical to gguf.quants.dequantize. Products that
// feed an addition are wrapped in float32(...) conversions: the Go spec lets the compiler fuse
// x*y+z into an FMA otherwise, which would change the rounding.

// dequantFunc converts whole blocks in src to dst (len(dst) = blocks * block size).
type dequantFunc func(dst []float32, src []byte)

var dequantizers = map[GGMLType]dequantFunc{
	TypeF32:  dequantF32,
	TypeF16:  dequantF16,
	TypeBF16: dequantBF16,
	TypeQ8_0: dequantQ8_0,
	TypeQ4_0: dequantQ4_0,
	TypeQ4_1: dequantQ4_1,
	TypeQ5_0: dequantQ5_0,
	TypeQ5_1: dequantQ5_1,
	TypeQ4_K: dequantQ4_K,
	TypeQ5_K: dequantQ5_K,
	TypeQ6_K: dequantQ6_K,
}

var f16Table = func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = safetensors.Float16ToFloat32(uint16(i))
	}
	return &t
}()

func half(b []byte) float32 { return f16Table[binary.LittleEndian.Uint16(b)] }

// Dequantize converts n elements of type t stored in src to float32, using all CPUs for large
// inputs. src must hold exactly the bytes of n elements (n a multiple of the block size).
func Dequantize(t GGMLType, src []byte, n int64) ([]float32, error) {
	fn := dequantizers[t]
	if fn == nil {
		return nil, fmt.Errorf("dequantisation of type %s is not supported", t)
	}
	bs, ts := int64(t.BlockSize()), int64(t.TypeSize())
	if n < 0 || n%bs != 0 {
		return nil, fmt.Errorf("%d elements is not a multiple of the %s block size %d", n, t, bs)
	}
	blocks := n / bs
	if int64(len(src)) != blocks*ts {
		return nil, fmt.Errorf("%d bytes for %d elements of %s, want %d", len(src), n, t, blocks*ts)
	}
	dst := make([]float32, n)
	workers := int64(runtime.GOMAXPROCS(0))
	if n < 1<<16 || workers < 2 {
		fn(dst, src)
		return dst, nil
	}
	per := (blocks + workers - 1) / workers
	var wg sync.WaitGroup
	for b0 := int64(0); b0 < blocks; b0 += per {
		b1 := min(b0+per, blocks)
		wg.Add(1)
		go func(b0, b1 int64) {
			defer wg.Done()
			fn(dst[b0*bs:b1*bs], src[b0*ts:b1*ts])
		}(b0, b1)
	}
	wg.Wait()
	return dst, nil
}

func dequantF32(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

func dequantF16(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = half(src[2*i:])
	}
}

func dequantBF16(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
	}
}

// Q8_0: f16 d, 32 x int8 q; x = q * d.
func dequantQ8_0(dst []float32, src []byte) {
	for len(dst) >= 32 {
		b := src[:34]
		d := half(b)
		q := b[2:34]
		o := dst[:32]
		for i := range o {
			o[i] = float32(int8(q[i])) * d
		}
		dst, src = dst[32:], src[34:]
	}
}

// Q4_0: f16 d, 16 bytes; element j is the low nibble of byte j, element 16+j the high nibble;
// x = (q - 8) * d.
func dequantQ4_0(dst []float32, src []byte) {
	for len(dst) >= 32 {
		b := src[:18]
		d := half(b)
		q := b[2:18]
		o := dst[:32]
		for j := 0; j < 16; j++ {
			o[j] = d * float32(int(q[j]&0xf)-8)
			o[j+16] = d * float32(int(q[j]>>4)-8)
		}
		dst, src = dst[32:], src[18:]
	}
}

// Q4_1: f16 d, f16 m, 16 bytes of nibbles; x = q*d + m.
func dequantQ4_1(dst []float32, src []byte) {
	for len(dst) >= 32 {
		b := src[:20]
		d, m := half(b), half(b[2:])
		q := b[4:20]
		o := dst[:32]
		for j := 0; j < 16; j++ {
			o[j] = float32(d*float32(q[j]&0xf)) + m
			o[j+16] = float32(d*float32(q[j]>>4)) + m
		}
		dst, src = dst[32:], src[20:]
	}
}

// Q5_0: f16 d, uint32 qh (bit i = high bit of element i), 16 bytes of nibbles; x = (q-16)*d.
func dequantQ5_0(dst []float32, src []byte) {
	for len(dst) >= 32 {
		b := src[:22]
		d := half(b)
		qh := binary.LittleEndian.Uint32(b[2:])
		q := b[6:22]
		o := dst[:32]
		for j := 0; j < 16; j++ {
			lo := int(q[j]&0xf) | int(qh>>j&1)<<4
			hi := int(q[j]>>4) | int(qh>>(j+16)&1)<<4
			o[j] = d * float32(lo-16)
			o[j+16] = d * float32(hi-16)
		}
		dst, src = dst[32:], src[22:]
	}
}

// Q5_1: f16 d, f16 m, uint32 qh, 16 bytes of nibbles; x = q*d + m.
func dequantQ5_1(dst []float32, src []byte) {
	for len(dst) >= 32 {
		b := src[:24]
		d, m := half(b), half(b[2:])
		qh := binary.LittleEndian.Uint32(b[4:])
		q := b[8:24]
		o := dst[:32]
		for j := 0; j < 16; j++ {
			lo := uint32(q[j]&0xf) | (qh>>j&1)<<4
			hi := uint32(q[j]>>4) | (qh>>(j+16)&1)<<4
			o[j] = float32(d*float32(lo)) + m
			o[j+16] = float32(d*float32(hi)) + m
		}
		dst, src = dst[32:], src[24:]
	}
}

// kScaleMin unpacks the 12-byte Q4_K/Q5_K field into 8 six-bit scales and mins: sub-blocks 0-3
// use the low 6 bits of bytes 0-3 (scales) and 4-7 (mins); sub-blocks 4-7 take their low 4 bits
// from bytes 8-11 (scale: low nibble, min: high nibble) and their top 2 bits from the top 2 bits
// of bytes 0-3 (scales) and 4-7 (mins).
func kScaleMin(s []byte) (sc, mn [8]uint8) {
	for j := 0; j < 4; j++ {
		sc[j] = s[j] & 0x3f
		mn[j] = s[j+4] & 0x3f
		sc[j+4] = s[j+8]&0x0f | (s[j]>>2)&0x30
		mn[j+4] = s[j+8]>>4 | (s[j+4]>>2)&0x30
	}
	return
}

// Q4_K: 256 elements = 8 sub-blocks of 32. f16 d, f16 dmin, 12 bytes scales/mins, 128 bytes of
// nibbles: 32-byte group g holds sub-block 2g in its low nibbles and 2g+1 in its high nibbles.
// x = (d*sc)*q - dmin*m.
func dequantQ4_K(dst []float32, src []byte) {
	for len(dst) >= qkK {
		b := src[:144]
		d, dmin := half(b), half(b[2:])
		sc, mn := kScaleMin(b[4:16])
		qs := b[16:144]
		o := dst[:qkK]
		for g := 0; g < 4; g++ {
			q := qs[32*g : 32*g+32]
			dl0, ml0 := d*float32(sc[2*g]), dmin*float32(mn[2*g])
			dl1, ml1 := d*float32(sc[2*g+1]), dmin*float32(mn[2*g+1])
			o0 := o[64*g : 64*g+32]
			o1 := o[64*g+32 : 64*g+64]
			for i := 0; i < 32; i++ {
				o0[i] = float32(dl0*float32(q[i]&0xf)) - ml0
				o1[i] = float32(dl1*float32(q[i]>>4)) - ml1
			}
		}
		dst, src = dst[qkK:], src[144:]
	}
}

// Q5_K: as Q4_K plus 32 bytes qh after the scales: bit j of qh[i] is the fifth bit of element i
// of sub-block j.
func dequantQ5_K(dst []float32, src []byte) {
	for len(dst) >= qkK {
		b := src[:176]
		d, dmin := half(b), half(b[2:])
		sc, mn := kScaleMin(b[4:16])
		qh := b[16:48]
		qs := b[48:176]
		o := dst[:qkK]
		for g := 0; g < 4; g++ {
			q := qs[32*g : 32*g+32]
			j0, j1 := 2*g, 2*g+1
			dl0, ml0 := d*float32(sc[j0]), dmin*float32(mn[j0])
			dl1, ml1 := d*float32(sc[j1]), dmin*float32(mn[j1])
			o0 := o[64*g : 64*g+32]
			o1 := o[64*g+32 : 64*g+64]
			for i := 0; i < 32; i++ {
				v0 := q[i]&0xf | (qh[i]>>j0&1)<<4
				v1 := q[i]>>4 | (qh[i]>>j1&1)<<4
				o0[i] = float32(dl0*float32(v0)) - ml0
				o1[i] = float32(dl1*float32(v1)) - ml1
			}
		}
		dst, src = dst[qkK:], src[176:]
	}
}

// Q6_K: 128 bytes ql, 64 bytes qh, 16 int8 scales, f16 d. Element e (h = e/128, k = e%128/64,
// s = e%128/32, t = e%64, u = e%32): low 4 bits = ql[64h+t] >> 4k, high 2 bits =
// qh[32h+u] >> 2s; q = that 6-bit value - 32; x = (d*scale[e/16]) * q.
func dequantQ6_K(dst []float32, src []byte) {
	for len(dst) >= qkK {
		b := src[:210]
		ql := b[:128]
		qh := b[128:192]
		scales := b[192:208]
		d := half(b[208:])
		o := dst[:qkK]
		var ds [16]float32
		for s := range ds {
			ds[s] = d * float32(int8(scales[s]))
		}
		for h := 0; h < 2; h++ {
			l := ql[64*h : 64*h+64]
			hb := qh[32*h : 32*h+32]
			oh := o[128*h : 128*h+128]
			dh := ds[8*h : 8*h+8]
			for u := 0; u < 32; u++ {
				q0 := int(l[u]&0xf|(hb[u]&3)<<4) - 32
				q1 := int(l[u+32]&0xf|(hb[u]>>2&3)<<4) - 32
				q2 := int(l[u]>>4|(hb[u]>>4&3)<<4) - 32
				q3 := int(l[u+32]>>4|(hb[u]>>6&3)<<4) - 32
				oh[u] = dh[u/16] * float32(q0)
				oh[u+32] = dh[2+u/16] * float32(q1)
				oh[u+64] = dh[4+u/16] * float32(q2)
				oh[u+96] = dh[6+u/16] * float32(q3)
			}
		}
		dst, src = dst[qkK:], src[210:]
	}
}
