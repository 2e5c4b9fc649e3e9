package train

import (
	"fmt"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/gomlx/gomlx/ml/train/optimizer"
)

// SGD is stochastic gradient descent with momentum and coupled weight decay,
// as PyTorch's torch.optim.SGD (dampening 0, no Nesterov):
//
//	g = grad + WeightDecay * w
//	v = Momentum * v + g          (v starts at 0, so the first step is v = g)
//	w = w - lr * v
//
// Weight decay applies to every trainable variable (BN scales and offsets,
// PACT alphas and LSQ steps included), as in the reference runs. When
// ClipNorm > 0 the gradients are first scaled by min(1, ClipNorm/(norm+1e-6)),
// norm being the global L2 norm of all gradients (torch.nn.utils.clip_grad_norm_).
// The learning rate is a variable set from the host each epoch (SetLearningRate).
type SGD struct {
	Momentum, WeightDecay, ClipNorm float64
}

var _ optimizer.Interface = SGD{}

// sgdScope is where SGD keeps its variables.
const sgdScope = "optimizers/sgd"

// LearningRateVariable returns the learning-rate variable (created at 0.1).
func LearningRateVariable(store *model.Store) *model.Variable {
	return store.Scope("/"+sgdScope).VariableWithValue("learning_rate", float32(0.1)).SetTrainable(false)
}

// SetLearningRate sets the learning rate used by the next training steps.
func SetLearningRate(store *model.Store, lr float64) error {
	return LearningRateVariable(store).SetValue(tensorsScalar(lr))
}

// UpdateGraph implements optimizer.Interface.
func (o SGD) UpdateGraph(scope *model.Scope, g *graph.Graph, loss *graph.Node) {
	grads := scope.BuildTrainableVariablesGradientsGraph(loss)
	if len(grads) == 0 {
		return
	}
	store := scope.Store()
	lr := LearningRateVariable(store).NodeValue(g)
	optimizer.IncrementGlobalStep(g, dtypes.Int64)
	if o.ClipNorm > 0 {
		var sq *graph.Node
		for _, gr := range grads {
			s := graph.ReduceAllSum(graph.Square(graph.ConvertDType(gr, dtypes.Float32)))
			if sq == nil {
				sq = s
			} else {
				sq = graph.Add(sq, s)
			}
		}
		norm := graph.Sqrt(sq)
		coef := graph.Min(graph.Div(graph.Scalar(g, dtypes.Float32, o.ClipNorm), graph.AddScalar(norm, 1e-6)), graph.ScalarOne(g, dtypes.Float32))
		for i := range grads {
			grads[i] = graph.Mul(grads[i], graph.ConvertDType(coef, grads[i].DType()))
		}
	}
	i := 0
	for v := range scope.IterVariables() {
		if !v.Trainable || !v.InUseByGraph(g) {
			continue
		}
		grad := grads[i]
		i++
		w := v.NodeValue(g)
		dt := w.DType()
		if o.WeightDecay != 0 {
			grad = graph.Add(grad, graph.MulScalar(w, o.WeightDecay))
		}
		step := grad
		if o.Momentum != 0 {
			vel := store.Scope("/"+sgdScope+"/velocity").WithInitializer(initializer.Zero).
				VariableWithShape(velocityName(v), w.Shape()).SetTrainable(false)
			step = graph.Add(graph.MulScalar(vel.NodeValue(g), o.Momentum), grad)
			vel.SetNodeValue(step)
		}
		v.SetNodeValue(graph.Sub(w, graph.Mul(graph.ConvertDType(lr, dt), step)))
	}
}

// MaskVelocity multiplies the SGD velocity of variable v by keep (element
// by element, v's shape), so that the entries keep zeroes stay still under
// momentum: a pruned weight set to zero then stays exactly zero (its masked
// gradient and weight decay are zero too). A variable without a velocity
// yet (no step taken) is left alone.
func MaskVelocity(store *model.Store, v *model.Variable, keep []float32) error {
	vel := Velocity(store, v)
	if vel == nil {
		return nil
	}
	t, err := vel.Value()
	if err != nil {
		return err
	}
	data, err := tensors.CopyFlatData[float32](t)
	if err != nil {
		return err
	}
	if len(data) != len(keep) {
		return fmt.Errorf("train: velocity of %s has %d values, the mask %d", v.Path(), len(data), len(keep))
	}
	for i, k := range keep {
		data[i] *= k
	}
	return vel.SetValue(tensors.FromFlatDataAndDimensions(data, t.Shape().Dimensions...))
}

// Velocity is the SGD velocity variable of v in store, nil before the
// optimizer made one (its first step).
func Velocity(store *model.Store, v *model.Variable) *model.Variable {
	return store.GetVariable("/" + sgdScope + "/velocity/" + velocityName(v))
}

// velocityName maps a variable's path to a flat variable name.
func velocityName(v *model.Variable) string {
	return fmt.Sprintf("%x", []byte(v.Path()))
}

// Clear implements optimizer.Interface: it deletes the velocities.
func (o SGD) Clear(scope *model.Scope) error {
	return scope.Store().DeleteVariablesInScope("/" + sgdScope + "/velocity")
}
