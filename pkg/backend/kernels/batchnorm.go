package kernels

import (
	"fmt"
	"math"
)

// BatchNorm is batch normalization over a channels-last tensor seen as Rows
// rows of C channels (an NHWC tensor has Rows = N*H*W): statistics are taken
// per channel over all rows, the variance is the biased one (divided by
// Rows), as in XLA's BatchNormTraining / BatchNormGrad and engine v1.
type BatchNorm struct {
	Rows, C int
	Epsilon float32
}

// Validate reports why the batch norm cannot be computed, or nil.
func (bn BatchNorm) Validate() error {
	if bn.Rows < 1 || bn.C < 1 {
		return fmt.Errorf("kernels: BatchNorm with %d rows of %d channels", bn.Rows, bn.C)
	}
	return nil
}

// statsChunk is how many rows a worker sums in float32 before adding the
// partial sums into float64 totals: short float32 runs keep the sums as
// accurate as a float64 loop at float32 speed.
const statsChunk = 64

// Train normalizes x with its own batch statistics:
// out = (x - mean) * (scale / sqrt(variance + epsilon)) + offset, and returns
// mean and variance (C each, written into the given slices).
func (bn BatchNorm) Train(out, mean, variance, x, scale, offset []float32, workers int) {
	bn.check(len(out), len(x))
	bn.Stats(mean, variance, x, workers)
	a := make([]float32, bn.C)
	bn.Factor(a, scale, variance)
	bn.Normalize(out, x, mean[:bn.C], a, offset, workers)
}

// Factor writes Train's per-channel factor a = scale / sqrt(variance +
// epsilon) (the square root taken in float64), which Normalize multiplies
// by: Stats, Factor and Normalize are Train in three steps, to the bit.
func (bn BatchNorm) Factor(a, scale, variance []float32) {
	for c := range bn.C {
		a[c] = scale[c] * float32(1/math.Sqrt(float64(variance[c]+bn.Epsilon)))
	}
}

// Stats writes the batch mean and biased variance of x in one pass over
// it: per channel, the sums of d = x - k and d*d, where the shift k is the
// mean of the first statsChunk rows, accumulated in float32 runs of
// statsChunk rows added into float64 totals; the variance is
// sum(d*d)/n - (sum(d)/n)^2 (at least 0). With k near the mean the
// subtraction cancels little: its relative error stays below about
// (1 + (mean - k)^2 / variance) times the float32 runs' rounding, 1e-5 of
// the variance in the worst case tested (the first 64 rows 300 standard
// deviations off). Workers split the rows at run boundaries, so the float32
// runs are the same for any worker count; only the float64 totals are
// added in another grouping, which changes the float32 results in
// practice never (the tests compare 1, 2 and 3 workers bit for bit).
func (bn BatchNorm) Stats(mean, variance, x []float32, workers int) {
	bn.check(bn.Rows*bn.C, len(x))
	if len(mean) < bn.C || len(variance) < bn.C {
		panic(fmt.Sprintf("kernels: BatchNorm statistics of %d channels given slices of %d and %d", bn.C, len(mean), len(variance)))
	}
	ops := currentRowOps()
	head := min(statsChunk, bn.Rows)
	k64 := make([]float64, bn.C)
	for r := range head {
		for c, v := range x[r*bn.C : (r+1)*bn.C] {
			k64[c] += float64(v)
		}
	}
	k := make([]float32, bn.C)
	for c := range k {
		k[c] = float32(k64[c] / float64(head))
	}
	sums := bn.reduce(workers, 2, func(_ int, acc []float32, lo, hi int) {
		ops.shiftRows(acc[:bn.C], acc[bn.C:], x[lo*bn.C:], k, hi-lo, bn.C)
	})
	inv := 1 / float64(bn.Rows)
	for c := range bn.C {
		d := sums[0][c] * inv
		mean[c] = float32(float64(k[c]) + d)
		variance[c] = float32(max(0, sums[1][c]*inv-d*d))
	}
}

