package notebook

import (
	"math"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
)

// Calibration is what a PTQ observer made of some activations.
type Calibration struct {
	Observer  string
	Lo, Hi    float64   // the range it chose
	Quantized []float64 // the activations fake-quantized with that range
	MSE       float64   // mean squared quantization error
}

// Grid returns the 2^bits levels of the range (as PTQ's affine quantizer
// places them: the range widened to contain 0, the zero point rounded).
func (c Calibration) Grid(bits int) []float64 {
	n := math.Exp2(float64(bits)) - 1
	lo, hi := math.Min(c.Lo, 0), math.Max(c.Hi, 0)
	scale := (hi - lo) / n
	if scale <= 0 {
		return nil
	}
	zero := math.Min(math.Max(math.RoundToEven(-lo/scale), 0), n)
	grid := make([]float64, int(n)+1)
	for q := range grid {
		grid[q] = (float64(q) - zero) * scale
	}
	return grid
}

// Calibrate runs a PTQ observer on the values (one calibration batch), then
// fake-quantizes them to bits with the range it chose, exactly as the PTQ
// activation layer does after calibration.
func Calibrate(o quant.Observer, values []float64, bits int) (Calibration, error) {
	xt, err := Tensor(values)
	if err != nil {
		return Calibration{}, err
	}
	outs, err := Exec(func(in []*graph.Node) []*graph.Node {
		x := in[0]
		zero := graph.ScalarZero(x.Graph(), x.DType())
		lo, hi := o.Update(x, zero, zero, zero, bits)
		scale, zp := quant.AffineParams(lo, hi, bits)
		q := quant.FakeQuantAffine(x, scale, zp, 0, int(math.Exp2(float64(bits)))-1)
		return []*graph.Node{lo, hi, q}
	}, xt)
	if err != nil {
		return Calibration{}, err
	}
	c := Calibration{Observer: o.String(), Lo: outs[0][0], Hi: outs[1][0], Quantized: outs[2]}
	c.MSE = MSE(values, c.Quantized)
	return c, nil
}

// QuantizeWeights fake-quantizes a weight tensor (dims as stored, output
// channels last) with PTQ's symmetric weight quantizer, per tensor or per
// output channel.
func QuantizeWeights(w []float64, dims []int, bits int, perChannel bool) ([]float64, error) {
	wt, err := Tensor(w, dims...)
	if err != nil {
		return nil, err
	}
	outs, err := Exec(func(in []*graph.Node) []*graph.Node {
		return []*graph.Node{quant.SymmetricFakeQuant(in[0], bits, perChannel, -1)}
	}, wt)
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}

// MSE is the mean squared difference of two equally long slices.
func MSE(a, b []float64) float64 {
	if len(a) == 0 {
		return 0
	}
	s := 0.0
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return s / float64(len(a))
}
