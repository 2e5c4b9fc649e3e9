package prune

import (
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/pkg/backend"
	"github.com/mlsysrep/mlsysrep/pkg/nn"
)

var engine = sync.OnceValues(backend.TestEngine)

func testBackend(t *testing.T) compute.Backend {
	t.Helper()
	b, err := engine()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSchedule checks Zhu & Gupta's cubic ramp at hand-computed steps.
func TestSchedule(t *testing.T) {
	s := Schedule{Initial: 0.1, Final: 0.9, Begin: 100, End: 500, Every: 50}
	for _, c := range []struct {
		step int
		want float64
		due  bool
	}{
		{0, 0, false},
		{99, 0, false},
		{100, 0.1, true}, // the ramp starts at Initial
		{150, 0.9 - 0.8*math.Pow(1-50.0/400, 3), true},   // 0.9 - 0.8 * 0.875^3 = 0.364063
		{300, 0.9 - 0.8*0.125, true},                     // half way: 0.8 of the way there... 0.8
		{320, 0.9 - 0.8*math.Pow(1-220.0/400, 3), false}, // not an update step
		{500, 0.9, true},                                 // End is always an update
		{550, 0.9, false},
	} {
		if got := s.Sparsity(c.step); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("sparsity at step %d = %.6f, want %.6f", c.step, got, c.want)
		}
		if got := s.Due(c.step); got != c.due {
			t.Errorf("due at step %d = %v, want %v", c.step, got, c.due)
		}
	}
	if math.Abs(s.Sparsity(300)-0.8) > 1e-12 {
		t.Errorf("half way: %g, want 0.8 (0.9 - 0.8 / 8)", s.Sparsity(300))
	}
	one := OneShot(0.7, 0)
	if !one.Due(0) || one.Due(1) || one.Sparsity(0) != 0.7 || one.Sparsity(1000) != 0.7 {
		t.Errorf("one shot: due %v %v, sparsity %g %g", one.Due(0), one.Due(1), one.Sparsity(0), one.Sparsity(1000))
	}
	for _, bad := range []Schedule{{Initial: 0.5, Final: 0.4, Every: 1}, {Final: 1, Every: 1}, {Final: 0.5, Begin: 5, End: 4, Every: 1},
		{Final: 0.5}, {Initial: -0.1, Final: 0.5, Every: 1}} {
		if bad.Validate() == nil {
			t.Errorf("%+v is accepted", bad)
		}
	}
}

// TestMagnitudeMasks: per layer, every layer loses half its weights; with
// one global threshold the small layer loses all of its, and the big one
// one weight. Ties go to the earlier layer and index.
func TestMagnitudeMasks(t *testing.T) {
	layers := [][]float32{{0.1, -0.2, 0.3, -0.4}, {1, -2, 3, -4, 5, 6}}
	for _, c := range []struct {
		name     string
		sparsity float64
		global   bool
		want     [][]float32
	}{
		{"per layer", 0.5, false, [][]float32{{0, 0, 1, 1}, {0, 0, 0, 1, 1, 1}}},
		{"global", 0.5, true, [][]float32{{0, 0, 0, 0}, {0, 1, 1, 1, 1, 1}}},
		{"per layer, rounded down", 0.3, false, [][]float32{{0, 1, 1, 1}, {0, 1, 1, 1, 1, 1}}}, // 1.2 -> 1, 1.8 -> 1
		{"global 0.3", 0.3, true, [][]float32{{0, 0, 0, 1}, {1, 1, 1, 1, 1, 1}}},
		{"none", 0, true, [][]float32{{1, 1, 1, 1}, {1, 1, 1, 1, 1, 1}}},
	} {
		got := MagnitudeMasks(layers, c.sparsity, c.global)
		for i := range got {
			if !slices.Equal(got[i], c.want[i]) {
				t.Errorf("%s: layer %d mask %v, want %v", c.name, i, got[i], c.want[i])
			}
		}
	}
	ties := MagnitudeMasks([][]float32{{2, -1, 1}, {1, 1}}, 0.6, true) // five weights, three pruned: the four 1s by order
	if want := [][]float32{{1, 0, 0}, {0, 1}}; !slices.Equal(ties[0], want[0]) || !slices.Equal(ties[1], want[1]) {
		t.Errorf("ties: %v, want %v", ties, want)
	}
}