// Grad is the gradient of Train given the output gradient dy, with
// xhat = (x - mean) / sqrt(variance + epsilon):
//
//	dOffset = sum(dy), dScale = sum(dy * xhat),
//	dx = (dy - dOffset/Rows - xhat * dScale/Rows) * scale / sqrt(variance + epsilon).
func (bn BatchNorm) Grad(dx, dScale, dOffset, x, scale, mean, variance, dy []float32, workers int) {
	bn.check(len(dy), len(x))
	bn.grad(dx, dScale, dOffset, x, scale, mean, variance, func(_, lo, hi int) []float32 { return dy[lo*bn.C : hi*bn.C] }, workers)
}

// GradFilling is Grad where dy is never stored: a filler computes it chunk
// by chunk, each time the kernel needs a chunk. Each worker gets a filler
// from newFill; fill(dst, lo, hi) writes elements lo to hi of dy into dst
// (hi - lo elements: at most statsChunk rows, in a buffer of the worker's
// that stays in L1/L2). The kernel calls it twice per chunk, for the sums
// and for dx: a fused program computing dy that way (ProgramRunner) reads
// its own inputs twice instead of writing dy whole and reading it back,
// and x is still in cache from the fill when the sums or dx read it. The
// filler must give the same values each time (a program does); the sums
// then add the same values in the same order as Grad's: the same bits.
func (bn BatchNorm) GradFilling(dx, dScale, dOffset, x, scale, mean, variance []float32, newFill func() func(dst []float32, lo, hi int), workers int) {
	workers = max(1, workers)
	fillers := make([]func(dst []float32, lo, hi int), workers)
	chunks := make([][]float32, workers)
	bn.grad(dx, dScale, dOffset, x, scale, mean, variance, func(w, lo, hi int) []float32 {
		if fillers[w] == nil {
			fillers[w] = newFill()
			chunks[w] = make([]float32, statsChunk*bn.C)
		}
		dst := chunks[w][:(hi-lo)*bn.C]
		fillers[w](dst, lo*bn.C, hi*bn.C)
		return dst
	}, workers)
}

// grad is Grad with dy's rows lo to hi (at most statsChunk of them) given
// by worker w's call of dy.
func (bn BatchNorm) grad(dx, dScale, dOffset, x, scale, mean, variance []float32, dy func(w, lo, hi int) []float32, workers int) {
	bn.check(len(dx), len(x))
	ops := currentRowOps()
	sums := bn.reduce(workers, 2, func(w int, acc []float32, lo, hi int) {
		ops.gradSumRows(acc[:bn.C], acc[bn.C:], dy(w, lo, hi), x[lo*bn.C:], mean, hi-lo, bn.C)
	})
	inv := 1 / float64(bn.Rows)
	a := make([]float32, bn.C)
	b := make([]float32, bn.C)
	m := make([]float32, bn.C)
	for c := range bn.C {
		rstd := 1 / math.Sqrt(float64(variance[c]+bn.Epsilon))
		dOffset[c] = float32(sums[0][c])
		dScale[c] = float32(sums[1][c] * rstd)
		a[c] = float32(float64(scale[c]) * rstd)
		b[c] = float32(rstd * float64(dScale[c]) * inv)
		m[c] = float32(float64(dOffset[c]) * inv)
	}
	splitUnits(bn.Rows, statsChunk, workers, func(w, lo, hi int) {
		for r := lo; r < hi; r += statsChunk {
			at, n := r*bn.C, min(statsChunk, hi-r)
			ops.gradRows(dx[at:], dy(w, r, r+n), x[at:], mean[:bn.C], m, b, a, n, bn.C)
		}
	})
}

func (bn BatchNorm) check(n, nx int) {
	if err := bn.Validate(); err != nil {
		panic(err)
	}
	if n < bn.Rows*bn.C || nx < bn.Rows*bn.C {
		panic(fmt.Sprintf("kernels: BatchNorm of %d rows x %d channels given slices of %d and %d", bn.Rows, bn.C, n, nx))
	}
}

