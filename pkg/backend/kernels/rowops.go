package kernels

// rowOps are the vector operations of the batch-norm and ReLU kernels, over
// one row of C channels; per-channel operands are slices of C.
type rowOps struct {
	add        func(acc, x []float32)                   // acc += x
	addSqDiff  func(acc, x, mean []float32)             // acc += (x - mean)^2
	addMulDiff func(acc, d, x, mean []float32)          // acc += d * (x - mean)
	affine     func(out, x, mean, a, offset []float32)  // out = (x - mean)*a + offset
	gradRow    func(dx, dy, x, mean, m, b, a []float32) // dx = (dy - m - (x - mean)*b) * a
	relu       func(out, x []float32)                   // out = x < 0 ? 0 : x
	reluGrad   func(dx, ref, dOut []float32)            // dx = ref > 0 ? dOut : 0
	mulAdd     func(acc, a, b []float32)                // acc += a * b
	tapSum     func(out []float32, xs, ws [][]float32)  // out = sum over t of xs[t] * ws[t], in t order
}

// currentRowOps is the implementation of the kernel path in use.
func currentRowOps() *rowOps {
	if ops := simdRowOps(Path()); ops != nil {
		return ops
	}
	return &genericRowOps
}

// genericRowOps are plain Go loops. Each product is converted to float32
// before it is added, so that no compiler may fuse it into an FMA: every path
// rounds the same way.
var genericRowOps = rowOps{
	add: func(acc, x []float32) {
		x = x[:len(acc)]
		for c := range acc {
			acc[c] += x[c]
		}
	},
	addSqDiff: func(acc, x, mean []float32) {
		x, mean = x[:len(acc)], mean[:len(acc)]
		for c := range acc {
			d := x[c] - mean[c]
			acc[c] += float32(d * d)
		}
	},
	addMulDiff: func(acc, d, x, mean []float32) {
		d, x, mean = d[:len(acc)], x[:len(acc)], mean[:len(acc)]
		for c := range acc {
			acc[c] += float32(d[c] * (x[c] - mean[c]))
		}
	},
	affine: func(out, x, mean, a, offset []float32) {
		x, mean, a, offset = x[:len(out)], mean[:len(out)], a[:len(out)], offset[:len(out)]
		for c := range out {
			out[c] = float32((x[c]-mean[c])*a[c]) + offset[c]
		}
	},
	gradRow: func(dx, dy, x, mean, m, b, a []float32) {
		dy, x, mean, m, b, a = dy[:len(dx)], x[:len(dx)], mean[:len(dx)], m[:len(dx)], b[:len(dx)], a[:len(dx)]
		for c := range dx {
			dx[c] = float32((dy[c]-m[c])-float32((x[c]-mean[c])*b[c])) * a[c]
		}
	},
	relu: func(out, x []float32) {
		x = x[:len(out)]
		for i, v := range x {
			if v < 0 {
				out[i] = 0
			} else {
				out[i] = v
			}
		}
	},
	reluGrad: func(dx, ref, dOut []float32) {
		ref, dOut = ref[:len(dx)], dOut[:len(dx)]
		for i, r := range ref {
			if r > 0 {
				dx[i] = dOut[i]
			} else {
				dx[i] = 0
			}
		}
	},
	mulAdd: func(acc, a, b []float32) {
		a, b = a[:len(acc)], b[:len(acc)]
		for c := range acc {
			acc[c] += float32(a[c] * b[c])
		}
	},
	tapSum: func(out []float32, xs, ws [][]float32) { tapSumFrom(0, out, xs, ws) },
}

// tapSumFrom is the generic tapSum over the channels from c0 on (all of
// them, or the tail a SIMD loop leaves).
func tapSumFrom(c0 int, out []float32, xs, ws [][]float32) {
	for c := c0; c < len(out); c++ {
		var sum float32
		for t, x := range xs {
			sum += float32(x[c] * ws[t][c])
		}
		out[c] = sum
	}
}
