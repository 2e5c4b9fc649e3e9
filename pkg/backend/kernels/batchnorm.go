package kernels

import (
	"fmt"
	"math"
	"sync"
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
	ops := currentRowOps()
	sums := bn.reduce(workers, func(acc []float32, lo, hi int, _ []float32) {
		for r := lo; r < hi; r++ {
			ops.add(acc, x[r*bn.C:(r+1)*bn.C])
		}
	}, 1)
	inv := 1 / float64(bn.Rows)
	for c := range bn.C {
		mean[c] = float32(sums[0][c] * inv)
	}
	sq := bn.reduce(workers, func(acc []float32, lo, hi int, _ []float32) {
		for r := lo; r < hi; r++ {
			ops.addSqDiff(acc, x[r*bn.C:(r+1)*bn.C], mean)
		}
	}, 1)
	a := make([]float32, bn.C)
	for c := range bn.C {
		variance[c] = float32(sq[0][c] * inv)
		a[c] = scale[c] * float32(1/math.Sqrt(float64(variance[c]+bn.Epsilon)))
	}
	bn.parallelRows(workers, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			ops.affine(out[r*bn.C:(r+1)*bn.C], x[r*bn.C:(r+1)*bn.C], mean, a, offset)
		}
	})
}

// Grad is the gradient of Train given the output gradient dy, with
// xhat = (x - mean) / sqrt(variance + epsilon):
//
//	dOffset = sum(dy), dScale = sum(dy * xhat),
//	dx = (dy - dOffset/Rows - xhat * dScale/Rows) * scale / sqrt(variance + epsilon).
func (bn BatchNorm) Grad(dx, dScale, dOffset, x, scale, mean, variance, dy []float32, workers int) {
	bn.check(len(dx), len(x))
	bn.check(len(dy), len(x))
	ops := currentRowOps()
	sums := bn.reduce(workers, func(acc []float32, lo, hi int, acc2 []float32) {
		for r := lo; r < hi; r++ {
			d := dy[r*bn.C : (r+1)*bn.C]
			ops.add(acc, d)
			ops.addMulDiff(acc2, d, x[r*bn.C:(r+1)*bn.C], mean)
		}
	}, 2)
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
	bn.parallelRows(workers, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			ops.gradRow(dx[r*bn.C:(r+1)*bn.C], dy[r*bn.C:(r+1)*bn.C], x[r*bn.C:(r+1)*bn.C], mean, m, b, a)
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

// reduce runs sum over row ranges on workers goroutines, each into nAcc
// float32 accumulators of C channels that are flushed every statsChunk rows
// into float64 totals; it returns the totals.
func (bn BatchNorm) reduce(workers int, sum func(acc []float32, lo, hi int, acc2 []float32), nAcc int) [][]float64 {
	workers = max(1, min(workers, (bn.Rows+statsChunk-1)/statsChunk))
	totals := make([][][]float64, workers)
	var wg sync.WaitGroup
	per := bn.rowsPerWorker(workers)
	for w := range workers {
		lo, hi := min(bn.Rows, w*per), min(bn.Rows, (w+1)*per)
		t := make([][]float64, nAcc)
		for i := range t {
			t[i] = make([]float64, bn.C)
		}
		totals[w] = t
		wg.Go(func() {
			acc := make([]float32, nAcc*bn.C)
			for r := lo; r < hi; r += statsChunk {
				clear(acc)
				var acc2 []float32
				if nAcc > 1 {
					acc2 = acc[bn.C:]
				}
				sum(acc[:bn.C], r, min(hi, r+statsChunk), acc2)
				for i := range nAcc {
					for c, v := range acc[i*bn.C : (i+1)*bn.C] {
						t[i][c] += float64(v)
					}
				}
			}
		})
	}
	wg.Wait()
	for w := 1; w < workers; w++ {
		for i := range nAcc {
			for c := range bn.C {
				totals[0][i][c] += totals[w][i][c]
			}
		}
	}
	return totals[0]
}

// parallelRows splits the rows over workers goroutines.
func (bn BatchNorm) parallelRows(workers int, body func(lo, hi int)) {
	workers = max(1, min(workers, (bn.Rows+statsChunk-1)/statsChunk))
	per := bn.rowsPerWorker(workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := min(bn.Rows, w*per), min(bn.Rows, (w+1)*per)
		wg.Go(func() { body(lo, hi) })
	}
	wg.Wait()
}

// rowsPerWorker is a multiple of statsChunk, so that the float32 partial
// sums cover the same rows whatever the number of workers.
func (bn BatchNorm) rowsPerWorker(workers int) int {
	chunks := (bn.Rows + statsChunk - 1) / statsChunk
	return (chunks + workers - 1) / workers * statsChunk
}
