package train

import (
	"context"
	"errors"
	"iter"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	gomlxtrain "github.com/gomlx/gomlx/ml/train"
	mlsysbackend "github.com/mlsysrep/mlsysrep/pkg/backend"
	"github.com/mlsysrep/mlsysrep/pkg/nn"
)

// engine is purego, or the engine MLSYSREP_TEST_ENGINE names.
var engine = sync.OnceValues(mlsysbackend.TestEngine)

func backend(t *testing.T) compute.Backend {
	b, err := engine()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSGDHandComputed runs two steps on loss = sum(a * w) (gradient a) and
// compares with v = mu v + g + wd w; w -= lr v.
func TestSGDHandComputed(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  SGD
	}{
		{"momentum+decay", SGD{Momentum: 0.9, WeightDecay: 0.1}},
		{"plain", SGD{}},
		{"clipped", SGD{Momentum: 0.5, ClipNorm: 1}},
	} {
		store := model.NewStore()
		lr := 0.5
		a := []float64{2, -1}
		exec, err := model.NewExec(backend(t), store, func(scope *model.Scope, x *graph.Node) *graph.Node {
			scope.SetTraining(x.Graph(), true)
			w := scope.VariableWithValue("w", []float32{1, 3}).NodeValue(x.Graph())
			loss := graph.ReduceAllSum(graph.Mul(x, w))
			tc.opt.UpdateGraph(scope, x.Graph(), loss)
			return loss
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := SetLearningRate(store, lr); err != nil {
			t.Fatal(err)
		}
		w, v := []float64{1, 3}, []float64{0, 0}
		for range 2 {
			if _, err := exec.Call([]float32{2, -1}); err != nil {
				t.Fatal(err)
			}
			g := append([]float64{}, a...)
			if tc.opt.ClipNorm > 0 {
				norm := math.Hypot(g[0], g[1])
				coef := math.Min(1, tc.opt.ClipNorm/(norm+1e-6))
				g[0], g[1] = g[0]*coef, g[1]*coef
			}
			for i := range w {
				v[i] = tc.opt.Momentum*v[i] + g[i] + tc.opt.WeightDecay*w[i]
				w[i] -= lr * v[i]
			}
		}
		got, _ := store.RootScope().GetVariable("w").Value()
		gw := tensors.MustCopyFlatData[float32](got)
		for i := range w {
			if math.Abs(float64(gw[i])-w[i]) > 1e-5 {
				t.Errorf("%s: w = %v, want %v", tc.name, gw, w)
				break
			}
		}
	}
}

func TestSchedules(t *testing.T) {
	ms := MultiStep{Base: 0.1, Milestones: []int{20, 40}, Gamma: 0.1}
	for e, want := range map[int]float64{0: 0.1, 19: 0.1, 20: 0.01, 39: 0.01, 40: 0.001} {
		if got := ms.LR(e); math.Abs(got-want) > 1e-12 {
			t.Errorf("multistep epoch %d: %g, want %g", e, got, want)
		}
	}
	cos := Cosine{Base: 0.05, Epochs: 15}
	if cos.LR(0) != 0.05 || math.Abs(cos.LR(15)) > 1e-12 || math.Abs(cos.LR(5)-0.5*0.05*(1+math.Cos(math.Pi/3))) > 1e-12 {
		t.Errorf("cosine: %g %g %g", cos.LR(0), cos.LR(5), cos.LR(15))
	}
	p := NewReduceOnPlateau(1, 0.1, 2)
	// Improves, then 3 bad epochs (> patience 2) cut the rate; the counter resets.
	for i, l := range []float64{5, 4, 4, 4.1, 4} {
		p.Observe(i, l)
	}
	if p.LR(0) != 0.1 {
		t.Errorf("plateau lr %g, want 0.1", p.LR(0))
	}
	// A change smaller than the relative threshold 1e-4 is not an improvement.
	q := NewReduceOnPlateau(1, 0.5, 0)
	q.Observe(0, 10)
	q.Observe(1, 10*(1-0.5e-4))
	if q.LR(0) != 0.5 {
		t.Errorf("threshold: lr %g, want 0.5", q.LR(0))
	}
	// State round trip.
	r := NewReduceOnPlateau(1, 0.1, 2)
	if err := r.Restore(p.State()); err != nil || r.LR(0) != 0.1 {
		t.Errorf("restore: %v %g", err, r.LR(0))
	}
}

// toyData is a deterministic shuffled dataset of learnable 8x8 images.
type toyData struct {
	n, batch int
	epoch    int
	nanAt    int  // epoch (1-based) whose data is NaN; 0: never
	fixed    bool // same order every epoch (an evaluation set)
}

func (d *toyData) Name() string    { return "toy" }
func (d *toyData) SetEpoch(e int)  { d.epoch = e }
func (d *toyData) NumBatches() int { return d.n / d.batch }
func (d *toyData) Iter() iter.Seq2[gomlxtrain.Batch, error] {
	epoch := d.epoch
	if !d.fixed {
		d.epoch++
	}
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
					px[i*192+j] = float32(rng.NormFloat64()) + float32(labels[i]%2)*float32(j%3)
					if d.nanAt == epoch+1 {
						px[i*192+j] = float32(math.NaN())
					}
				}
			}
			if !yield(gomlxtrain.Batch{Inputs: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(px, d.batch, 8, 8, 3)},
				Labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(labels, d.batch, 1)}}, nil) {
				return
			}
		}
	}
}

