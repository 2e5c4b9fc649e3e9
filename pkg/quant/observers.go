package quant

import (
	"fmt"
	"strings"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
)

// Observer estimates a PTQ activation range from calibration batches. The
// range lives in model variables (see PTQActivationLayer); Update maps the
// stored range and the number of batches seen so far (a float32 scalar,
// 0 on the first batch) plus one more batch x to the new range. Observers
// only observe: values pass through unchanged while calibrating.
type Observer interface {
	Update(x, lo, hi, batches *graph.Node, bits int) (newLo, newHi *graph.Node)
	fmt.Stringer
}

// firstOr returns onFirst on the first batch, else otherwise.
func firstOr(batches, onFirst, otherwise *graph.Node) *graph.Node {
	return graph.Where(graph.Equal(batches, graph.ZerosLike(batches)), onFirst, otherwise)
}

// runningMean folds a per-batch estimate into the mean over batches.
func runningMean(stored, batch, batches *graph.Node) *graph.Node {
	n := graph.OnePlus(batches)
	return graph.Add(stored, graph.Div(graph.Sub(batch, stored), n))
}

// MinMaxObserver is the reference's observer (PyTorch's MinMaxObserver): the
// minimum and maximum over the whole calibration set.
type MinMaxObserver struct{}

// Update implements Observer.
func (MinMaxObserver) Update(x, lo, hi, batches *graph.Node, _ int) (*graph.Node, *graph.Node) {
	bLo, bHi := graph.ReduceAllMin(x), graph.ReduceAllMax(x)
	return firstOr(batches, bLo, graph.Min(lo, bLo)), firstOr(batches, bHi, graph.Max(hi, bHi))
}

func (MinMaxObserver) String() string { return "minmax" }

// EMAMinMaxObserver tracks the batch minimum and maximum with an exponential
// moving average (PyTorch's MovingAverageMinMaxObserver): r += c*(batch - r),
// the first batch setting r. Momentum c defaults to PyTorch's 0.01.
type EMAMinMaxObserver struct{ Momentum float64 }

// Update implements Observer.
func (o EMAMinMaxObserver) Update(x, lo, hi, batches *graph.Node, _ int) (*graph.Node, *graph.Node) {
	c := o.momentum()
	ema := func(r, b *graph.Node) *graph.Node {
		return firstOr(batches, b, graph.Add(r, graph.MulScalar(graph.Sub(b, r), c)))
	}
	return ema(lo, graph.ReduceAllMin(x)), ema(hi, graph.ReduceAllMax(x))
}

func (o EMAMinMaxObserver) momentum() float64 {
	if o.Momentum == 0 {
		return 0.01
	}
	return o.Momentum
}

func (o EMAMinMaxObserver) String() string { return fmt.Sprintf("ema(%g)", o.momentum()) }

// maxSample bounds the elements the percentile and MSE observers look at per
// batch: larger batches are subsampled with a regular stride.
const maxSample = 1 << 16

// sample flattens x and keeps at most maxSample elements, evenly strided.
func sample(x *graph.Node) *graph.Node {
	x = graph.Reshape(x, -1)
	n := x.Shape().Size()
	if n <= maxSample {
		return x
	}
	stride := (n + maxSample - 1) / maxSample
	return graph.Slice(x, graph.AxisRange().Stride(stride))
}

// PercentileObserver clips the range to the given percentiles of each batch
// (e.g. 99.99 takes the 0.01% and 99.99% quantiles), averaged over the
// calibration batches: outliers stop stretching the grid.
type PercentileObserver struct{ Percentile float64 }

// Update implements Observer.
func (o PercentileObserver) Update(x, lo, hi, batches *graph.Node, _ int) (*graph.Node, *graph.Node) {
	p := o.percentile()
	xs := sample(x)
	return runningMean(lo, quantile(xs, (100-p)/100), batches), runningMean(hi, quantile(xs, p/100), batches)
}

