package nn

import (
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// Dense is a fully connected layer x [batch, in] -> [batch, out] with bias
// (variables "weights" [in, out] and "biases"), initialized as PyTorch's
// nn.Linear; q quantizes the weights (nil for full precision).
func Dense(scope *model.Scope, x *graph.Node, out int, q WeightQuantizer) *graph.Node {
	in := x.Shape().Dim(-1)
	w := uniformVariable(scope, "weights", in, in, out).NodeValue(x.Graph())
	bias := uniformVariable(scope, "biases", in, out).NodeValue(x.Graph())
	if q != nil {
		w = q(scope, w)
	}
	y := graph.Add(graph.Dot(x, graph.ConvertDType(w, x.DType())).Product(), lastAxis(graph.ConvertDType(bias, x.DType()), 2))
	RecordLayer(scope, "dense", fmt.Sprintf("%d->%d", in, out), y, in*out+out, in*out)
	return y
}
