package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// bnReference is batch norm training and its gradient in float64.
func bnReference(rows, c int, eps float64, x, scale, offset, dy []float32) (out, mean, variance, dx, dScale, dOffset []float64) {
	mean, variance = make([]float64, c), make([]float64, c)
	dScale, dOffset = make([]float64, c), make([]float64, c)
	out, dx = make([]float64, rows*c), make([]float64, rows*c)
	for r := range rows {
		for k := range c {
			mean[k] += float64(x[r*c+k]) / float64(rows)
		}
	}
	for r := range rows {
		for k := range c {
			d := float64(x[r*c+k]) - mean[k]
			variance[k] += d * d / float64(rows)
		}
	}
	for r := range rows {
		for k := range c {
			xhat := (float64(x[r*c+k]) - mean[k]) / math.Sqrt(variance[k]+eps)
			out[r*c+k] = xhat*float64(scale[k]) + float64(offset[k])
			dOffset[k] += float64(dy[r*c+k])
			dScale[k] += float64(dy[r*c+k]) * xhat
		}
	}
	for r := range rows {
		for k := range c {
			rstd := 1 / math.Sqrt(variance[k]+eps)
			xhat := (float64(x[r*c+k]) - mean[k]) * rstd
			dx[r*c+k] = (float64(dy[r*c+k]) - dOffset[k]/float64(rows) - xhat*dScale[k]/float64(rows)) * float64(scale[k]) * rstd
		}
	}
	return
}

func maxRelErr(got []float32, want []float64) float64 {
	var diff, scale float64
	for i := range want {
		diff = math.Max(diff, math.Abs(float64(got[i])-want[i]))
		scale = math.Max(scale, math.Abs(want[i]))
	}
	return diff / math.Max(scale, 1e-30)
}

func randomSlice(rng *rand.Rand, n int, mean, std float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(mean + std*rng.NormFloat64())
	}
	return s
}

// TestBatchNorm checks training batch norm and its gradient against float64
// on every path, and that all paths give the same bits.
func TestBatchNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ rows, c, workers int }{
		{1, 1, 1}, {7, 3, 2}, {64, 16, 2}, {200, 17, 3}, {1000, 64, 2}, {4096, 130, 2}, {32 * 32 * 8, 32, 2},
	} {
		bn := BatchNorm{Rows: tc.rows, C: tc.c, Epsilon: 1e-5}
		x := randomSlice(rng, tc.rows*tc.c, 3, 2) // a mean far from 0 tests the centred variance
		scale, offset := randomSlice(rng, tc.c, 1, 0.5), randomSlice(rng, tc.c, 0, 1)
		dy := randomSlice(rng, tc.rows*tc.c, 0.1, 1)
		out, mean, variance, dx, dScale, dOffset := bnReference(tc.rows, tc.c, 1e-5, x, scale, offset, dy)
		var first [][]float32
		for _, path := range Paths() {
			if err := SetPath(path); err != nil {
				t.Fatal(err)
			}
			got := [][]float32{make([]float32, len(x)), make([]float32, tc.c), make([]float32, tc.c),
				make([]float32, len(x)), make([]float32, tc.c), make([]float32, tc.c)}
			bn.Train(got[0], got[1], got[2], x, scale, offset, tc.workers)
			bn.Grad(got[3], got[4], got[5], x, scale, got[1], got[2], dy, tc.workers)
			for i, want := range [][]float64{out, mean, variance, dx, dScale, dOffset} {
				tol := 1e-5
				if tc.rows == 1 && (i == 3 || i == 4) {
					tol = 1 // one row: dx and dScale are rounding noise around 0
				}
				if e := maxRelErr(got[i], want); e > tol {
					t.Errorf("%s rows=%d c=%d: output %d relative error %.3g", path, tc.rows, tc.c, i, e)
				}
			}
			if first == nil {
				first = got
				continue
			}
			for i := range got {
				for j := range got[i] {
					if math.Float32bits(got[i][j]) != math.Float32bits(first[i][j]) {
						t.Fatalf("%s rows=%d c=%d: output %d[%d] = %v, path %s gave %v", path, tc.rows, tc.c, i, j,
							got[i][j], Paths()[0], first[i][j])
					}
				}
			}
		}
	}
	if err := SetPath("auto"); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkBatchNorm(b *testing.B) {
	// ResNet-18's first stage at full width, batch 32.
	bn := BatchNorm{Rows: 32 * 32 * 32, C: 64, Epsilon: 1e-5}
	rng := rand.New(rand.NewPCG(1, 2))
	x, dy := randomSlice(rng, bn.Rows*bn.C, 0, 1), randomSlice(rng, bn.Rows*bn.C, 0, 1)
	scale, offset := randomSlice(rng, bn.C, 1, 0.1), randomSlice(rng, bn.C, 0, 0.1)
	out, dx := make([]float32, len(x)), make([]float32, len(x))
	mean, variance, ds, do := make([]float32, bn.C), make([]float32, bn.C), make([]float32, bn.C), make([]float32, bn.C)
	b.Run("train", func(b *testing.B) {
		for b.Loop() {
			bn.Train(out, mean, variance, x, scale, offset, 2)
		}
		b.ReportMetric(float64(4*len(x)*4*b.N)/b.Elapsed().Seconds()/1e9, "GB/s") // 3 reads of x, 1 write
	})
	b.Run("grad", func(b *testing.B) {
		for b.Loop() {
			bn.Grad(dx, ds, do, x, scale, mean, variance, dy, 2)
		}
		b.ReportMetric(float64(4*len(x)*5*b.N)/b.Elapsed().Seconds()/1e9, "GB/s") // x, dy twice each, 1 write
	})
}
