package nn

import (
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
)

// uniformVariable creates (or reuses) a float32 variable initialized as
// PyTorch initializes convolution and linear layers by default:
// U(-1/sqrt(fanIn), 1/sqrt(fanIn)) (kaiming_uniform with a = sqrt(5) for the
// weights, the same bound for the biases). This is the models' stated
// initialization choice (PROTOCOL section 6 leaves it to us).
func uniformVariable(scope *model.Scope, name string, fanIn int, dims ...int) *model.Variable {
	bound := 1 / math.Sqrt(float64(fanIn))
	return scope.WithInitializer(initializer.RandomUniformFn(scope, -bound, bound)).
		VariableWithShape(name, shapes.Make(dtypes.Float32, dims...))
}
