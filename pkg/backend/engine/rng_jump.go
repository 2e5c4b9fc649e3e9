package engine

import (
	"math/bits"
	"math/rand/v2"
	"sync"
)

// The stock generator's stream, drawn on every core.
//
// math/rand/v2's PCG is a 128-bit linear congruential generator, state' =
// state * mul + inc (mod 2^128), with an output function of each new state.
// k steps are one affine map, state * A + C, whose A and C follow by
// squaring in log2(k) steps, so a worker can start at any word of the stream
// (pcgJump) and the draws split across cores give the same bytes as one
// sequential pass, in a fraction of its time: a MobileNetV2 DoReFa step
// draws one tensor per quantized layer, 16% of the step on one core.

// pcgMul and pcgInc are math/rand/v2's PCG multiplier and increment, as
// (high, low) words.
const (
	pcgMulHi, pcgMulLo = 2549297995355413924, 4865540595714422341
	pcgIncHi, pcgIncLo = 6364136223846793005, 1442695040888963407
)

// u128 is a 128-bit number mod 2^128.
type u128 struct{ hi, lo uint64 }

func (a u128) mul(b u128) u128 {
	hi, lo := bits.Mul64(a.lo, b.lo)
	return u128{hi + a.hi*b.lo + a.lo*b.hi, lo}
}

func (a u128) add(b u128) u128 {
	lo, c := bits.Add64(a.lo, b.lo, 0)
	return u128{a.hi + b.hi + c, lo}
}

// pcgJump returns the state of a PCG whose state is (hi, lo), as
// rand.NewPCG(hi, lo) sets it, after k steps.
func pcgJump(hi, lo uint64, k uint64) (uint64, uint64) {
	// f(x) = a x + c; f composed with itself is a^2 x + (a c + c).
	a, c := u128{pcgMulHi, pcgMulLo}, u128{pcgIncHi, pcgIncLo}
	accA, accC := u128{0, 1}, u128{0, 0}
	for ; k > 0; k >>= 1 {
		if k&1 == 1 {
			accA, accC = accA.mul(a), accC.mul(a).add(c)
		}
		a, c = a.mul(a), c.mul(a).add(c)
	}
	s := u128{hi, lo}.mul(accA).add(accC)
	return s.hi, s.lo
}

// wordsFor is how many words a draw of n bytes takes (a last partial word
// is drawn whole).
func wordsFor(n int) uint64 { return uint64((n + 7) / 8) }

// minParallelRandomBytes is the least output worth splitting across cores
// (below it, starting goroutines costs more than the draws).
const minParallelRandomBytes = 1 << 16

// fillRandomBytesParallel writes what fillRandomBytes(bytes,
// rand.NewPCG(hi, lo)) writes, the words split across up to workers cores,
// and returns the generator's state after it, as that call leaves it.
func fillRandomBytesParallel(bytes []byte, hi, lo uint64, workers int) (uint64, uint64) {
	words := len(bytes) / 8
	draws := wordsFor(len(bytes))
	if workers <= 1 || len(bytes) < minParallelRandomBytes {
		fillRandomBytes(bytes, rand.NewPCG(hi, lo))
		return pcgJump(hi, lo, draws)
	}
	per := (words + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		first, end := min(words, w*per), min(words, (w+1)*per)*8
		if w == workers-1 {
			end = len(bytes) // the last worker draws the partial word too
		}
		if first*8 >= end {
			continue
		}
		wg.Go(func() {
			h, l := pcgJump(hi, lo, uint64(first))
			fillRandomBytes(bytes[first*8:end], rand.NewPCG(h, l))
		})
	}
	wg.Wait()
	return pcgJump(hi, lo, draws)
}
