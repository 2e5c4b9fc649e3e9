package purego

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/layers/norm"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"
)

// smallCNN uses every layer kind the project's networks need, with the stock
// batch-norm layer at its defaults (which calls the backend's BN ops).
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

// syntheticBatch is a fixed batch of random images whose label is a function
// of the image, so the network can fit it.
func syntheticBatch(batch, size, channels, classes int) (*tensors.Tensor, *tensors.Tensor) {
	rng := rand.New(rand.NewPCG(5, 6))
	images := make([]float32, batch*size*size*channels)
	labels := make([]int32, batch)
	for b := range batch {
		labels[b] = int32(b % classes)
		for i := range size * size * channels {
			// A class-dependent bright quadrant plus noise.
			v := float32(rng.NormFloat64()) * 0.5
			pixel := i / channels
			row, col := pixel/size, pixel%size
			if (row < size/2) == (labels[b]&1 == 0) && (col < size/2) == (labels[b]&2 == 0) {
				v += 1
			}
			images[b*size*size*channels+i] = v
		}
	}
	return tensors.FromFlatDataAndDimensions(images, batch, size, size, channels),
		tensors.FromFlatDataAndDimensions(labels, batch, 1)
}

func trainLosses(t *testing.T, backend compute.Backend, steps int) []float64 {
	t.Helper()
	store := model.NewStore()
	store.RootScope().SetParam(optimizer.ParamLearningRate, 0.5)
	trainer := train.NewTrainer(backend, store, smallCNN, loss.SparseCategoricalCrossEntropyLogits,
		optimizer.StochasticGradientDescent(), nil, nil)
	var losses []float64
	for range steps {
		images, labels := syntheticBatch(16, 12, 3, 4)
		metrics, err := trainer.TrainStep(train.Batch{Inputs: []*tensors.Tensor{images}, Labels: []*tensors.Tensor{labels}})
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, float64(metrics[0].Value().(float32)))
	}
	return losses
}

// TestSmallCNNTrains trains on one fixed batch with the engine and asserts the
// loss falls well below its starting value.
func TestSmallCNNTrains(t *testing.T) {
	backend, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	losses := trainLosses(t, backend, 40)
	first, last := losses[0], losses[len(losses)-1]
	t.Logf("loss %.4f -> %.4f", first, last)
	if !(last < 0.5*first) {
		t.Errorf("loss did not fall: first %.4f, last %.4f (all: %v)", first, last, losses)
	}
}
