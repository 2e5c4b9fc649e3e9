package kernels

import "fmt"

// Pointwise is a 1x1 convolution with stride 1 and no padding over
// channels-last data, a matrix product: out[p][o] = sum over c of
// x[p][c] * w[c][o] for Pixels rows of C input and O output channels. It
// reads x in place, where Conv2D.Forward first packs the input into
// 16-channel blocks (45% of a 72 -> 12 convolution's time) and computes 16
// output channels a call (a quarter of them wasted on 12): MobileNetV2's
// 1x1 convolutions are as fast or faster here (engine/pointwise.go). Each
// output sums its C products in order, c = 0 first, with fused
// multiply-adds on the SIMD paths.
type Pointwise struct {
	Pixels, C, O int
}

// pwBlock is the output channels a pass over the input covers: two 8-lane
// vectors. Packed weights are padded with zeros to a multiple of it.
const pwBlock = 16

// pwRows is how many pixels a worker takes at a time.
const pwRows = 64

// Validate reports why the product cannot be computed, or nil.
func (pw Pointwise) Validate() error {
	if pw.Pixels < 1 || pw.C < 1 || pw.O < 1 {
		return fmt.Errorf("kernels: Pointwise of %d pixels, %d -> %d channels", pw.Pixels, pw.C, pw.O)
	}
	return nil
}

// opad is O rounded up to whole blocks.
func (pw Pointwise) opad() int { return (pw.O + pwBlock - 1) / pwBlock * pwBlock }

// PackedSize is the length of the packed weights.
func (pw Pointwise) PackedSize() int { return pw.C * pw.opad() }

// Pack writes the weights, element (c, o) at w[c*sC + o*sO], as C rows of
// opad channels, zero past O.
func (pw Pointwise) Pack(packed, w []float32, sC, sO int) {
	op := pw.opad()
	for c := range pw.C {
		row := packed[c*op : (c+1)*op]
		for o := range pw.O {
			row[o] = w[c*sC+o*sO]
		}
		clear(row[pw.O:])
	}
}

// Forward computes out (Pixels x O) from x (Pixels x C) and the packed
// weights over workers goroutines. Every output is computed by one worker
// in one order, so the result does not depend on workers.
func (pw Pointwise) Forward(out, x, packed []float32, workers int) {
	if err := pw.Validate(); err != nil {
		panic(err)
	}
	if len(out) < pw.Pixels*pw.O || len(x) < pw.Pixels*pw.C || len(packed) < pw.PackedSize() {
		panic(fmt.Sprintf("kernels: Pointwise %+v given slices of %d, %d and %d", pw, len(out), len(x), len(packed)))
	}
	rows := currentPointwise()
	splitUnits(pw.Pixels, pwRows, workers, func(_, lo, hi int) {
		if lo < hi {
			rows(pw, out, x, packed, lo, hi)
		}
	})
}

// pointwiseRows computes pixels [lo, hi) of a Pointwise.
type pointwiseRows func(pw Pointwise, out, x, packed []float32, lo, hi int)

// currentPointwise is the implementation of the kernel path in use.
func currentPointwise() pointwiseRows {
	if f := simdPointwise(Path()); f != nil {
		return f
	}
	return genericPointwise
}

// genericPointwise is plain Go: each product rounded to float32 before it
// is added (no FMA).
func genericPointwise(pw Pointwise, out, x, packed []float32, lo, hi int) {
	op := pw.opad()
	acc := make([]float32, op)
	for p := lo; p < hi; p++ {
		clear(acc)
		xs := x[p*pw.C : (p+1)*pw.C]
		for c, v := range xs {
			row := packed[c*op : (c+1)*op]
			for o := range acc {
				acc[o] += float32(v * row[o])
			}
		}
		copy(out[p*pw.O:(p+1)*pw.O], acc[:pw.O])
	}
}
