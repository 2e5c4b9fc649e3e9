//go:build goexperiment.simd && amd64

package kernels

import (
	"runtime"
	"simd/archsimd"
	"sync"
	"testing"
)

// fmaPeakIters runs n iterations of 16 independent AVX-512 FMA chains, enough
// to cover the FMA latency on both FMA pipes of current cores, and returns a
// value that depends on all of them so none is optimised away.
//
// a.MulAdd(x, y) computes a*x+y into a's own register: VFMADD213PS
// overwrites its first operand, so chaining through it needs no register
// copies, unlike the convolution's x.MulAdd(w, acc).
func fmaPeakIters(n int) float32 {
	x := archsimd.BroadcastFloat32x16(0.999999)
	y := archsimd.BroadcastFloat32x16(1e-7)
	var a [16]archsimd.Float32x16
	for i := range a {
		a[i] = archsimd.BroadcastFloat32x16(float32(i)) // distinct, or CSE merges the chains
	}
	a0, a1, a2, a3, a4, a5, a6, a7 := a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]
	a8, a9, a10, a11, a12, a13, a14, a15 := a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15]
	for range n {
		a0 = a0.MulAdd(x, y)
		a1 = a1.MulAdd(x, y)
		a2 = a2.MulAdd(x, y)
		a3 = a3.MulAdd(x, y)
		a4 = a4.MulAdd(x, y)
		a5 = a5.MulAdd(x, y)
		a6 = a6.MulAdd(x, y)
		a7 = a7.MulAdd(x, y)
		a8 = a8.MulAdd(x, y)
		a9 = a9.MulAdd(x, y)
		a10 = a10.MulAdd(x, y)
		a11 = a11.MulAdd(x, y)
		a12 = a12.MulAdd(x, y)
		a13 = a13.MulAdd(x, y)
		a14 = a14.MulAdd(x, y)
		a15 = a15.MulAdd(x, y)
	}
	s := a0.Add(a1).Add(a2).Add(a3).Add(a4).Add(a5).Add(a6).Add(a7)
	s = s.Add(a8).Add(a9).Add(a10).Add(a11).Add(a12).Add(a13).Add(a14).Add(a15)
	var o [16]float32
	s.StoreArray(&o)
	return o[0]
}

// fmaPeakIters8 is fmaPeakIters with 8-lane (AVX2) vectors and 12 chains:
// AVX2 has 16 vector registers, and x and y take two of them.
func fmaPeakIters8(n int) float32 {
	x := archsimd.BroadcastFloat32x8(0.999999)
	y := archsimd.BroadcastFloat32x8(1e-7)
	var a [12]archsimd.Float32x8
	for i := range a {
		a[i] = archsimd.BroadcastFloat32x8(float32(i))
	}
	a0, a1, a2, a3, a4, a5, a6, a7 := a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]
	a8, a9, a10, a11 := a[8], a[9], a[10], a[11]
	for range n {
		a0 = a0.MulAdd(x, y)
		a1 = a1.MulAdd(x, y)
		a2 = a2.MulAdd(x, y)
		a3 = a3.MulAdd(x, y)
		a4 = a4.MulAdd(x, y)
		a5 = a5.MulAdd(x, y)
		a6 = a6.MulAdd(x, y)
		a7 = a7.MulAdd(x, y)
		a8 = a8.MulAdd(x, y)
		a9 = a9.MulAdd(x, y)
		a10 = a10.MulAdd(x, y)
		a11 = a11.MulAdd(x, y)
	}
	s := a0.Add(a1).Add(a2).Add(a3).Add(a4).Add(a5).Add(a6).Add(a7)
	s = s.Add(a8).Add(a9).Add(a10).Add(a11)
	var o [8]float32
	s.StoreArray(&o)
	return o[0]
}

var fmaSink float32

// BenchmarkFMAPeak measures the machine's fp32 FMA peak with the widest
// vectors the CPU has: 16 independent AVX-512 FMA chains (sub-benchmark
// "avx512"), or on a CPU without AVX-512, 12 AVX2 chains ("avx2"), on each of
// GOMAXPROCS goroutines. It reports the total GFLOP/s (2 flops per lane per
// FMA) and the same per goroutine; the convolution benchmarks are judged as a
// percentage of it.
func BenchmarkFMAPeak(b *testing.B) {
	switch {
	case archsimd.X86.AVX512():
		b.Run("avx512", func(b *testing.B) { fmaPeak(b, 16*16, fmaPeakIters) })
	case archsimd.X86.AVX2() && archsimd.X86.FMA():
		b.Run("avx2", func(b *testing.B) { fmaPeak(b, 12*8, fmaPeakIters8) })
	default:
		b.Skip("the CPU lacks AVX2 with FMA")
	}
}

// fmaPeak runs iters on every goroutine; lanes is the FMA lanes per iteration.
func fmaPeak(b *testing.B, lanes int, iters func(int) float32) {
	procs := runtime.GOMAXPROCS(0)
	const n = 1 << 20
	var mu sync.Mutex
	for b.Loop() {
		var wg sync.WaitGroup
		for range procs {
			wg.Go(func() {
				v := iters(n)
				mu.Lock()
				fmaSink += v
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	flops := float64(b.N) * float64(procs) * n * float64(lanes) * 2
	gflops := flops / b.Elapsed().Seconds() / 1e9
	b.ReportMetric(gflops, "GFLOP/s")
	b.ReportMetric(gflops/float64(procs), "GFLOP/s/core")
}
