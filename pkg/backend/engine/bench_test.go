package engine_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/mlsysrep/mlsysrep/pkg/backend"
)

// BenchmarkConv3x3 is the 3x3 convolution 64->64 on 32x32 images at batch 32
// (CIFAR ResNet-18's first stage), forward and forward+backward, on each
// engine named by MLSYSREP_BENCH_ENGINES (default "purego:v1,purego:v2"; add
// "go" for the Go backend's direct loop: seconds per pass).
func BenchmarkConv3x3(b *testing.B) {
	const batch, size, channels = 32, 32, 64
	flops := 2.0 * batch * size * size * channels * channels * 9 // one pass
	names, backends, err := backend.BenchEngines("purego:v1,purego:v2")
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	random := func(dims ...int) *tensors.Tensor {
		n := 1
		for _, d := range dims {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(rng.NormFloat64())
		}
		return tensors.FromFlatDataAndDimensions(data, dims...)
	}
	for i, be := range backends {
		// Tensors are bound to the backend they are first used on: one pair each.
		x, k := random(batch, size, size, channels), random(3, 3, channels, channels)
		for _, mode := range []string{"forward", "forward+backward"} {
			b.Run(fmt.Sprintf("%s/%s", names[i], mode), func(b *testing.B) {
				exec, err := graph.NewExec(be, func(x, k *graph.Node) []*graph.Node {
					y := graph.Convolve(x, k).PadSame().Done()
					if mode == "forward" {
						return []*graph.Node{y}
					}
					return graph.Gradient(graph.ReduceAllSum(graph.Mul(y, y)), x, k)
				})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := exec.Call(x, k); err != nil { // compile outside the timing
					b.Fatal(err)
				}
				passes := 1.0
				if mode != "forward" {
					passes = 3 // forward, input gradient, kernel gradient
				}
				for b.Loop() {
					outs, err := exec.Call(x, k)
					if err != nil {
						b.Fatal(err)
					}
					for _, o := range outs {
						o.MustFinalizeAll()
					}
				}
				b.ReportMetric(passes*flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
