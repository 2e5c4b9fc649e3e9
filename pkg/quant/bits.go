package quant

import (
	"fmt"

	"github.com/gomlx/gomlx/support/exceptions"
)

// FullPrecision is the bit width that means "no quantization".
const FullPrecision = 32

// bitsRange is the set of bit widths a quantizer accepts: lo..hi, and 32.
type bitsRange struct{ lo, hi int }

var (
	unitBits     = bitsRange{1, 8}  // QuantizeUnit, DoReFa weights and activations, PACT, unsigned LSQ
	gradientBits = bitsRange{1, 16} // DoReFaGradient
	signedBits   = bitsRange{2, 8}  // signed LSQ: Qp = 2^(k-1)-1 must be >= 1
)

func (r bitsRange) valid(bits int) bool {
	return bits == FullPrecision || (bits >= r.lo && bits <= r.hi)
}

func (r bitsRange) String() string { return fmt.Sprintf("%d..%d or %d", r.lo, r.hi, FullPrecision) }

// check returns an error naming the quantizer when bits is out of range.
func (r bitsRange) check(name string, bits int) error {
	if !r.valid(bits) {
		return fmt.Errorf("quant.%s: bits must be %s, got %d", name, r, bits)
	}
	return nil
}

// mustCheck is check for graph functions: it panics, GoMLX style.
func (r bitsRange) mustCheck(name string, bits int) {
	if err := r.check(name, bits); err != nil {
		exceptions.Panicf("%v", err)
	}
}

// levels is 2^k - 1, the number of steps of a k-bit unsigned grid.
func levels(bits int) float64 { return float64(int64(1)<<bits - 1) }
