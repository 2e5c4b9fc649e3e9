package kernels

// convertChunk is the number of elements a goroutine takes at a time.
const convertChunk = 1 << 16

// Uint32ToFloat32 writes out[i] = float32(in[i]) (rounded to nearest, ties
// to even: how the Go backend's ConvertDType rounds) over workers
// goroutines. It is how random bits become floats in DoReFa's gradient
// noise.
func Uint32ToFloat32(out []float32, in []uint32, workers int) {
	in = in[:len(out)]
	splitUnits(len(out), convertChunk, workers, func(_, lo, hi int) {
		for i, v := range in[lo:hi] {
			out[lo+i] = float32(v)
		}
	})
}
