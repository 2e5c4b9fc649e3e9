package engine

import (
	"math/bits"

	"github.com/mlsysrep/mlsysrep/pkg/backend/kernels"
)

// pcgSource draws the uint32 values RNGBitGenerator would store for a
// state (hi, lo), as the float32 values a fused program reads them as
// (float32(v), what ConvertDType gives): element 2j is the low half of the
// stream's word j and element 2j+1 its high half (the stock op stores each
// word's bytes low first). It is a kernels.Source: a program draws its
// random bits tile by tile (see fuseRandomBits), the same values in the same
// places as from the stored tensor.
type pcgSource struct {
	hi0, lo0 uint64 // the state the draw starts from
	next     int    // the element the stream is at (an even one), or -1: not placed
	hi, lo   uint64 // the generator's state there (before drawing word next/2)
}

// newPCGSource returns a source of the values RNGBitGenerator draws from
// state words (hi, lo).
func newPCGSource(hi, lo uint64) *pcgSource { return &pcgSource{hi0: hi, lo0: lo, next: -1} }

// pcgStep advances a PCG state one step and returns the word it draws:
// math/rand/v2's PCG.Uint64 (a 128-bit LCG with the DXSM output function),
// written out so that the loop keeps the state in registers.
func pcgStep(hi, lo uint64) (nhi, nlo, word uint64) {
	h, l := bits.Mul64(lo, pcgMulLo)
	h += hi*pcgMulLo + lo*pcgMulHi
	l, c := bits.Add64(l, pcgIncLo, 0)
	h, _ = bits.Add64(h, pcgIncHi, c)
	const cheapMul = 0xda942042e4dd58b5
	x := h
	x ^= x >> 32
	x *= cheapMul
	x ^= x >> 48
	x *= l | 1
	return h, l, x
}

// Fill implements kernels.Source.
func (s *pcgSource) Fill(dst []float32, at int) {
	if len(dst) == 0 {
		return
	}
	if at != s.next {
		s.hi, s.lo = pcgJump(s.hi0, s.lo0, uint64(at/2))
	}
	hi, lo := s.hi, s.lo
	i := 0
	if at&1 == 1 { // the high half of the word element at-1 began
		var w uint64
		hi, lo, w = pcgStep(hi, lo)
		dst[0] = float32(uint32(w >> 32))
		i = 1
	}
	for ; i+2 <= len(dst); i += 2 {
		var w uint64
		hi, lo, w = pcgStep(hi, lo)
		dst[i], dst[i+1] = float32(uint32(w)), float32(uint32(w>>32))
	}
	s.hi, s.lo, s.next = hi, lo, at+len(dst)
	if i < len(dst) { // a last low half: the next fill starts at its high half
		_, _, w := pcgStep(hi, lo)
		dst[i] = float32(uint32(w))
		s.next = -1 // placed again from its word (rare: only a range's odd end)
	}
}

var _ kernels.Source = (*pcgSource)(nil)