// toyModel masks its second conv and its FC; the first conv is not pruned.
func toyModel(scope *model.Scope, x *graph.Node) *graph.Node {
	x = nn.Conv(scope.In("conv1"), x).Channels(8).KernelSize(3).Done()
	x = graph.Max(x, graph.ZerosLike(x))
	x = nn.Conv(scope.In("conv2"), x).Channels(8).KernelSize(3).Stride(2).Quantize(Mask).Done()
	x = nn.BatchNorm(scope.In("bn"), x).Done()
	x = graph.Max(x, graph.ZerosLike(x))
	return nn.Dense(scope.In("fc"), graph.ReduceMean(x, 1, 2), 4, Mask)
}

// TestUpdateErrors checks Update's refusals.
func TestUpdateErrors(t *testing.T) {
	empty := model.NewStore()
	if _, err := Update(empty, 0.5, true); err == nil || !strings.Contains(err.Error(), "no masked layer") {
		t.Errorf("a store without masks: %v", err)
	}
	store := model.NewStore()
	store.SetRNGStateFromSeed(1)
	if err := Materialize(testBackend(t), store, toyModel, shapes.Make(dtypes.Float32, 1, 8, 8, 3)); err != nil {
		t.Fatal(err)
	}
	for _, s := range []float64{-0.1, 1, math.NaN()} {
		if _, err := Update(store, s, false); err == nil {
			t.Errorf("sparsity %g accepted", s)
		}
	}
	if st, err := Update(store, 0.5, true); err != nil || len(st) != 2 || st.Sparsity() != 0.5 {
		t.Errorf("pruning the toy model by half: %v, %v", err, st)
	}
}

