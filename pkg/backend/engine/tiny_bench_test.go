package engine

import (
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// BenchmarkTinyUpdates measures what a step of many tiny element-wise trees
// costs: the SGD momentum updates of 40 variables of 32 elements (what a
// ResNet-18's batch-norm vectors are), left to one stock segment (stock,
// the default for trees below minFusedSize) or run as 80 native fused
// programs (fused).
func BenchmarkTinyUpdates(b *testing.B) {
	for _, c := range []struct {
		name    string
		minSize int
	}{{"stock", minFusedSize}, {"fused", 2}} {
		b.Run(c.name, func(b *testing.B) {
			defer func(size int) { minFusedSize = size }(minFusedSize)
			minFusedSize = c.minSize
			exec, err := graph.NewExec(mustNew(b, ""), func(xs []*graph.Node) []*graph.Node {
				var outs []*graph.Node
				for i := 0; i < len(xs); i += 2 { // xs[i]: a variable, xs[i+1]: its momentum
					v := graph.Add(graph.MulScalar(xs[i+1], 0.9), xs[i])
					outs = append(outs, graph.Sub(xs[i], graph.MulScalar(v, 0.1)), v)
				}
				return outs
			})
			if err != nil {
				b.Fatal(err)
			}
			var args []any
			for range 80 {
				args = append(args, tensors.FromFlatDataAndDimensions(make([]float32, 32), 32))
			}
			for b.Loop() {
				outs, err := exec.Call(args...)
				if err != nil {
					b.Fatal(err)
				}
				for _, o := range outs {
					o.FinalizeAll()
				}
			}
		})
	}
}
