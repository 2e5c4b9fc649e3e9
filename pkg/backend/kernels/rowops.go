package kernels

// rowOps are the per-row vector operations of the batch-norm kernels, over
// one row of C channels; per-channel operands are slices of C.
type rowOps struct {
	add        func(acc, x []float32)                   // acc += x
	addSqDiff  func(acc, x, mean []float32)             // acc += (x - mean)^2
	addMulDiff func(acc, d, x, mean []float32)          // acc += d * (x - mean)
	affine     func(out, x, mean, a, offset []float32)  // out = (x - mean)*a + offset
	gradRow    func(dx, dy, x, mean, m, b, a []float32) // dx = (dy - m - (x - mean)*b) * a
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
}