func toyModel(scope *model.Scope, x *graph.Node) *graph.Node {
	x = nn.Conv(scope.In("conv"), x).Channels(4).KernelSize(3).Stride(2).Done()
	x = nn.BatchNorm(scope.In("bn"), x).Done()
	x = graph.Max(x, graph.ZerosLike(x))
	return nn.Dense(scope.In("fc"), graph.ReduceMean(x, 1, 2), 4, nil)
}

func runToy(t *testing.T, epochs int, dir string, nanAt int) (*History, *model.Store, error) {
	return runToyContext(context.Background(), t, epochs, dir, &toyData{n: 32, batch: 8, nanAt: nanAt})
}

// toyKey is the checkpoint key of the toy runs.
const toyKey = "toy run, seed 5"

func runToyContext(ctx context.Context, t *testing.T, epochs int, dir string, data gomlxtrain.Dataset) (*History, *model.Store, error) {
	store := model.NewStore()
	store.SetRNGStateFromSeed(5)
	h, err := Run(ctx, Config{
		Backend: backend(t), Store: store, Model: toyModel,
		Train: data, Eval: &toyData{n: 16, batch: 8, fixed: true},
		Epochs: epochs, Optimizer: SGD{Momentum: 0.9, WeightDecay: 5e-4},
		Schedule: MultiStep{Base: 0.1, Milestones: []int{2}, Gamma: 0.1}, CheckpointDir: dir, CheckpointKey: toyKey,
	})
	return h, store, err
}

func weights(t *testing.T, store *model.Store) map[string][]float32 {
	out := map[string][]float32{}
	for v := range store.IterVariables() {
		val, err := v.Value()
		if err != nil {
			t.Fatal(err)
		}
		if val.DType().IsFloat() {
			out[v.Path()] = tensors.MustCopyFlatData[float32](val)
		}
	}
	return out
}

