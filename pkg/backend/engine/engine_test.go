package engine

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/layers/norm"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/mlsysrep/mlsysrep/pkg/backend/engine/internal/opsgen"
	"github.com/mlsysrep/mlsysrep/pkg/backend/purego"
)

func TestGeneratedOpsUpToDate(t *testing.T) {
	want, err := opsgen.Generate()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("ops_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("ops_gen.go is stale: run `go generate ./pkg/backend/engine/`")
	}
}

// smallCNN uses every layer kind the project's networks need.
func smallCNN(scope *model.Scope, x *graph.Node) *graph.Node {
	x = layers.Convolution(scope.In("conv1"), x).Channels(8).KernelSize(3).PadSame().Done()
	x = norm.BatchNorm(scope.In("bn1"), x, -1).Done()
	x = activation.Relu(x)
	x = graph.MaxPool(x).Window(2).Done()
	x = layers.Convolution(scope.In("conv2"), x).Channels(8).KernelSize(3).Strides(2).PadSame().Done()
	x = norm.BatchNorm(scope.In("bn2"), x, -1).Done()
	x = activation.Relu(x)
	x = graph.MeanPool(x).Window(2).Done()
	x = graph.Reshape(x, x.Shape().Dim(0), -1)
	return layers.DenseWithBias(scope.In("fc"), x, 4)
}

func syntheticBatch(seed uint64, batch, size, channels, classes int) (*tensors.Tensor, *tensors.Tensor) {
	rng := rand.New(rand.NewPCG(seed, 6))
	images := make([]float32, batch*size*size*channels)
	labels := make([]int32, batch)
	for b := range batch {
		labels[b] = int32(rng.IntN(classes))
	}
	for i := range images {
		images[i] = float32(rng.NormFloat64()) + float32(labels[i/(size*size*channels)])*0.3
	}
	return tensors.FromFlatDataAndDimensions(images, batch, size, size, channels),
		tensors.FromFlatDataAndDimensions(labels, batch, 1)
}

// trainLosses runs a few SGD steps of smallCNN (the variables are donated
// state) and returns the losses and the final weights of the first
// convolution.
func trainLosses(t *testing.T, backend compute.Backend, steps int) ([]float32, []float32) {
	t.Helper()
	losses, store := trainModel(t, backend, smallCNN, steps)
	var weights []float32
	for v := range store.IterVariables() {
		if strings.Contains(v.Path(), "conv1") && strings.HasSuffix(v.Path(), "weights") {
			weights = tensors.MustCopyFlatData[float32](v.MustValue())
		}
	}
	if weights == nil {
		t.Fatal("no conv1 weights found")
	}
	return losses, weights
}

// trainModel runs a few SGD steps of a model on synthetic batches and returns
// the losses and the store of its variables.
func trainModel(t *testing.T, backend compute.Backend, modelFn func(*model.Scope, *graph.Node) *graph.Node,
	steps int) ([]float32, *model.Store) {
	t.Helper()
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(11); err != nil {
		t.Fatal(err)
	}
	store.RootScope().SetParam(optimizer.ParamLearningRate, 0.1)
	trainer := train.NewTrainer(backend, store, modelFn, loss.SparseCategoricalCrossEntropyLogits,
		optimizer.StochasticGradientDescent(), nil, nil)
	var losses []float32
	for i := range steps {
		images, labels := syntheticBatch(uint64(i), 8, 8, 3, 4)
		metrics, err := trainer.TrainStep(train.Batch{Inputs: []*tensors.Tensor{images}, Labels: []*tensors.Tensor{labels}})
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, metrics[0].Value().(float32))
	}
	return losses, store
}

