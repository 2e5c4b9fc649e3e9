package kernels

// rowOps are the vector operations of the batch-norm, ReLU and depthwise
// kernels. The batch-norm ones ("Rows") go over a block of rows of C
// channels: x[r*stride+c] is row r's channel c, for r < rows and c < C, where
// C is the length of the per-channel operands (acc, mean, a...). A SIMD path
// keeps a vector of channels in registers while it walks the rows, and adds
// each channel's rows in row order, so every path gives the same bits.
type rowOps struct {
	add         func(acc, x []float32)                                       // acc += x
	sumRows     func(acc, x []float32, rows, stride int)                     // acc += x, per row
	sqDiffRows  func(acc, x, mean []float32, rows, stride int)               // acc += (x - mean)^2, per row
	shiftRows   func(s1, s2, x, k []float32, rows, stride int)               // s1 += x - k; s2 += (x - k)^2, per row
	gradSumRows func(sumDy, sumDyX, dy, x, mean []float32, rows, stride int) // sumDy += dy; sumDyX += dy * (x - mean), per row
	affineRows  func(out, x, mean, a, offset []float32, rows, stride int)    // out = (x - mean)*a + offset
	gradRows    func(dx, dy, x, mean, m, b, a []float32, rows, stride int)   // dx = (dy - m - (x - mean)*b) * a
	relu        func(out, x []float32)                                       // out = x < 0 ? 0 : x
	reluGrad    func(dx, ref, dOut []float32)                                // dx = ref > 0 ? dOut : 0
	mulAdd      func(acc, a, b []float32)                                    // acc += a * b
	// tapRow computes a run of depthwise output pixels with the same taps
	// inside the input: pixel p's output out[p*outStep:][:c] is the sum
	// over taps t, in t order from zero, of in[p*inStep+inTaps[t]:][:c]
	// times w[wTaps[t]:][:c], each product rounded before it is added. The
	// caller checks the bounds.
	tapRow func(out, in, w []float32, inTaps, wTaps []int, pixels, c, inStep, outStep int)
	// filterRow is mulAdd over a run of pixels with the same taps inside
	// the input: for every tap t and pixel p in order, acc[accTaps[t]:][:c]
	// += in[p*inStep+inTaps[t]:][:c] * dy[p*c:][:c]. The caller checks the
	// bounds.
	filterRow func(acc, in, dy []float32, inTaps, accTaps []int, pixels, c, inStep int)
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
	sumRows: func(acc, x []float32, rows, stride int) {
		for r := range rows {
			row := x[r*stride:][:len(acc)]
			for c := range acc {
				acc[c] += row[c]
			}
		}
	},
	sqDiffRows: func(acc, x, mean []float32, rows, stride int) {
		mean = mean[:len(acc)]
		for r := range rows {
			row := x[r*stride:][:len(acc)]
			for c := range acc {
				d := row[c] - mean[c]
				acc[c] += float32(d * d)
			}
		}
	},
	shiftRows: func(s1, s2, x, k []float32, rows, stride int) {
		s2, k = s2[:len(s1)], k[:len(s1)]
		for r := range rows {
			row := x[r*stride:][:len(s1)]
			for c := range s1 {
				d := row[c] - k[c]
				s1[c] += d
				s2[c] += float32(d * d)
			}
		}
	},
	gradSumRows: func(sumDy, sumDyX, dy, x, mean []float32, rows, stride int) {
		sumDyX, mean = sumDyX[:len(sumDy)], mean[:len(sumDy)]
		for r := range rows {
			d, xr := dy[r*stride:][:len(sumDy)], x[r*stride:][:len(sumDy)]
			for c := range sumDy {
				sumDy[c] += d[c]
				sumDyX[c] += float32(d[c] * (xr[c] - mean[c]))
			}
		}
	},
	affineRows: func(out, x, mean, a, offset []float32, rows, stride int) {
		n := len(mean)
		a, offset = a[:n], offset[:n]
		for r := range rows {
			o, xr := out[r*stride:][:n], x[r*stride:][:n]
			for c := range n {
				o[c] = float32((xr[c]-mean[c])*a[c]) + offset[c]
			}
		}
	},
	gradRows: func(dx, dy, x, mean, m, b, a []float32, rows, stride int) {
		n := len(mean)
		m, b, a = m[:n], b[:n], a[:n]
		for r := range rows {
			o, d, xr := dx[r*stride:][:n], dy[r*stride:][:n], x[r*stride:][:n]
			for c := range n {
				o[c] = float32((d[c]-m[c])-float32((xr[c]-mean[c])*b[c])) * a[c]
			}
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
	tapRow: func(out, in, w []float32, inTaps, wTaps []int, pixels, c, inStep, outStep int) {
		genericTapRow(out, in, w, inTaps, wTaps, pixels, c, inStep, outStep, 0)
	},
	filterRow: func(acc, in, dy []float32, inTaps, accTaps []int, pixels, c, inStep int) {
		genericFilterRow(acc, in, dy, inTaps, accTaps, pixels, c, inStep, 0)
	},
}

// genericTapRow is rowOps.tapRow in plain Go for channels c0 to c-1.
func genericTapRow(out, in, w []float32, inTaps, wTaps []int, pixels, c, inStep, outStep, c0 int) {
	for p := range pixels {
		o := out[p*outStep:][:c]
		for ch := c0; ch < c; ch++ {
			var sum float32
			for t, off := range inTaps {
				sum += float32(in[p*inStep+off+ch] * w[wTaps[t]+ch])
			}
			o[ch] = sum
		}
	}
}

// genericFilterRow is rowOps.filterRow in plain Go for channels c0 to c-1.
func genericFilterRow(acc, in, dy []float32, inTaps, accTaps []int, pixels, c, inStep, c0 int) {
	for p := range pixels {
		g := dy[p*c:][:c]
		for t, off := range inTaps {
			a, x := acc[accTaps[t]:][:c], in[p*inStep+off:][:c]
			for ch := c0; ch < c; ch++ {
				a[ch] += float32(x[ch] * g[ch])
			}
		}
	}
}