// quantile finds the q-quantile of xs (a vector) by bisection on the value:
// 40 halvings of [min, max], each counting the elements at or below the
// midpoint. It avoids sorting, which GoMLX's Go backend does with a closure
// call per comparison (tens of seconds for one calibration).
func quantile(xs *graph.Node, q float64) *graph.Node {
	lo, hi := graph.ReduceAllMin(xs), graph.ReduceAllMax(xs)
	for range 40 {
		mid := graph.MulScalar(graph.Add(lo, hi), 0.5)
		below := graph.ReduceAllMean(graph.ConvertDType(graph.LessOrEqual(xs, mid), xs.DType()))
		enough := graph.GreaterOrEqual(below, graph.Scalar(xs.Graph(), xs.DType(), q))
		hi = graph.Where(enough, mid, hi)
		lo = graph.Where(enough, lo, mid)
	}
	return hi
}

// percentile is the configured percentile, 99.99 when unset or not in (50, 100].
func (o PercentileObserver) percentile() float64 {
	if o.Percentile <= 50 || o.Percentile > 100 {
		return 99.99
	}
	return o.Percentile
}

func (o PercentileObserver) String() string { return fmt.Sprintf("percentile(%g)", o.percentile()) }

// MSEObserver picks, for each batch, the range [c*min, c*max] that minimizes
// the mean squared error of quantizing the batch at the layer's bit width,
// over c in a grid of Candidates values from 1 down to 0.2 (default 64), and
// averages the chosen ranges over the calibration batches.
type MSEObserver struct{ Candidates int }

// Update implements Observer.
func (o MSEObserver) Update(x, lo, hi, batches *graph.Node, bits int) (*graph.Node, *graph.Node) {
	k := o.candidates()
	g := x.Graph()
	xs := sample(x)                                                      // [M]
	factors := graph.Iota(g, shapes.Make(x.DType(), k, 1), 0)            // [K, 1]: 0..K-1
	factors = graph.OneMinus(graph.MulScalar(factors, 0.8/float64(k-1))) // 1 .. 0.2
	bLo, bHi := graph.ReduceAllMin(xs), graph.ReduceAllMax(xs)
	cLo, cHi := graph.Mul(factors, bLo), graph.Mul(factors, bHi) // [K, 1]
	scale, zero := AffineParams(cLo, cHi, bits)
	xk := graph.BroadcastToDims(graph.Reshape(xs, 1, -1), k, xs.Shape().Size())
	err := graph.ReduceMean(graph.Square(graph.Sub(FakeQuantAffine(xk, scale, zero, 0, int(levels(bits))), xk)), 1)
	best := graph.OneHot(graph.ArgMin(err, 0), k, x.DType()) // [K]
	pick := func(c *graph.Node) *graph.Node { return graph.ReduceAllSum(graph.Mul(best, graph.Reshape(c, k))) }
	return runningMean(lo, pick(cLo), batches), runningMean(hi, pick(cHi), batches)
}

func (o MSEObserver) candidates() int {
	if o.Candidates < 2 {
		return 64
	}
	return o.Candidates
}

func (o MSEObserver) String() string { return fmt.Sprintf("mse(%d)", o.candidates()) }

// ObserverNames are the observers ParseObserver knows, the reference's
// first: the one list the recipes, the models and the cell names use.
var ObserverNames = []string{"minmax", "ema", "percentile", "mse"}

// ParseObserver returns the observer of a name of ObserverNames, with the
// settings of the PTQ tables: "minmax" (the reference's), "ema" (momentum
// 0.01), "percentile" (99.99th), "mse" (the default candidates). Each
// observer's String begins with its name.
func ParseObserver(name string) (Observer, error) {
	switch name {
	case "minmax":
		return MinMaxObserver{}, nil
	case "ema":
		return EMAMinMaxObserver{}, nil
	case "percentile":
		return PercentileObserver{Percentile: 99.99}, nil
	case "mse":
		return MSEObserver{}, nil
	}
	return nil, fmt.Errorf("quant: unknown observer %q (valid: %s)", name, strings.Join(ObserverNames, ", "))
}
