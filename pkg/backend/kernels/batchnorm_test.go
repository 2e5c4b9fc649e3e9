package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
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
		{1, 1, 1}, {7, 3, 2}, {64, 16, 2}, {200, 17, 3}, {1000, 64, 2}, {4096, 130, 2}, {32 * 32 * 8, 32, 2}, {300, 27, 2}, {1000, 24, 3},
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

// TestStatsFarFromZero checks the one-pass statistics where a naive
// sum(x^2)/n - mean^2 loses every digit (mean 1000, standard deviation 1,
// a shifted first row, and a case whose first 64 rows, which set the shift,
// sit 300 standard deviations off), and that neither the kernel path nor
// the worker count changes a bit.
func TestStatsFarFromZero(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		rows, c   int
		headShift float32 // added to the first 64 rows: the shift k is then far from the mean
		tol       float64 // of the variance
	}{{5000, 19, 0, 1e-5}, {64, 33, 0, 1e-5}, {65, 8, 0, 1e-5}, {3, 16, 0, 1e-5}, {20000, 16, 300, 3e-5}} {
		bn := BatchNorm{Rows: tc.rows, C: tc.c, Epsilon: 1e-5}
		x := randomSlice(rng, tc.rows*tc.c, 1000, 1)
		for c := range tc.c {
			x[c] += 5 // the first row is not typical
		}
		for i := range min(64, tc.rows) * tc.c {
			x[i] += tc.headShift
		}
		_, wantMean, wantVar, _, _, _ := bnReference(tc.rows, tc.c, 1e-5, x, make([]float32, tc.c), make([]float32, tc.c), make([]float32, len(x)))
		var first []float32
		for _, run := range pathsAndWorkers() {
			if err := SetPath(run.path); err != nil {
				t.Fatal(err)
			}
			workers := run.workers
			mean, variance := make([]float32, tc.c), make([]float32, tc.c)
			bn.Stats(mean, variance, x, workers)
			if e := maxRelErr(mean, wantMean); e > 1e-6 {
				t.Errorf("rows=%d c=%d: mean relative error %.3g", tc.rows, tc.c, e)
			}
			if e := maxRelErr(variance, wantVar); e > tc.tol {
				t.Errorf("rows=%d c=%d: variance relative error %.3g", tc.rows, tc.c, e)
			}
			got := append(mean, variance...)
			if first == nil {
				first = got
			} else if !slices.Equal(got, first) {
				t.Errorf("rows=%d c=%d: path %s with %d workers changes the statistics", tc.rows, tc.c, run.path, workers)
			}
		}
	}
	if err := SetPath("auto"); err != nil {
		t.Fatal(err)
	}
}

// pathsAndWorkers are every kernel path with 1, 2 and 3 workers.
func pathsAndWorkers() []struct {
	path    string
	workers int
} {
	var out []struct {
		path    string
		workers int
	}
	for _, p := range Paths() {
		for _, w := range []int{1, 2, 3} {
			out = append(out, struct {
				path    string
				workers int
			}{p, w})
		}
	}
	return out
}

// TestSequentialStats checks SequentialStats and Normalize against scalar
// loops in engine v1's order (per channel, rows added one after the other in
// float32, then times float32(1/rows)), bit for bit, on every path and for
// channel counts that split into blocks of 16, 8 and single channels.
func TestSequentialStats(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct{ rows, c, workers int }{
		{1, 1, 2}, {5, 8, 2}, {130, 16, 2}, {130, 16, 1}, {77, 17, 2}, {200, 24, 3}, {65, 40, 2}, {70, 72, 1}, {300, 130, 2},
	} {
		bn := BatchNorm{Rows: tc.rows, C: tc.c, Epsilon: 1e-5}
		x := randomSlice(rng, tc.rows*tc.c, 3, 2)
		a, offset := randomSlice(rng, tc.c, 1, 0.5), randomSlice(rng, tc.c, 0, 1)
		inv := float32(1 / float64(tc.rows))
		wantMean, wantVar := make([]float32, tc.c), make([]float32, tc.c)
		wantOut := make([]float32, len(x))
		for c := range tc.c {
			sum := x[c]
			for r := 1; r < tc.rows; r++ {
				sum += x[r*tc.c+c]
			}
			wantMean[c] = sum * inv
			var sq float32
			for r := range tc.rows {
				d := x[r*tc.c+c] - wantMean[c]
				sq += float32(d * d)
			}
			wantVar[c] = sq * inv
			for r := range tc.rows {
				wantOut[r*tc.c+c] = float32((x[r*tc.c+c]-wantMean[c])*a[c]) + offset[c]
			}
		}
		for _, path := range Paths() {
			if err := SetPath(path); err != nil {
				t.Fatal(err)
			}
			mean, variance, out := make([]float32, tc.c), make([]float32, tc.c), make([]float32, len(x))
			bn.SequentialStats(mean, variance, x, tc.workers)
			bn.Normalize(out, x, mean, a, offset, tc.workers)
			for name, pair := range map[string][2][]float32{"mean": {mean, wantMean}, "variance": {variance, wantVar}, "out": {out, wantOut}} {
				for i := range pair[1] {
					if math.Float32bits(pair[0][i]) != math.Float32bits(pair[1][i]) {
						t.Fatalf("%s rows=%d c=%d workers=%d: %s[%d] = %v, want %v", path, tc.rows, tc.c, tc.workers, name, i, pair[0][i], pair[1][i])
					}
				}
			}
		}
	}
	if err := SetPath("auto"); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkBatchNorm times the kernels on ResNet-18's first stage at full
// width, batch 32 (64 channels), at width 1/4, batch 128 (16 channels),
// and on MobileNetV2 width 0.5, batch 96's largest (72 channels).
func BenchmarkBatchNorm(b *testing.B) {
	for _, shape := range []struct{ rows, c int }{{32 * 32 * 32, 64}, {128 * 32 * 32, 16}, {96 * 32 * 32, 72}, {16 * 32 * 32, 72}, {1024, 72}} {
		bn := BatchNorm{Rows: shape.rows, C: shape.c, Epsilon: 1e-5}
		rng := rand.New(rand.NewPCG(1, 2))
		x, dy := randomSlice(rng, bn.Rows*bn.C, 0, 1), randomSlice(rng, bn.Rows*bn.C, 0, 1)
		scale, offset := randomSlice(rng, bn.C, 1, 0.1), randomSlice(rng, bn.C, 0, 0.1)
		out, dx := make([]float32, len(x)), make([]float32, len(x))
		mean, variance, ds, do := make([]float32, bn.C), make([]float32, bn.C), make([]float32, bn.C), make([]float32, bn.C)
		gbs := func(b *testing.B, passes int) {
			b.ReportMetric(float64(4*len(x)*passes*b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		}
		name := fmt.Sprintf("rows=%d/c=%d/", bn.Rows, bn.C)
		b.Run(name+"train", func(b *testing.B) {
			for b.Loop() {
				bn.Train(out, mean, variance, x, scale, offset, 2)
			}
			gbs(b, 4) // 3 reads of x, 1 write
		})
		b.Run(name+"sequential", func(b *testing.B) {
			for b.Loop() {
				bn.SequentialStats(mean, variance, x, 2)
				bn.Normalize(out, x, mean, scale, offset, 2)
			}
			gbs(b, 4)
		})
		b.Run(name+"grad", func(b *testing.B) {
			for b.Loop() {
				bn.Grad(dx, ds, do, x, scale, mean, variance, dy, 2)
			}
			gbs(b, 5) // x, dy twice each, 1 write
		})
	}
}
