package quant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
)

// callModel runs fn once in a graph of store (training or not) and returns
// its outputs as float64 slices.
func callModel(t *testing.T, store *model.Store, training bool, fn func(scope *model.Scope, x *graph.Node) []*graph.Node, x *tensors.Tensor) [][]float64 {
	t.Helper()
	exec, err := model.NewExec(testBackend(), store, func(scope *model.Scope, x *graph.Node) []*graph.Node {
		scope.SetTraining(x.Graph(), training)
		return fn(scope, x)
	})
	if err != nil {
		t.Fatal(err)
	}
	outs, err := exec.Call(x)
	if err != nil {
		t.Fatal(err)
	}
	var res [][]float64
	for _, o := range outs {
		res = append(res, flat(o))
	}
	return res
}

// panicOf runs f and returns the error it panicked with (nil when it did
// not panic): the layers' Done panics on bad input, as GoMLX's builders do.
func panicOf(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = e
			} else {
				err = fmt.Errorf("%v", r)
			}
		}
	}()
	f()
	return nil
}

func TestPACTLayer(t *testing.T) {
	store := model.NewStore()
	store.RootScope().SetParam(ParamActivationBits, 2)
	out := callModel(t, store, true, func(scope *model.Scope, x *graph.Node) []*graph.Node {
		y := PACTLayer(scope.In("act"), x).Done()
		reg := train.GetRegularizationLoss(x.Graph())
		return []*graph.Node{y, reg}
	}, vec(-1, 5, 20))
	// alpha = 10 (default), k = 2: round(y*3/10)*10/3: 5 -> 1.5 -> 2 -> 6.667; 20 -> 10.
	assertClose(t, "PACTLayer value", out[0], []float64{0, 20. / 3, 10}, 1e-5)
	// Regularizer lambda * alpha^2 = 2e-4 * 100.
	assertClose(t, "PACTLayer regularizer", out[1], []float64{0.02}, 1e-7)
	alpha := store.RootScope().In("act").GetVariable("alpha")
	if alpha == nil {
		t.Fatal("PACT alpha variable not created in its scope")
	}
	if !alpha.Trainable {
		t.Error("PACT alpha must be trainable")
	}
	if err := panicOf(func() { PACTLayer(store.RootScope().In("bad"), nil).Bits(9).Done() }); err == nil ||
		!strings.Contains(err.Error(), "quant.PACTLayer: bits must be 1..8 or 32, got 9") {
		t.Errorf("bad bits error = %v", err)
	}
}

func TestLSQLayerInitializesFromFirstBatch(t *testing.T) {
	store := model.NewStore()
	fn := func(scope *model.Scope, x *graph.Node) []*graph.Node {
		return []*graph.Node{LSQLayer(scope.In("w"), x).Signed(true).Bits(3).Done()}
	}
	x := vec(-2, 1, 0.5, -0.5)
	callModel(t, store, true, fn, x)
	step, err := store.RootScope().In("w").GetVariable("step").Value()
	if err != nil {
		t.Fatal(err)
	}
	// 2 * mean|v| / sqrt(Qp) = 2 * 1 / sqrt(3).
	assertClose(t, "LSQ initial step", flat(step), []float64{2 / math.Sqrt(3)}, 1e-6)
	// A second batch does not re-initialize it.
	callModel(t, store, true, fn, vec(-20, 10, 5, -5))
	step, _ = store.RootScope().In("w").GetVariable("step").Value()
	assertClose(t, "LSQ step after second batch", flat(step), []float64{2 / math.Sqrt(3)}, 1e-6)
}

// TestLSQLayerAllZeroFirstBatch: a first batch of zeros (a pruned layer, an
// activation nothing reaches) starts the step at lsqMinStep, not 0, so the
// output is 0, not 0/0 = NaN, and a later batch is quantized on that step.
func TestLSQLayerAllZeroFirstBatch(t *testing.T) {
	store := model.NewStore()
	fn := func(scope *model.Scope, x *graph.Node) []*graph.Node {
		return []*graph.Node{LSQLayer(scope.In("a"), x).Bits(2).Done()}
	}
	assertClose(t, "LSQ of zeros", callModel(t, store, true, fn, vec(0, 0, 0))[0], []float64{0, 0, 0}, 0)
	step, err := store.RootScope().In("a").GetVariable("step").Value()
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "LSQ step from zeros", flat(step), []float64{lsqMinStep}, 1e-12)
	// On the step 1e-8, 2 bits (levels 0..3): 5e-8 is clamped to 3e-8.
	assertClose(t, "LSQ after zeros", callModel(t, store, true, fn, vec(0, 1e-8, 5e-8))[0], []float64{0, 1e-8, 3e-8}, 1e-12)
}

