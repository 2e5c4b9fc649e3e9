package purego

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/graph"
)

// benchBackends are the engines compared by the benchmarks: GoMLX's Go backend
// (direct-loop convolution) and ours.
func benchBackends(b *testing.B) []compute.Backend {
	ours, err := New("")
	if err != nil {
		b.Fatal(err)
	}
	return []compute.Backend{gobackend.GetBackend(), ours}
}

// BenchmarkConv3x3 is the 3x3 convolution 64->64 on 32x32 images at batch 32
// (CIFAR ResNet-18's first stage), forward and forward+backward.
func BenchmarkConv3x3(b *testing.B) {
	const batch, size, channels = 32, 32, 64
	flops := 2.0 * batch * size * size * channels * channels * 9 // one forward pass
	rng := rand.New(rand.NewPCG(7, 8))
	for _, backend := range benchBackends(b) {
		// Tensors are bound to the backend they are first used on: one pair each.
		x := randomTensor(rng, batch, size, size, channels)
		k := randomTensor(rng, 3, 3, channels, channels)
		for _, mode := range []string{"forward", "forward+backward"} {
			b.Run(fmt.Sprintf("%s/%s", backend.Name(), mode), func(b *testing.B) {
				exec, err := graph.NewExec(backend, func(x, k *graph.Node) []*graph.Node {
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
					passes = 3 // forward, gradient wrt input, gradient wrt kernel
				}
				b.ResetTimer()
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
