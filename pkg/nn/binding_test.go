package nn

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/pkg/backend"
)

// These tests check wiring, not formulas: that a layer multiplies by what its
// weight quantizer returns, and that folding a BN reproduces that BN where
// its epsilon matters.

// bindingEngine is one engine for these tests: tensors stay bound to the
// backend instance they were first used on.
var bindingEngine = sync.OnceValues(func() (compute.Backend, error) { return backend.TestEngine() })

func bindingBackend(t *testing.T) compute.Backend {
	t.Helper()
	b, err := bindingEngine()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// normals is n values N(0, 1) from seed.
func normals(seed uint64, n int) []float32 {
	rng := rand.New(rand.NewPCG(seed, 5))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// callOnce builds fn in store as an inference graph and returns its output
// for x.
func callOnce(t *testing.T, store *model.Store, fn func(scope *model.Scope, x *graph.Node) *graph.Node, x *tensors.Tensor) []float32 {
	t.Helper()
	exec, err := model.NewExec(bindingBackend(t), store, fn)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Call(x)
	if err != nil {
		t.Fatal(err)
	}
	return tensors.MustCopyFlatData[float32](out[0])
}

// quarterGrid is a test weight quantizer: w rounded to multiples of 1/4
// (PyTorch-initialized weights of these layers are below 1/2, so most round
// to 0 or +-1/4 and the layer's output moves well away from the FP one).
func quarterGrid(_ *model.Scope, w *graph.Node) *graph.Node {
	return graph.DivScalar(graph.Round(graph.MulScalar(w, 4)), 4)
}

// TestLayersUseQuantizedWeights checks, for each layer that takes a
// WeightQuantizer, that its output is the layer's with the quantized weights:
// the layer with the quantizer equals the layer without one after the
// quantized values were written into its "weights" variable (so nothing here
// depends on how a layer computes). A layer that calls the quantizer and
// then multiplies by the full-precision weights fails.
func TestLayersUseQuantizedWeights(t *testing.T) {
	for _, tc := range []struct {
		name  string
		layer func(scope *model.Scope, x *graph.Node, q WeightQuantizer) *graph.Node
	}{
		{"conv", func(scope *model.Scope, x *graph.Node, q WeightQuantizer) *graph.Node {
			return Conv(scope, x).Channels(3).Quantize(q).Done()
		}},
		{"1x1 conv", func(scope *model.Scope, x *graph.Node, q WeightQuantizer) *graph.Node {
			return Conv(scope, x).Channels(3).KernelSize(1).Quantize(q).Done()
		}},
		{"conv with bias, stride 2", func(scope *model.Scope, x *graph.Node, q WeightQuantizer) *graph.Node {
			return Conv(scope, x).Channels(3).Stride(2).Bias(true).Quantize(q).Done()
		}},
		{"depthwise", func(scope *model.Scope, x *graph.Node, q WeightQuantizer) *graph.Node {
			return DepthwiseConv(scope, x).Quantize(q).Done()
		}},
		{"dense", func(scope *model.Scope, x *graph.Node, q WeightQuantizer) *graph.Node {
			return Dense(scope, graph.Reshape(x, x.Shape().Dim(0), -1), 3, q)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := tensors.FromFlatDataAndDimensions(normals(1, 2*4*4*2), 2, 4, 4, 2)
			store := model.NewStore()
			store.SetRNGStateFromSeed(2)
			build := func(q WeightQuantizer) func(scope *model.Scope, x *graph.Node) *graph.Node {
				return func(scope *model.Scope, x *graph.Node) *graph.Node { return tc.layer(scope.In("layer"), x, q) }
			}
			quantized := callOnce(t, store, build(quarterGrid), x)
			fp := callOnce(t, store, build(nil), x)
			// Write the quantized weights into the variable, on the host.
			v := store.RootScope().In("layer").GetVariable("weights")
			w := tensors.MustCopyFlatData[float32](v.MustValue())
			for i := range w {
				w[i] = float32(math.RoundToEven(float64(w[i])*4) / 4)
			}
			if err := v.SetValue(tensors.FromFlatDataAndDimensions(w, v.Shape().Dimensions...)); err != nil {
				t.Fatal(err)
			}
			want := callOnce(t, store, build(nil), x)
			moved := false
			for i := range want {
				if math.Abs(float64(quantized[i]-want[i])) > 1e-5 {
					t.Fatalf("output %d with the quantizer = %g, with the quantized weights stored = %g (full precision %g)",
						i, quantized[i], want[i], fp[i])
				}
				moved = moved || math.Abs(float64(fp[i]-want[i])) > 1e-3
			}
			if !moved {
				t.Fatal("quantizing the weights does not change the output: the check above proves nothing")
			}
		})
	}
}

// TestFoldBatchNormWhereEpsilonMatters compares a conv followed by a BN in
// inference with the conv with that BN folded, where the BN's running
// statistics are set so that epsilon decides the output: channel 0 has a
// running variance of 0 and channel 1 of epsilon/4, each with the scale
// sqrt(variance + epsilon) that makes its factor scale/sqrt(variance +
// epsilon) exactly 1. A fold that drops epsilon divides channel 0 by 0 and
// multiplies channel 1 by sqrt(5); one that uses another epsilon than the
// BN's (the default 1e-5 where Model A's BN has 1e-4) is off by 1.9x. The
// fold test of the models (modeltest.FoldedMatches) trains three steps, after
// which every running variance is near 1 and epsilon is lost in it.
func TestFoldBatchNormWhereEpsilonMatters(t *testing.T) {
	for _, tc := range []struct {
		eps  float64
		bias bool
	}{
		{1e-5, false}, // PyTorch's default, the CIFAR models'
		{1e-4, true},  // SVHN Model A's, whose convs have biases
		{1e-3, false},
	} {
		const channels = 4
		x := tensors.FromFlatDataAndDimensions(normals(3, 2*5*5*3), 2, 5, 5, 3)
		store := model.NewStore()
		store.SetRNGStateFromSeed(4)
		build := func(folded bool) func(scope *model.Scope, x *graph.Node) *graph.Node {
			return func(scope *model.Scope, x *graph.Node) *graph.Node {
				conv := Conv(scope.In("conv"), x).Channels(channels).Bias(tc.bias)
				if folded {
					return conv.FoldBatchNorm(scope.In("bn"), tc.eps).Done()
				}
				return BatchNorm(scope.In("bn"), conv.Done()).Epsilon(tc.eps).Done()
			}
		}
		callOnce(t, store, build(false), x) // creates the variables
		variance := []float32{0, float32(tc.eps / 4), 0.5, 2}
		set := map[string][]float32{
			"running_var":  variance,
			"running_mean": {0.3, -0.2, 0.1, 0},
			"scale":        {float32(math.Sqrt(tc.eps)), float32(math.Sqrt(1.25 * tc.eps)), 0.7, 1.3},
			"offset":       {0.1, -0.4, 0.2, 0},
		}
		bn := store.RootScope().In("bn")
		for name, values := range set {
			if err := bn.GetVariable(name).SetValue(tensors.FromFlatDataAndDimensions(values, channels)); err != nil {
				t.Fatal(err)
			}
		}
		want, got := callOnce(t, store, build(false), x), callOnce(t, store, build(true), x)
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); !(d <= 1e-4*math.Max(1, math.Abs(float64(want[i])))) {
				t.Errorf("epsilon %g: folded output %d (channel %d, running variance %g) = %g, BN gives %g",
					tc.eps, i, i%channels, variance[i%channels], got[i], want[i])
				break
			}
		}
	}
}
