package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Float32ToBFloat16 converts f to bfloat16 bits with round-to-nearest-even, as torch's
// tensor.to(torch.bfloat16) does for every finite value and infinity. A NaN becomes a quiet NaN
// keeping its sign and the top payload bits (torch itself is inconsistent here: its vectorised
// path writes 0xFFFF and its scalar path 0x7FC0; callers should compare NaNs by NaN-ness).
func Float32ToBFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x0040
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// BFloat16ToFloat32 widens bfloat16 bits to float32 exactly.
func BFloat16ToFloat32(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

// Float32ToFloat16 converts f to IEEE 754 binary16 bits with round-to-nearest-even, producing
// subnormals, signed zeros and infinities on overflow exactly as IEEE (and torch/numpy) do. A
// NaN stays a NaN: the sign and the top 10 payload bits are kept and the quiet bit is set (the
// behaviour of x86 F16C, which torch uses).
func Float32ToFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	switch {
	case exp == 0xff:
		if mant != 0 {
			return sign | 0x7e00 | uint16(mant>>13)
		}
		return sign | 0x7c00
	case exp == 0 && mant == 0:
		return sign
	}
	// Unbiased exponent e; half normal range is e in [-14, 15].
	e := exp - 127
	if exp == 0 { // float32 subnormal: far below half's smallest subnormal (2^-24).
		return sign
	}
	m := mant | 0x800000 // 24-bit significand, value = m * 2^(e-23)
	if e > 15 {
		return sign | 0x7c00
	}
	var shift int32
	var hexp uint32
	if e >= -14 {
		// Normal half: keep 11 significant bits.
		shift = 13
		hexp = uint32(e + 15)
	} else {
		// Subnormal half: value = q * 2^-24, so q = m * 2^(e-23+24).
		shift = 13 + (-14 - e)
		if shift > 25 { // below half of the smallest subnormal: rounds to zero
			return sign
		}
		hexp = 0
	}
	q := m >> uint32(shift)
	rem := m & (1<<uint32(shift) - 1)
	half := uint32(1) << uint32(shift-1)
	if rem > half || (rem == half && q&1 == 1) {
		q++
	}
	if hexp == 0 {
		// q may have rounded up into the smallest normal (0x400): the encoding carries over naturally.
		return sign | uint16(q)
	}
	// q includes the implicit bit (0x400..0x800); carry into the exponent on overflow.
	v := hexp<<10 + (q - 0x400)
	if v >= 0x7c00 {
		return sign | 0x7c00
	}
	return sign | uint16(v)
}

// Float16ToFloat32 widens IEEE binary16 bits to float32 exactly (subnormals, infinities; a NaN
// keeps its sign and payload, shifted into the float32 mantissa, with the quiet bit set).
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch exp {
	case 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: normalise.
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
	case 0x1f:
		if mant != 0 {
			return math.Float32frombits(sign | 0x7fc00000 | mant<<13)
		}
		return math.Float32frombits(sign | 0x7f800000)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// DecodeFloat32 converts little-endian raw tensor bytes of dtype dt (F32, F16, BF16 or F64) to
// float32 (F64 is rounded to nearest). It returns an error for other dtypes or a length that is
// not a multiple of the element size.
func DecodeFloat32(dt DType, raw []byte) ([]float32, error) {
	sz := dt.Size()
	switch dt {
	case F32, F16, BF16, F64:
	default:
		return nil, fmt.Errorf("dtype %s cannot be converted to float32", dt)
	}
	if len(raw)%sz != 0 {
		return nil, fmt.Errorf("%d bytes is not a multiple of the %s element size %d", len(raw), dt, sz)
	}
	out := make([]float32, len(raw)/sz)
	switch dt {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case F16:
		for i := range out {
			out[i] = Float16ToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = BFloat16ToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		}
	}
	return out, nil
}