func TestDoReFaGradientLayer(t *testing.T) {
	store := model.NewStore()
	store.SetRNGStateFromSeed(3)
	x := tensors.FromFlatDataAndDimensions([]float32{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8}, 2, 4)
	grads := func(training bool) []float64 {
		return callModel(t, store, training, func(scope *model.Scope, x *graph.Node) []*graph.Node {
			y := DoReFaGradientLayer(scope, x).Bits(2).Done()
			// Incoming gradient x^2's derivative: 2x, then quantized.
			return graph.Gradient(graph.ReduceAllSum(graph.Square(y)), x)
		}, x)[0]
	}
	a, b := grads(true), grads(true)
	if slicesEqual(a, b) {
		t.Errorf("two training steps drew the same noise: %v", a)
	}
	assertClose(t, "DoReFaGradientLayer outside training is the identity", grads(false),
		[]float64{0.2, 0.4, 0.6, 0.8, 1, 1.2, 1.4, 1.6}, 1e-6)
}

func slicesEqual(a, b []float64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

// calibrate runs PTQ calibration over the batches, then returns the layer's
// frozen output on probe.
func calibrate(t *testing.T, obs Observer, bits int, batches []*tensors.Tensor, probe *tensors.Tensor) (store *model.Store, frozen []float64) {
	t.Helper()
	store = model.NewStore()
	layer := func(scope *model.Scope, x *graph.Node) []*graph.Node {
		return []*graph.Node{PTQActivationLayer(scope.In("act"), x).Bits(bits).Observer(obs).Done()}
	}
	store.RootScope().SetParam(ParamPTQMode, string(PTQCalibrate))
	for _, b := range batches {
		out := callModel(t, store, false, layer, b)
		assertClose(t, "calibration passes values through", out[0], flat(b), 0)
	}
	store.RootScope().SetParam(ParamPTQMode, string(PTQFrozen))
	return store, callModel(t, store, false, layer, probe)[0]
}

func observed(t *testing.T, store *model.Store) []float64 {
	var r []float64
	for _, name := range []string{"observer_min", "observer_max", "observer_batches"} {
		v, err := store.RootScope().In("act").GetVariable(name).Value()
		if err != nil {
			t.Fatal(err)
		}
		r = append(r, flat(v)...)
	}
	return r
}

func TestPTQMinMaxTwoBatchesEqualConcatenation(t *testing.T) {
	a, b := vec(0.5, 3, -1, 2), vec(4, 0, 1, 2.5)
	both := vec(0.5, 3, -1, 2, 4, 0, 1, 2.5)
	s1, out1 := calibrate(t, MinMaxObserver{}, 4, []*tensors.Tensor{a, b}, both)
	s2, out2 := calibrate(t, MinMaxObserver{}, 4, []*tensors.Tensor{both}, both)
	r1, r2 := observed(t, s1), observed(t, s2)
	assertClose(t, "range after two batches", r1[:2], []float64{-1, 4}, 0)
	assertClose(t, "range of the concatenation", r2[:2], r1[:2], 0)
	assertClose(t, "frozen outputs agree", out1, out2, 0)
	// scale = 5/15 = 1/3, zero = round(3) = 3: values snap to multiples of 1/3.
	for _, v := range out1 {
		if k := v * 3; math.Abs(k-math.Round(k)) > 1e-5 {
			t.Errorf("frozen value %g is not on the 1/3 grid", v)
		}
	}
}

func TestPTQActivationClampsToKBits(t *testing.T) {
	// Calibrated on [0, 3] with 2 bits: scale 1, grid {0,1,2,3}; 7 clamps to 3.
	_, out := calibrate(t, MinMaxObserver{}, 2, []*tensors.Tensor{vec(0, 3)}, vec(-1, 0.4, 1.5, 2.6, 7))
	assertClose(t, "true k-bit clamping", out, []float64{0, 0, 2, 3, 3}, 1e-6)
}

// outlierTensor is N(0,1) with five outliers near +-20 (0.03% of the
// values): min/max stretches a 4-bit grid over [-21, 25], so most values
// round to 0; clipping the outliers loses far less.
func outlierTensor() *tensors.Tensor {
	rng := rand.New(rand.NewPCG(21, 22))
	v := make([]float64, 16384)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	v[10], v[2000], v[3000], v[5000], v[9000] = 20, -18, 25, 22, -21
	return vec(v...)
}

func TestObserversBeatMinMaxOnOutliers(t *testing.T) {
	x := outlierTensor()
	xs := flat(x)
	mse := func(q []float64) float64 {
		s := 0.0
		for i := range q {
			s += (q[i] - xs[i]) * (q[i] - xs[i])
		}
		return s / float64(len(q))
	}
	_, base := calibrate(t, MinMaxObserver{}, 4, []*tensors.Tensor{x}, x)
	baseErr := mse(base)
	for _, obs := range []Observer{PercentileObserver{Percentile: 99.9}, MSEObserver{}} {
		_, out := calibrate(t, obs, 4, []*tensors.Tensor{x}, x)
		if e := mse(out); !(e < baseErr) {
			t.Errorf("%s: MSE %.4g, not below min/max's %.4g", obs, e, baseErr)
		} else {
			t.Logf("%s: MSE %.4g vs min/max %.4g", obs, e, baseErr)
		}
	}
	// EMA follows the batches: after [0,1] then [0,11], max = 1 + 0.01*10.
	s, _ := calibrate(t, EMAMinMaxObserver{}, 4, []*tensors.Tensor{vec(0, 1), vec(0, 11)}, vec(0))
	assertClose(t, "EMA range", observed(t, s)[:2], []float64{0, 1.1}, 1e-6)
}

func TestPTQErrors(t *testing.T) {
	store := model.NewStore()
	store.RootScope().SetParam(ParamPTQMode, string(PTQFrozen))
	g := graph.NewGraph(testBackend(), "ptq-errors")
	x := graph.Const(g, []float32{1, 2})
	scope := store.RootScope().In("act")
	if err := panicOf(func() { PTQActivationLayer(scope, x).Bits(4).Done() }); err == nil || !strings.Contains(err.Error(), "never calibrated") {
		t.Errorf("frozen before calibration: err = %v", err)
	}
	store.RootScope().SetParam(ParamPTQMode, "sometimes")
	if err := panicOf(func() { PTQActivationLayer(scope, x).Bits(4).Done() }); err == nil || !strings.Contains(err.Error(), "valid modes are off, calibrate, frozen") {
		t.Errorf("bad mode: err = %v", err)
	}
	if err := panicOf(func() { PTQWeightLayer(scope, x).Bits(1).Done() }); err == nil || !strings.Contains(err.Error(), "bits must be 2..8 or 32, got 1") {
		t.Errorf("bad weight bits: err = %v", err)
	}
}

func TestPTQWeights(t *testing.T) {
	store := model.NewStore()
	store.RootScope().SetParam(ParamPTQMode, string(PTQFrozen))
	// [2 inputs, 2 output channels]: per tensor max|w| = 4 -> 3 bits, scale 4/3.
	w := tensors.FromFlatDataAndDimensions([]float32{1, 0.2, -4, 0.3}, 2, 2)
	out := callModel(t, store, false, func(scope *model.Scope, w *graph.Node) []*graph.Node {
		return []*graph.Node{
			PTQWeightLayer(scope, w).Bits(3).Done(),
			PTQWeightLayer(scope, w).Bits(3).PerChannel(-1).Done(),
		}
	}, w)
	s := 4. / 3
	assertClose(t, "per-tensor", out[0], []float64{s, 0, -4, 0}, 1e-6)
	// Per channel: channel 0 max 4 (scale 4/3), channel 1 max 0.3 (scale 0.1).
	assertClose(t, "per-channel", out[1], []float64{s, 0.2, -4, 0.3}, 1e-6)
}
