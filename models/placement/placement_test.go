package placement_test

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/models/internal/modeltest"
	"github.com/mlsysrep/mlsysrep/models/placement"
	"github.com/mlsysrep/mlsysrep/pkg/nn"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
)

// The bit widths of TestSitesApplyTheirQuantizer: different for weights and
// activations, so that a site given the other kind's width is caught.
const wBits, aBits = 2, 3

// lsqStep is LSQ's initial step for v, 2 mean|v| / sqrt(Qp) (PROTOCOL
// section 4), with the ops LSQLayer uses, so that the rounding is the same
// bit for bit.
func lsqStep(v *graph.Node, bits int, signed bool) *graph.Node {
	qp := float64(int(1)<<bits - 1)
	if signed {
		qp = float64(int(1)<<(bits-1) - 1)
	}
	return graph.MulScalar(graph.ReduceAllMean(graph.Abs(v)), 2/math.Sqrt(qp))
}

// TestSitesApplyTheirQuantizer checks that each site Quantizers places
// computes the pkg/quant formula of its method, applied by hand here to the
// same tensors: a conv layer's output is conv(x, Q(w)) (Weights), an
// activation site's is the method's activation quantizer (or ReLU for FP and
// PTQ), and a PTQ observer's, once calibrated on x and frozen, is x
// fake-quantized on x's min/max range. A site that built its quantizer and
// then used the full-precision value, or the other kind's bit width, fails.
func TestSitesApplyTheirQuantizer(t *testing.T) {
	for _, tc := range []struct {
		config string
		// weights and act are the formulas by hand; nil means the identity
		// and ReLU.
		weights, act func(v *graph.Node) *graph.Node
	}{
		{config: "fp"},
		{config: "dorefa:w2a3g32",
			weights: func(w *graph.Node) *graph.Node { return quant.DoReFaWeight(w, wBits) },
			act:     func(x *graph.Node) *graph.Node { return quant.DoReFaActivation(x, aBits) }},
		{config: "pact:w2a3",
			weights: func(w *graph.Node) *graph.Node { return quant.DoReFaWeight(w, wBits) },
			act: func(x *graph.Node) *graph.Node {
				return quant.PACT(x, graph.Scalar(x.Graph(), x.DType(), quant.DefaultPACTAlphaInit), aBits)
			}},
		{config: "lsq:w2a3",
			weights: func(w *graph.Node) *graph.Node { return quant.LSQ(w, lsqStep(w, wBits, true), wBits, true) },
			act:     func(x *graph.Node) *graph.Node { return quant.LSQ(x, lsqStep(x, aBits, false), aBits, false) }},
		{config: "ptq:w2a3",
			weights: func(w *graph.Node) *graph.Node { return quant.SymmetricFakeQuant(w, wBits, false, -1) }},
	} {
		t.Run(tc.config, func(t *testing.T) {
			cfg := quant.MustParseConfig(tc.config)
			q, err := placement.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			weights, act := tc.weights, tc.act
			if weights == nil {
				weights = func(w *graph.Node) *graph.Node { return w }
			}
			if act == nil {
				act = activation.Relu
			}
			store := model.NewStore()
			store.SetRNGStateFromSeed(4)
			fn := func(scope *model.Scope, x *graph.Node) []*graph.Node {
				cs := scope.In("conv")
				y := nn.Conv(cs, x).Channels(4).Quantize(q.Weights()).Done()
				w := cs.GetVariable("weights").NodeValue(x.Graph())
				wantY := graph.Convolve(x, weights(w)).PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done()
				a := q.Activation(scope.In("act"), x, activation.Relu)
				observed := q.Observe(scope.In("observe"), x)
				wantObserved := x
				if q.IsPTQ() {
					lo, hi := graph.ReduceAllMin(x), graph.ReduceAllMax(x)
					scale, zero := quant.AffineParams(lo, hi, aBits)
					wantObserved = quant.FakeQuantAffine(x, scale, zero, 0, 1<<aBits-1)
				}
				return []*graph.Node{y, wantY, a, act(x), observed, wantObserved}
			}
			x, _ := modeltest.Images(2, 4, 10, 6)
			call := func() []*tensors.Tensor {
				t.Helper()
				// A new graph each time: the PTQ mode is read when it is built.
				exec, err := model.NewExec(modeltest.Backend(t), store, fn)
				if err != nil {
					t.Fatal(err)
				}
				out, err := exec.Call(x)
				if err != nil {
					t.Fatal(err)
				}
				return out
			}
			if q.IsPTQ() {
				store.RootScope().SetParam(quant.ParamPTQMode, string(quant.PTQCalibrate))
				call()
				store.RootScope().SetParam(quant.ParamPTQMode, string(quant.PTQFrozen))
			}
			out := call()
			for i, site := range []string{"conv weights", "activation", "observer"} {
				got, want := tensors.MustCopyFlatData[float32](out[2*i]), tensors.MustCopyFlatData[float32](out[2*i+1])
				for j := range want {
					if d := math.Abs(float64(got[j] - want[j])); d > 1e-5*math.Max(1, math.Abs(float64(want[j]))) {
						t.Errorf("%s: %s output %d = %g, the quantizer by hand gives %g", tc.config, site, j, got[j], want[j])
						break
					}
				}
			}
		})
	}
}