// reduce runs sum over row ranges on up to workers goroutines, each into
// nAcc float32 accumulators of C channels (one slice, accumulator i at
// [i*C, (i+1)*C)) that are flushed every statsChunk rows into float64
// totals; it returns the totals. Ranges are whole statsChunks, so the float32
// partial sums cover the same rows whatever the number of workers.
func (bn BatchNorm) reduce(workers int, nAcc int, sum func(w int, acc []float32, lo, hi int)) [][]float64 {
	totals := make([][]float64, workers*nAcc)
	splitUnits(bn.Rows, statsChunk, workers, func(w, lo, hi int) {
		t := make([]float64, nAcc*bn.C)
		acc := make([]float32, nAcc*bn.C)
		for r := lo; r < hi; r += statsChunk {
			clear(acc)
			sum(w, acc, r, min(hi, r+statsChunk))
			for i, v := range acc {
				t[i] += float64(v)
			}
		}
		totals[w] = t
	})
	out := make([][]float64, nAcc)
	for i := range out {
		out[i] = make([]float64, bn.C)
		for _, t := range totals {
			if t == nil {
				continue // a worker the rows did not need
			}
			for c := range bn.C {
				out[i][c] += t[i*bn.C+c]
			}
		}
	}
	return out
}

// SequentialStats writes the batch mean and biased variance of x as engine
// v1 computes them, bit for bit: per channel, the rows summed one after the
// other in float32 starting from row 0 (GoMLX's Go backend's ReduceSum over
// leading axes), times float32(1/Rows); then the same for the squares of
// x - mean. Less accurate than Train's statistics, but a training run with
// them follows engine v1 exactly. Workers split the channels, never a
// channel's rows, so the order of additions is v1's for any worker count.
func (bn BatchNorm) SequentialStats(mean, variance, x []float32, workers int) {
	bn.check(bn.Rows*bn.C, len(x))
	if len(mean) < bn.C || len(variance) < bn.C {
		panic(fmt.Sprintf("kernels: BatchNorm statistics of %d channels given slices of %d and %d", bn.C, len(mean), len(variance)))
	}
	ops := currentRowOps()
	inv := float32(1 / float64(bn.Rows))
	// Workers take runs of 8-channel blocks (a path's row ops walk a run
	// 16 channels at a time where they can): 72 channels split 40 and 32
	// where blocks of 16 split 48 and 24 and kept one core waiting.
	const block = 8
	blocks := (bn.C + block - 1) / block
	splitUnits(blocks, 1, workers, func(_, lo, hi int) {
		c0, c1 := lo*block, min(bn.C, hi*block)
		if c0 >= c1 {
			return
		}
		m, v := mean[c0:c1], variance[c0:c1]
		copy(m, x[c0:c1])
		for r := 1; r < bn.Rows; r += statsChunk {
			ops.sumRows(m, x[r*bn.C+c0:], min(statsChunk, bn.Rows-r), bn.C)
		}
		for c := range m {
			m[c] *= inv
		}
		// The squares are never -0, so summing them from +0 equals v1's
		// sum that starts from the first row's squares.
		clear(v)
		for r := 0; r < bn.Rows; r += statsChunk {
			ops.sqDiffRows(v, x[r*bn.C+c0:], m, min(statsChunk, bn.Rows-r), bn.C)
		}
		for c := range v {
			v[c] *= inv
		}
	})
}

// Normalize writes out = (x - mean) * a + offset, each operation rounded to
// float32 in that order (engine v1's normalized output, given its
// a = scale / sqrt(variance + epsilon) per channel).
func (bn BatchNorm) Normalize(out, x, mean, a, offset []float32, workers int) {
	bn.check(len(out), len(x))
	ops := currentRowOps()
	splitUnits(bn.Rows, statsChunk, workers, func(_, lo, hi int) {
		for r := lo; r < hi; r += statsChunk {
			at := r * bn.C
			ops.affineRows(out[at:], x[at:], mean[:bn.C], a, offset, min(statsChunk, hi-r), bn.C)
		}
	})
}