// TestThenMasksBeforeQuantizing: the quantizer sees the masked weights.
func TestThenMasksBeforeQuantizing(t *testing.T) {
	var seen *graph.Node
	q := func(scope *model.Scope, w *graph.Node) *graph.Node { seen = w; return w }
	store := model.NewStore()
	exec, err := model.NewExec(testBackend(t), store, func(scope *model.Scope, x *graph.Node) *graph.Node {
		return nn.Dense(scope.In("fc"), x, 2, Then(q))
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.Call(tensors.FromFlatDataAndDimensions([]float32{1, 2, 3}, 1, 3)); err != nil {
		t.Fatal(err)
	}
	if seen == nil || seen.Type().String() != "Mul" {
		t.Errorf("the quantizer got %v, want the masked weights (a Mul)", seen)
	}
}

// TestFilterHelpers checks the filter-pruning pieces on hand-made tensors.
func TestFilterHelpers(t *testing.T) {
	// A [1, 2, 3] kernel (two positions, three filters): filter f's values
	// are at f, 3+f.
	k := tensors.FromFlatDataAndDimensions([]float32{1, -2, 0.5, -1, 2, 0.5}, 1, 2, 3)
	norms, err := FilterNorms(k)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(norms, []float64{2, 4, 1}) {
		t.Errorf("norms %v, want [2 4 1]", norms)
	}
	if got := KeepFilters(norms, 2); !slices.Equal(got, []int{0, 1}) {
		t.Errorf("keep 2 of %v: %v, want [0 1]", norms, got)
	}
	if got := KeepFilters([]float64{3, 1, 3, 3}, 2); !slices.Equal(got, []int{0, 2}) {
		t.Errorf("ties: %v, want the lower indices [0 2]", got)
	}
	for _, c := range [][3]float64{{8, 0.5, 4}, {8, 0.25, 6}, {5, 0.5, 3}, {1, 0.9, 1}, {3, 0, 3}} {
		if got := FiltersToKeep(int(c[0]), c[1]); got != int(c[2]) {
			t.Errorf("FiltersToKeep(%g, %g) = %d, want %g", c[0], c[1], got, c[2])
		}
	}
	sel, err := SelectAxis(k, 2, []int{2, 0})
	if err != nil {
		t.Fatal(err)
	}
	if got := tensors.MustCopyFlatData[float32](sel); !slices.Equal(got, []float32{0.5, 1, 0.5, -1}) || !slices.Equal(sel.Shape().Dimensions, []int{1, 2, 2}) {
		t.Errorf("select filters 2, 0: %v %v", sel.Shape(), got)
	}
	sel, err = SelectAxis(k, 1, []int{1})
	if err != nil {
		t.Fatal(err)
	}
	if got := tensors.MustCopyFlatData[float32](sel); !slices.Equal(got, []float32{-1, 2, 0.5}) {
		t.Errorf("select position 1: %v", got)
	}
	if _, err := SelectAxis(k, 2, []int{3}); err == nil {
		t.Error("an index past the axis accepted")
	}
	s := NewSurgery(map[string]*tensors.Tensor{"/l/weights": k, "/l/prune_mask": k, "/optimizers/sgd/velocity/x": k})
	s.Keep("/l/weights", 2, []int{1})
	s.Keep("/missing", 0, nil)
	if s.Err() == nil || !strings.Contains(s.Err().Error(), "no variable /missing") {
		t.Errorf("a missing variable: %v", s.Err())
	}
	if _, ok := s.Values["/optimizers/sgd/velocity/x"]; ok {
		t.Error("the surgery kept the optimizer state of the dense network")
	}
	if m := s.Values["/l/prune_mask"]; !slices.Equal(m.Shape().Dimensions, []int{1, 2, 1}) {
		t.Errorf("the mask was not cut with its weights: %v", m.Shape())
	}
}

// TestAccount checks the per-layer accounting of the toy model on an 8x8
// image against hand counts: conv1 3x3 3->8 (216 weights, 8*8*8*27 = 13824
// multiply-adds), conv2 3x3 8->8 stride 2 (576, 4*4*8*72 = 9216), fc 8->4
// (32 + 4 biases, 32); half of conv2's and fc's weights pruned.
func TestAccount(t *testing.T) {
	store := model.NewStore()
	store.SetRNGStateFromSeed(2)
	in := shapes.Make(dtypes.Float32, 1, 8, 8, 3)
	if err := Materialize(testBackend(t), store, toyModel, in); err != nil {
		t.Fatal(err)
	}
	if _, err := Update(store, 0.5, false); err != nil {
		t.Fatal(err)
	}
	st, err := Count(store)
	if err != nil {
		t.Fatal(err)
	}
	s, err := nn.Summarize(testBackend(t), in, toyModel)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Account(s, st)
	if err != nil {
		t.Fatal(err)
	}
	want := []AccountRow{
		{Scope: "/conv1", Kind: "conv", Params: 216, Nonzero: 216, MACs: 13824, LiveMACs: 13824},
		{Scope: "/conv2", Kind: "conv", Params: 576, Nonzero: 288, MACs: 9216, LiveMACs: 4608, Sparsity: 0.5},
		{Scope: "/fc", Kind: "dense", Params: 36, Nonzero: 20, MACs: 32, LiveMACs: 16, Sparsity: 0.5},
	}
	if len(a.Rows) != len(want) {
		t.Fatalf("%d rows, want %d:\n%s", len(a.Rows), len(want), a)
	}
	for i, w := range want {
		g := a.Rows[i]
		g.Detail = ""
		if g != w {
			t.Errorf("row %d: %+v, want %+v", i, g, w)
		}
	}
	if p, nz, m, lm := a.Totals(); p != 828 || nz != 524 || m != 23072 || lm != 18448 {
		t.Errorf("totals %d %d %.0f %.0f, want 828 524 23072 18448", p, nz, m, lm)
	}
	other, err := nn.Summarize(testBackend(t), in, func(scope *model.Scope, x *graph.Node) *graph.Node {
		return nn.Dense(scope.In("head"), graph.Reshape(x, 1, -1), 2, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Account(other, st); err == nil {
		t.Error("masks of another network accepted")
	}
}

// TestCountsFloor: 0.29 of 100 weights is 29, though 0.29 * 100 is
// 28.999... in float64.
func TestCountsFloor(t *testing.T) {
	w := make([]float32, 100)
	for i := range w {
		w[i] = float32(i + 1)
	}
	zero := 0
	for _, k := range MagnitudeMasks([][]float32{w}, 0.29, false)[0] {
		if k == 0 {
			zero++
		}
	}
	if zero != 29 {
		t.Errorf("0.29 of 100 weights: %d pruned, want 29", zero)
	}
	if got := FiltersToKeep(100, 0.29); got != 71 {
		t.Errorf("FiltersToKeep(100, 0.29) = %d, want 71", got)
	}
}