// TestGradientSite checks the gradient site: for DoReFa it is
// DoReFaGradientLayer at the config's gradient width (with the same random
// state, the same noise: the same gradient bit for bit, which the identity is
// not), for the other methods the identity. The layer's own noise statistics
// are tested in pkg/quant (TestDoReFaGradientLayerNoise).
func TestGradientSite(t *testing.T) {
	x, _ := modeltest.Images(4, 3, 10, 8)
	v, _ := modeltest.Images(4, 3, 10, 9) // the incoming gradient
	gradient := func(site func(scope *model.Scope, x *graph.Node) *graph.Node) []float32 {
		t.Helper()
		store := model.NewStore()
		store.SetRNGStateFromSeed(8)
		exec, err := model.NewExec(modeltest.Backend(t), store, func(scope *model.Scope, x, v *graph.Node) *graph.Node {
			scope.SetTraining(x.Graph(), true)
			return graph.Gradient(graph.ReduceAllSum(graph.Mul(site(scope.In("conv"), x), v)), x)[0]
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Call(x, v)
		if err != nil {
			t.Fatal(err)
		}
		return tensors.MustCopyFlatData[float32](out[0])
	}
	identity := tensors.MustCopyFlatData[float32](v)
	layer := gradient(func(scope *model.Scope, x *graph.Node) *graph.Node {
		return quant.DoReFaGradientLayer(scope.In("gradient"), x).Bits(2).Done()
	})
	for _, tc := range []struct {
		config string
		want   []float32
	}{
		{"dorefa:w4a3g2", layer},
		{"dorefa:w4a3g32", identity},
		{"pact:w4a3", identity},
		{"lsq:w4a3", identity},
		{"fp", identity},
	} {
		q, err := placement.New(quant.MustParseConfig(tc.config))
		if err != nil {
			t.Fatal(err)
		}
		got := gradient(q.Gradient)
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: gradient %d through the site = %g, want %g", tc.config, i, got[i], tc.want[i])
				break
			}
		}
	}
	if slices.Equal(layer, identity) {
		t.Error("DoReFaGradientLayer at 2 bits passed the gradient through unchanged: the check above proves nothing")
	}
}

// TestEveryMethodHasAPolicy: every method a config parses to has a
// placement policy, and New refuses one without (a method added to
// pkg/quant but not here).
func TestEveryMethodHasAPolicy(t *testing.T) {
	for _, text := range []string{"fp", "ptq:w4a4", "dorefa:w2a2g2", "pact:w4a4", "lsq:w4a4"} {
		if _, err := placement.New(quant.MustParseConfig(text)); err != nil {
			t.Errorf("%s: %v", text, err)
		}
	}
	_, err := placement.New(quant.Config{Method: "int8", WBits: 8, ABits: 8, GBits: 32})
	if err == nil || !strings.Contains(err.Error(), `method "int8" has no placement policy`) {
		t.Errorf("a method without a policy: %v", err)
	}
}
