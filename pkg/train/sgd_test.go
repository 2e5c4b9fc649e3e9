package train

import (
	"math"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/pkg/nn"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
)

// decayModel has one trainable variable of each kind the reference decays
// (PROTOCOL section 5: all trainable parameters, BN scales and offsets, PACT
// alphas and LSQ steps included), built by the layers the models use, and
// returns a loss that depends on all of them.
func decayModel(scope *model.Scope, x *graph.Node) *graph.Node {
	y := nn.Dense(scope.In("fc"), x, 4, nil)
	y = nn.BatchNorm(scope.In("bn"), y).Done()
	y = quant.PACTLayer(scope.In("pact"), y).Bits(4).Lambda(0).Done()
	y = quant.LSQLayer(scope.In("lsq"), y).Bits(4).Done()
	return graph.ReduceAllSum(graph.Mul(y, graph.Iota(x.Graph(), y.Shape(), 0)))
}

// TestWeightDecayReachesEveryTrainableVariable: from the same weights and
// batch, one SGD step with weight decay wd and one without differ, for
// every trainable variable, by exactly -lr * wd * w (PyTorch's coupled decay:
// the gradients are the same, the decay term is added). The variables
// include a PACT alpha, an LSQ step and BN's scale and offset, which a
// decay limited by name or by rank (matrices only, as some recipes do)
// would leave out.
func TestWeightDecayReachesEveryTrainableVariable(t *testing.T) {
	const lr, wd = 0.5, 0.2
	x := tensors.FromFlatDataAndDimensions([]float32{
		0.3, -1, 2, 0.5, 1, 0.2, -0.4, 3, -2, 0.7, 1.5, 0.1, 0.9, -0.3, 0.6, 2.2}, 4, 4)
	step := func(opt SGD) func(scope *model.Scope, x *graph.Node) *graph.Node {
		return func(scope *model.Scope, x *graph.Node) *graph.Node {
			scope.SetTraining(x.Graph(), true)
			loss := decayModel(scope, x)
			opt.UpdateGraph(scope, x.Graph(), loss)
			return loss
		}
	}
	call := func(store *model.Store, opt SGD, lr float64) {
		t.Helper()
		exec, err := model.NewExec(backend(t), store, step(opt))
		if err != nil {
			t.Fatal(err)
		}
		if err := SetLearningRate(store, lr); err != nil {
			t.Fatal(err)
		}
		if _, err := exec.Call(x); err != nil {
			t.Fatal(err)
		}
	}
	a := model.NewStore()
	if err := a.SetRNGStateFromSeed(1); err != nil {
		t.Fatal(err)
	}
	// A step at learning rate 0 creates the variables (and sets LSQ's step
	// from the data) without changing them.
	call(a, SGD{}, 0)
	// Then every trainable variable gets a nonzero value (BN's offset starts
	// at 0, where decay does nothing), distinct per variable.
	start := map[string][]float32{}
	var paths []string
	k := 0
	for v := range a.IterVariables() {
		if !v.Trainable {
			continue
		}
		if v.Shape().DType != dtypes.Float32 {
			t.Fatalf("trainable variable %s is %s", v.Path(), v.Shape())
		}
		k++
		vals := make([]float32, v.Shape().Size())
		for i := range vals {
			vals[i] = 0.5 + 0.25*float32(k) + 0.01*float32(i)
		}
		tv := tensors.FromFlatDataAndDimensions(vals, v.Shape().Dimensions...)
		if err := v.SetValue(tv); err != nil {
			t.Fatal(err)
		}
		start[v.Path()], paths = vals, append(paths, v.Path())
	}
	for _, want := range []string{"/fc/weights", "/fc/biases", "/bn/scale", "/bn/offset", "/pact/alpha", "/lsq/step"} {
		found := false
		for _, p := range paths {
			found = found || strings.HasSuffix(p, want)
		}
		if !found {
			t.Fatalf("no trainable variable %s among %v: the test no longer covers it", want, paths)
		}
	}
	b, err := a.Clone()
	if err != nil {
		t.Fatal(err)
	}
	call(a, SGD{Momentum: 0.9, WeightDecay: wd}, lr)
	call(b, SGD{Momentum: 0.9}, lr)
	for _, p := range paths {
		va, err := a.GetVariable(p).Value()
		if err != nil {
			t.Fatal(err)
		}
		vb, err := b.GetVariable(p).Value()
		if err != nil {
			t.Fatal(err)
		}
		wa, wb := tensors.MustCopyFlatData[float32](va), tensors.MustCopyFlatData[float32](vb)
		for i, w0 := range start[p] {
			got, want := float64(wa[i])-float64(wb[i]), -lr*wd*float64(w0)
			if math.Abs(got-want) > 1e-5*(1+math.Abs(float64(wb[i]))) {
				t.Errorf("%s[%d]: the step with decay moved it by %g more than without, want -lr*wd*w = %g", p, i, got, want)
				break
			}
		}
	}
}