// TestResumeMatchesUninterrupted: 3 epochs straight vs 1 epoch, a new
// process (fresh store) resuming from the checkpoint for the other 2.
func TestResumeMatchesUninterrupted(t *testing.T) {
	full, fullStore, err := runToy(t, 3, t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, _, err := runToy(t, 1, dir, 0); err != nil {
		t.Fatal(err)
	}
	resumed, resumedStore, err := runToy(t, 3, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(resumed.Epochs) != 3 || resumed.Epochs[2].TestAccuracy != full.Epochs[2].TestAccuracy ||
		resumed.Epochs[2].TestLoss != full.Epochs[2].TestLoss {
		t.Errorf("histories differ:\nfull    %+v\nresumed %+v", full.Epochs, resumed.Epochs)
	}
	a, b := weights(t, fullStore), weights(t, resumedStore)
	for path, w := range a {
		if strings.HasPrefix(path, "/metrics/") {
			continue // GoMLX's trainer names its moving-average metric with a fresh UUID per trainer
		}
		for i := range w {
			if b[path] == nil || w[i] != b[path][i] {
				t.Fatalf("variable %s differs after resume", path)
			}
		}
	}
	if resumed.WallSeconds <= 0 || len(resumed.Epochs) != 3 {
		t.Errorf("resumed wall time %g", resumed.WallSeconds)
	}
	if full.Epochs[0].LR != 0.1 || math.Abs(full.Epochs[2].LR-0.01) > 1e-12 {
		t.Errorf("learning rates %g %g", full.Epochs[0].LR, full.Epochs[2].LR)
	}
}

func TestNaNStops(t *testing.T) {
	_, _, err := runToy(t, 3, t.TempDir(), 2)
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "epoch 2 step 1") {
		t.Fatalf("err = %v", err)
	}
}

// TestEpochRecordsCPUSteal: on Linux every epoch carries the host's CPU steal
// (a fraction), and the epoch line names it only when it is 1% or more.
func TestEpochRecordsCPUSteal(t *testing.T) {
	h, _, err := runToy(t, 1, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	s := h.Epochs[0].CPUSteal
	if (s != nil) != (runtime.GOOS == "linux") {
		t.Fatalf("steal measured = %v on %s", s != nil, runtime.GOOS)
	}
	if s != nil && (*s < 0 || *s > 1) {
		t.Errorf("steal %v outside [0, 1]", *s)
	}
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		steal *float64
		want  string
	}{
		{nil, ""},
		{f(0.004), ""},
		{f(0.01), " (host CPU steal 1%)"},
		{f(0.384), " (host CPU steal 38%)"},
	} {
		if got := stealNote(tc.steal); got != tc.want {
			t.Errorf("stealNote(%v) = %q, want %q", tc.steal, got, tc.want)
		}
	}
}

// runToyWith trains the toy model for epochs with checkpoints in dir (resuming
// from one there), its configuration changed by edit.
func runToyWith(t *testing.T, dir string, epochs int, edit func(*Config)) error {
	store := model.NewStore()
	store.SetRNGStateFromSeed(5)
	cfg := Config{
		Backend: backend(t), Store: store, Model: toyModel,
		Train: &toyData{n: 32, batch: 8}, Eval: &toyData{n: 16, batch: 8, fixed: true},
		Epochs: epochs, Optimizer: SGD{Momentum: 0.9}, Schedule: MultiStep{Base: 0.1},
		CheckpointDir: dir, CheckpointKey: toyKey,
	}
	edit(&cfg)
	_, err := Run(context.Background(), cfg)
	return err
}

// TestBeforeStepCountsAcrossResume: BeforeStep sees the run's step numbers
// over all epochs, a resumed run continuing where the checkpoint stopped,
// and its error stops the run.
func TestBeforeStepCountsAcrossResume(t *testing.T) {
	dir := t.TempDir()
	var seen []int
	run := func(epochs int, fail int) error {
		return runToyWith(t, dir, epochs, func(cfg *Config) {
			cfg.BeforeStep = func(step int) error {
				if step == fail {
					return errors.New("planted")
				}
				seen = append(seen, step)
				return nil
			}
		})
	}
	if err := run(1, -1); err != nil {
		t.Fatal(err)
	}
	if err := run(3, -1); err != nil { // resumes after epoch 1
		t.Fatal(err)
	}
	if want := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}; !slices.Equal(seen, want) {
		t.Errorf("steps seen %v, want %v", seen, want)
	}
	if err := run(4, 13); err == nil || !strings.Contains(err.Error(), "planted") || !strings.Contains(err.Error(), "epoch 4 step 2") {
		t.Errorf("a failing BeforeStep: %v", err)
	}
}

// TestSavedRunsAfterEachCheckpoint: Saved runs once per epoch, after that
// epoch's checkpoint is on disk (a copy made then resumes after it), and
// its error stops the run.
func TestSavedRunsAfterEachCheckpoint(t *testing.T) {
	dir := t.TempDir()
	var saved []int
	run := func(epochs int, saved func(int) error) error {
		return runToyWith(t, dir, epochs, func(cfg *Config) { cfg.Saved = saved })
	}
	err := run(2, func(epoch int) error {
		var state loopState
		if err := LoadCheckpoint(dir, toyKey, model.NewStore(), &state); err != nil || state.Completed != epoch {
			t.Errorf("Saved(%d): the checkpoint on disk: %v, after epoch %d", epoch, err, state.Completed)
		}
		saved = append(saved, epoch)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 2}; !slices.Equal(saved, want) {
		t.Errorf("Saved ran for epochs %v, want %v", saved, want)
	}
	if err := run(3, func(int) error { return errors.New("planted") }); err == nil || !strings.Contains(err.Error(), "planted") {
		t.Errorf("a failing Saved: %v", err)
	}
}
