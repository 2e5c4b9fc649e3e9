package prune

import (
	"context"
	"iter"
	"math"
	"math/rand/v2"
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
	gomlxtrain "github.com/gomlx/gomlx/ml/train"
	"github.com/mlsysrep/mlsysrep/pkg/backend"
	"github.com/mlsysrep/mlsysrep/pkg/nn"
	"github.com/mlsysrep/mlsysrep/pkg/train"
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

// toyData is a deterministic dataset of learnable 8x8 images, 4 classes.
type toyData struct{ n, batch, epoch int }

func (d *toyData) Name() string    { return "toy" }
func (d *toyData) SetEpoch(e int)  { d.epoch = e }
func (d *toyData) NumBatches() int { return d.n / d.batch }
func (d *toyData) Iter() iter.Seq2[gomlxtrain.Batch, error] {
	epoch := d.epoch
	d.epoch++
	return func(yield func(gomlxtrain.Batch, error) bool) {
		perm := rand.New(rand.NewPCG(1, uint64(epoch))).Perm(d.n)
		for b := range d.NumBatches() {
			px := make([]float32, d.batch*8*8*3)
			labels := make([]int32, d.batch)
			for i := range d.batch {
				k := perm[b*d.batch+i]
				labels[i] = int32(k % 4)
				rng := rand.New(rand.NewPCG(7, uint64(k)))
				for j := range 8 * 8 * 3 {
					px[i*192+j] = float32(rng.NormFloat64()) + float32(labels[i])*float32(j%3)
				}
			}
			if !yield(gomlxtrain.Batch{Inputs: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(px, d.batch, 8, 8, 3)},
				Labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(labels, d.batch, 1)}}, nil) {
				return
			}
		}
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

func values(t *testing.T, v *model.Variable) []float32 {
	t.Helper()
	d, err := floats(v)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestPrunedWeightsStayZero trains the toy model with SGD (momentum 0.9,
// weight decay 5e-4) while a gradual schedule prunes it, then checks that
// every pruned weight and its velocity are exactly zero, that the masks
// only grew, and that the final sparsity is the schedule's.
func TestPrunedWeightsStayZero(t *testing.T) {
	for _, global := range []bool{false, true} {
		store := model.NewStore()
		store.SetRNGStateFromSeed(3)
		be := testBackend(t)
		if err := Materialize(be, store, toyModel, shapes.Make(dtypes.Float32, 1, 8, 8, 3)); err != nil {
			t.Fatal(err)
		}
		s := Schedule{Initial: 0.2, Final: 0.75, Begin: 2, End: 10, Every: 4} // updates before steps 2, 6 and 10
		var updates []int
		var last Stats
		prev := map[string][]float32{}
		hook, err := Hook(store, s, global, func(step int, st Stats) {
			updates = append(updates, step)
			last = st
			layers, _ := Layers(store)
			for _, l := range layers {
				m := values(t, l.Mask)
				for i, k := range prev[l.Scope] {
					if k == 0 && m[i] != 0 {
						t.Errorf("step %d: %s weight %d came back after being pruned", step, l.Scope, i)
					}
				}
				prev[l.Scope] = m
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = train.Run(context.Background(), train.Config{Backend: be, Store: store, Model: toyModel,
			Train: &toyData{n: 32, batch: 8}, Eval: &toyData{n: 16, batch: 8}, Epochs: 4,
			Optimizer: train.SGD{Momentum: 0.9, WeightDecay: 5e-4}, Schedule: train.MultiStep{Base: 0.1},
			BeforeStep: hook})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(updates, []int{2, 6, 10}) {
			t.Errorf("global=%v: masks updated before steps %v, want [2 6 10]", global, updates)
		}
		if got := last.Sparsity(); math.Abs(got-0.75) > 0.01 {
			t.Errorf("global=%v: final sparsity %.4f, want 0.75\n%s", global, got, last)
		}
		layers, err := Layers(store)
		if err != nil || len(layers) != 2 {
			t.Fatalf("global=%v: %d masked layers (%v), want conv2 and fc", global, len(layers), err)
		}
		for _, l := range layers {
			w, m := values(t, l.Weights), values(t, l.Mask)
			vel := velocity(t, store, l.Weights)
			pruned, moved := 0, 0
			for i, k := range m {
				if k != 0 {
					continue
				}
				pruned++
				if w[i] != 0 || vel[i] != 0 {
					t.Fatalf("global=%v: %s weight %d is pruned but is %g (velocity %g) after training", global, l.Scope, i, w[i], vel[i])
				}
			}
			for i, k := range m {
				if k != 0 && w[i] != 0 {
					moved++
				}
			}
			if pruned == 0 || moved == 0 {
				t.Errorf("global=%v: %s has %d pruned and %d live weights", global, l.Scope, pruned, moved)
			}
		}
	}
}

// velocity is the SGD velocity of v.
func velocity(t *testing.T, store *model.Store, v *model.Variable) []float32 {
	t.Helper()
	vel := train.Velocity(store, v)
	if vel == nil {
		t.Fatalf("no velocity for %s", v.Path())
	}
	return values(t, vel)
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
	if _, err := Hook(store, Schedule{Final: 0.5}, false, nil); err == nil {
		t.Error("a schedule with Every 0 accepted")
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
