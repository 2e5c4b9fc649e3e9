package kernels

import "sync"

// reluChunk is the number of elements a goroutine takes at a time: large
// enough to amortize starting it, small enough to balance two cores.
const reluChunk = 1 << 16

// Relu writes out = x < 0 ? 0 : x (NaN and -0 pass unchanged, as in the
// stock Go backend's kernel) over workers goroutines. out and x may be the
// same slice.
func Relu(out, x []float32, workers int) {
	ops := currentRowOps()
	parallelChunks(len(out), workers, func(lo, hi int) { ops.relu(out[lo:hi], x[lo:hi]) })
}

// ReluGrad writes dx = ref > 0 ? dOut : 0, where ref is the activation's
// input or its output (both are > 0 at the same places).
func ReluGrad(dx, ref, dOut []float32, workers int) {
	ops := currentRowOps()
	parallelChunks(len(dx), workers, func(lo, hi int) { ops.reluGrad(dx[lo:hi], ref[lo:hi], dOut[lo:hi]) })
}

// parallelChunks runs body over [0, n) in chunks on up to workers goroutines.
func parallelChunks(n, workers int, body func(lo, hi int)) {
	chunks := (n + reluChunk - 1) / reluChunk
	workers = max(1, min(workers, chunks))
	if workers == 1 {
		body(0, n)
		return
	}
	per := (chunks + workers - 1) / workers * reluChunk
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := min(n, w*per), min(n, (w+1)*per)
		wg.Go(func() { body(lo, hi) })
	}
	wg.Wait()
}
