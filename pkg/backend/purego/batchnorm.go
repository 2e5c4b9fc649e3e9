package purego

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
)

// The three batch-norm ops follow XLA's semantics (operation_semantics:
// BatchNormTraining / BatchNormInference / BatchNormGrad): statistics are taken
// over every axis but featureAxis, and the variance is the biased one (divided
// by the element count n, not n-1).

// bnContext holds what every batch-norm op needs: the operand's shape, the
// axes reduced over and the count of elements per feature.
type bnContext struct {
	e           emitter
	shape       shapes.Shape
	featureAxis int
	reduceAxes  []int
	n           float64
}

func newBNContext(f *function, operand compute.Value, featureAxis int) *bnContext {
	e := emitter{f: f.Function, w: f}
	s := e.shape(operand)
	c := &bnContext{e: e, shape: s, featureAxis: featureAxis, n: 1}
	for axis, dim := range s.Dimensions {
		if axis != featureAxis {
			c.reduceAxes = append(c.reduceAxes, axis)
			c.n *= float64(dim)
		}
	}
	return c
}

// full shapes a per-feature vector to broadcast against the operand: the
// operand's rank, with 1s on every axis but the feature axis. The Go
// backend's binary ops broadcast it without materializing the full tensor
// (BroadcastInDim would, through a slow index iterator).
func (c *bnContext) full(v compute.Value) compute.Value {
	dims := make([]int, c.shape.Rank())
	for i := range dims {
		dims[i] = 1
	}
	dims[c.featureAxis] = c.shape.Dimensions[c.featureAxis]
	return c.e.reshape(v, dims...)
}

// meanOf averages x over the reduced axes, giving a per-feature vector.
func (c *bnContext) meanOf(x compute.Value) compute.Value {
	sum := c.e.must(c.e.f.ReduceSum(x, c.reduceAxes...))
	return c.e.mul(sum, c.vecScalar(1/c.n))
}

// vecScalar is a per-feature vector filled with value.
func (c *bnContext) vecScalar(value float64) compute.Value {
	vec := shapes.Make(c.shape.DType, c.shape.Dimensions[c.featureAxis])
	return c.e.broadcast(c.e.scalar(c.shape.DType, value), vec)
}

// rstd is 1/sqrt(variance + epsilon), per feature.
func (c *bnContext) rstd(variance compute.Value, epsilon float32) compute.Value {
	return c.e.must(c.e.f.Rsqrt(c.e.add(variance, c.vecScalar(float64(epsilon)))))
}

// BatchNormForInference implements compute.Function:
// y = (x - mean) * scale / sqrt(variance + epsilon) + offset, folded into one
// per-feature multiply and add.
func (f *function) BatchNormForInference(operand, scale, offset, mean, variance compute.Value, epsilon float32,
	featureAxis int) (out compute.Value, err error) {
	defer catchEmit("BatchNormForInference", &err)
	c := newBNContext(f, operand, featureAxis)
	e := c.e
	a := e.mul(scale, c.rstd(variance, epsilon))
	b := e.sub(offset, e.mul(mean, a))
	return e.add(e.mul(operand, c.full(a)), c.full(b)), nil
}

// BatchNormForTraining implements compute.Function: normalizes with the
// batch's own mean and (biased) variance, and returns them.
func (f *function) BatchNormForTraining(operand, scale, offset compute.Value, epsilon float32,
	featureAxis int) (normalized, batchMean, batchVariance compute.Value, err error) {
	defer catchEmit("BatchNormForTraining", &err)
	c := newBNContext(f, operand, featureAxis)
	e := c.e
	batchMean = c.meanOf(operand)
	centered := e.sub(operand, c.full(batchMean))
	batchVariance = c.meanOf(e.mul(centered, centered))
	a := e.mul(scale, c.rstd(batchVariance, epsilon))
	normalized = e.add(e.mul(centered, c.full(a)), c.full(offset))
	return normalized, batchMean, batchVariance, nil
}

// BatchNormGradient implements compute.Function. With xhat = (x-mean)*rstd:
//
//	gradOffset  = sum(dy)
//	gradScale   = sum(dy * xhat)
//	gradOperand = scale * rstd * (dy - gradOffset/n - xhat * gradScale/n)
func (f *function) BatchNormGradient(operand, scale, mean, variance, gradOutput compute.Value, epsilon float32,
	featureAxis int) (gradOperand, gradScale, gradOffset compute.Value, err error) {
	defer catchEmit("BatchNormGradient", &err)
	c := newBNContext(f, operand, featureAxis)
	e := c.e
	rstd := c.rstd(variance, epsilon)
	xhat := e.mul(e.sub(operand, c.full(mean)), c.full(rstd))
	gradOffset = e.must(e.f.ReduceSum(gradOutput, c.reduceAxes...))
	gradScale = e.must(e.f.ReduceSum(e.mul(gradOutput, xhat), c.reduceAxes...))
	invN := c.vecScalar(1 / c.n)
	centeredGrad := e.sub(gradOutput, c.full(e.mul(gradOffset, invN)))
	centeredGrad = e.sub(centeredGrad, e.mul(xhat, c.full(e.mul(gradScale, invN))))
	gradOperand = e.mul(centeredGrad, c.full(e.mul(scale, rstd)))
	return gradOperand, gradScale, gradOffset, nil
}