func mustNew(t testing.TB, config string) *Backend {
	t.Helper()
	b, err := New(config)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPlansTrainLikeV1 trains the same network on the v1 engine and on
// engine v2 under each kind of plan; stock ops are the same ops on the same
// data, so losses and weights must agree bit for bit.
func TestPlansTrainLikeV1(t *testing.T) {
	v1, err := purego.New("")
	if err != nil {
		t.Fatal(err)
	}
	wantLoss, wantW := trainLosses(t, v1, 4)
	for _, tc := range []struct {
		name    string
		config  string
		profile string
		add     bool // native Add kernel (a test kernel): splits the graph at every Add
	}{
		{name: "whole graph", config: "nonative"},
		{name: "one segment per op", config: "nonative", profile: "3"},
		{name: "native Add", add: true},
		{name: "native Add, profiled by shape", add: true, profile: "3:shapes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(ProfileEnvVar, tc.profile)
			// This test wants the stock ops' exact results: no production kernel.
			only := map[string]func(*builder, *node) kernel{}
			if tc.add {
				only["Add"] = addKernelFor
				addRuns = 0
			}
			withOnlyNatives(t, only)
			var profile bytes.Buffer
			profileOut = &profile
			defer func() { profileOut = os.Stderr }()
			gotLoss, gotW := trainLosses(t, mustNew(t, tc.config), 4)
			for i := range wantLoss {
				if gotLoss[i] != wantLoss[i] {
					t.Fatalf("loss[%d] = %v, v1 %v (all %v vs %v)", i, gotLoss[i], wantLoss[i], gotLoss, wantLoss)
				}
			}
			for i := range wantW {
				if gotW[i] != wantW[i] {
					t.Fatalf("conv1 weight[%d] = %v, v1 %v", i, gotW[i], wantW[i])
				}
			}
			if tc.add && addRuns == 0 {
				t.Error("the native Add kernel never ran")
			}
			switch {
			case strings.HasSuffix(tc.profile, ":shapes"):
				// One row per native op and input shapes; stock ops as segments.
				out := profile.String()
				if !strings.Contains(out, "execution 3") || !strings.Contains(out, "Add (native) (Float32)[") ||
					!strings.Contains(out, "stock segment") {
					t.Errorf("profile by shape missing or incomplete:\n%s", out)
				}
			case tc.profile != "":
				out := profile.String()
				if !strings.Contains(out, "execution 3") || !strings.Contains(out, "ConvGeneral") {
					t.Errorf("profile table missing or incomplete:\n%s", out)
				}
			case profile.Len() > 0:
				t.Errorf("profile printed while off:\n%s", profile.String())
			}
		})
	}
}

// clearKernelSwitches unsets OffEnvVar and names every experimental kernel
// in ExperimentalEnvVar for one test, so that it runs every native kernel
// whatever the environment says.
func clearKernelSwitches(t *testing.T) {
	t.Setenv(OffEnvVar, "")
	var all []string
	for op := range experimental {
		all = append(all, op)
	}
	t.Setenv(ExperimentalEnvVar, strings.Join(all, ","))
}

// withOnlyNatives replaces the native kernels for one test.
func withOnlyNatives(t *testing.T, only map[string]func(*builder, *node) kernel) {
	saved := natives
	natives = only
	t.Cleanup(func() { natives = saved })
}

// addKernel is a test kernel: float32 Add of two same-shape tensors.
type addKernel struct{}

var addRuns int

func addKernelFor(b *builder, n *node) kernel {
	x, y := b.slots[n.inputs[0]].shape, b.slots[n.inputs[1]].shape
	if x.DType != dtypes.Float32 || !x.Equal(y) {
		return nil
	}
	return addKernel{}
}

func (addKernel) run(b *Backend, in []compute.Buffer) ([]compute.Buffer, error) {
	addRuns++
	shape, err := in[0].Shape()
	if err != nil {
		return nil, err
	}
	out, flat, err := b.pool.getAny(b, shape) // as the production kernels
	if err != nil {
		return nil, err
	}
	x, _ := in[0].Data()
	y, _ := in[1].Data()
	o := flat.([]float32)
	for i, xv := range x.([]float32) {
		o[i] = xv + y.([]float32)[i]
	}
	return []compute.Buffer{out}, nil
}

// TestNativeTrainsLikeV1 trains with the native kernels on: the loss curve
// must follow the v1 engine's within float noise (the kernels sum in another
// order), and the kernels must have run.
func TestNativeTrainsLikeV1(t *testing.T) {
	clearKernelSwitches(t)
	v1, err := purego.New("")
	if err != nil {
		t.Fatal(err)
	}
	const steps = 6
	wantLoss, wantW := trainLosses(t, v1, steps)
	convs, bns, relus := convRuns.Load(), bnRuns.Load(), reluRuns.Load()
	gotLoss, gotW := trainLosses(t, mustNew(t, ""), steps)
	if convRuns.Load() == convs || bnRuns.Load() == bns || reluRuns.Load() == relus {
		t.Fatalf("native kernels ran %d convolutions, %d batch norms, %d ReLUs", convRuns.Load()-convs,
			bnRuns.Load()-bns, reluRuns.Load()-relus)
	}
	for i := range wantLoss {
		if d := math.Abs(float64(gotLoss[i] - wantLoss[i])); d > 1e-4*math.Abs(float64(wantLoss[i])) {
			t.Errorf("loss[%d] = %v, v1 %v", i, gotLoss[i], wantLoss[i])
		}
	}
	if e := relErr(gotW, wantW); e > 1e-4 {
		t.Errorf("conv1 weights after %d steps: relative error %.3g", steps, e)
	}
}

// TestNativeRepeatable: two training runs with the native kernels give the
// same weights, bit for bit.
func TestNativeRepeatable(t *testing.T) {
	_, w1 := trainLosses(t, mustNew(t, ""), 4)
	_, w2 := trainLosses(t, mustNew(t, ""), 4)
	for i := range w1 {
		if math.Float32bits(w1[i]) != math.Float32bits(w2[i]) {
			t.Fatalf("conv1 weight[%d]: %v, then %v", i, w1[i], w2[i])
		}
	}
}
