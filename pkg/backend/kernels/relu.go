package kernels

// reluChunk is the number of elements a goroutine takes at a time: large
// enough to amortize starting it, small enough to balance two cores.
const reluChunk = 1 << 16

// Relu writes out = x < 0 ? 0 : x (NaN and -0 pass unchanged, as in the
// stock Go backend's kernel) over workers goroutines. out and x may be the
// same slice.
func Relu(out, x []float32, workers int) {
	ops := currentRowOps()
	splitUnits(len(out), reluChunk, workers, func(_, lo, hi int) { ops.relu(out[lo:hi], x[lo:hi]) })
}

// ReluGrad writes dx = ref > 0 ? dOut : 0, where ref is the activation's
// input or its output (both are > 0 at the same places).
func ReluGrad(dx, ref, dOut []float32, workers int) {
	ops := currentRowOps()
	splitUnits(len(dx), reluChunk, workers, func(_, lo, hi int) { ops.reluGrad(dx[lo:hi], ref[lo:hi], dOut[lo:hi]) })
}
