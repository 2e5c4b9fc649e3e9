package purego

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// bnByHand is batch normalization written with primitive graph ops, with the
// gradient flowing through the batch statistics (as in PyTorch and XLA).
func bnByHand(x, scale, offset *graph.Node, eps float64, featureAxis int) (y, mean, variance *graph.Node) {
	var axes []int
	for a := range x.Rank() {
		if a != featureAxis {
			axes = append(axes, a)
		}
	}
	meanKeep := graph.ReduceAndKeep(x, graph.ReduceMean, axes...)
	centered := graph.Sub(x, meanKeep)
	varKeep := graph.ReduceAndKeep(graph.Square(centered), graph.ReduceMean, axes...)
	bcast := func(v *graph.Node) *graph.Node {
		dims := make([]int, x.Rank())
		for i := range dims {
			dims[i] = 1
		}
		dims[featureAxis] = x.Shape().Dimensions[featureAxis]
		return graph.Reshape(v, dims...)
	}
	y = graph.Div(centered, graph.Sqrt(graph.AddScalar(varKeep, eps)))
	y = graph.Add(graph.Mul(y, bcast(scale)), bcast(offset))
	return y, graph.Reshape(meanKeep, -1), graph.Reshape(varKeep, -1)
}

func TestBatchNormOps(t *testing.T) {
	backend, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	const eps = 1e-3
	for _, tc := range []struct {
		name        string
		dims        []int
		featureAxis int
	}{
		{"NHWC", []int{4, 3, 5, 6}, 3},
		{"NCHW", []int{3, 6, 4, 2}, 1},
		{"dense", []int{7, 5}, 1},
		{"batch1", []int{1, 3, 3, 4}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			c := tc.dims[tc.featureAxis]
			x := randomTensor(rng, tc.dims...)
			scale, offset := randomTensor(rng, c), randomTensor(rng, c)
			movingMean, movingVar := randomTensor(rng, c), randomTensor(rng, c)
			// Variance must be positive.
			tensors.MustMutableFlatData(movingVar, func(flat []float32) {
				for i := range flat {
					flat[i] = flat[i]*flat[i] + 0.1
				}
			})
			build := func(useOps bool) *graph.Exec {
				exec, err := graph.NewExec(backend, func(x, scale, offset, mm, mv *graph.Node) []*graph.Node {
					var y, mean, variance, inf *graph.Node
					if useOps {
						y, mean, variance = graph.InternalBatchNormForTraining(x, scale, offset, eps, tc.featureAxis)
						inf = graph.InternalBatchNormForInference(x, scale, offset, mm, mv, eps, tc.featureAxis)
					} else {
						y, mean, variance = bnByHand(x, scale, offset, eps, tc.featureAxis)
						bcast := func(v *graph.Node) *graph.Node {
							return graph.BroadcastToShape(graph.Reshape(v, shapeWithFeature(x, tc.featureAxis)...), x.Shape())
						}
						inf = graph.Add(graph.Mul(graph.Div(graph.Sub(x, bcast(mm)), graph.Sqrt(graph.AddScalar(bcast(mv), eps))), bcast(scale)), bcast(offset))
					}
					v := graph.Sin(graph.Iota(x.Graph(), y.Shape(), 0))
					v = graph.Add(v, graph.Cos(graph.Iota(x.Graph(), y.Shape(), tc.featureAxis)))
					grads := graph.Gradient(graph.ReduceAllSum(graph.Mul(y, v)), x, scale, offset)
					return append([]*graph.Node{y, mean, variance, inf}, grads...)
				})
				if err != nil {
					t.Fatal(err)
				}
				return exec
			}
			got, err := build(true).Call(x, scale, offset, movingMean, movingVar)
			if err != nil {
				t.Fatal(err)
			}
			want, err := build(false).Call(x, scale, offset, movingMean, movingVar)
			if err != nil {
				t.Fatal(err)
			}
			for i, what := range []string{"normalized", "batch mean", "batch variance", "inference", "grad x", "grad scale", "grad offset"} {
				if err := closeEnough(tensors.MustCopyFlatData[float32](got[i]), tensors.MustCopyFlatData[float32](want[i]), 1e-4); err != nil {
					t.Errorf("%s: %v", what, err)
				}
			}
		})
	}
}

func shapeWithFeature(x *graph.Node, featureAxis int) []int {
	dims := make([]int, x.Rank())
	for i := range dims {
		dims[i] = 1
	}
	dims[featureAxis] = x.Shape().Dimensions[featureAxis]
	return dims
}

// TestCapabilities checks the engine advertises the ops it adds.
func TestCapabilities(t *testing.T) {
	backend, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	caps := backend.Capabilities()
	for _, op := range []compute.OpType{compute.OpTypeBatchNormForTraining, compute.OpTypeBatchNormForInference,
		compute.OpTypeBatchNormGradient, compute.OpTypeConvGeneral} {
		if !caps.Operations[op] {
			t.Errorf("capability %s missing", op)
		}
	}
	if backend.Name() != BackendName {
		t.Errorf("Name() = %q", backend.Name())
	}
}
