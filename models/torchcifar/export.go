package torchcifar

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/mlsysrep/mlsysrep/pkg/torchfile"
)

// Export converts a model's variables (by scope path, as a store holds
// them; other variables such as optimizer state are left out) to a
// pytorch-cifar state dict of the network g describes. Every BN also gets
// num_batches_tracked (int64, 0: this project does not count them; PyTorch
// only reads it when a BN has no momentum) so that PyTorch's strict
// load_state_dict accepts the file. A missing or mis-shaped variable is an
// error that lists them all.
func Export(g Geometry, values map[string]*tensors.Tensor) (torchfile.StateDict, error) {
	es, err := layout(g)
	if err != nil {
		return nil, err
	}
	sd := torchfile.StateDict{}
	var problems []string
	for _, e := range es {
		t, ok := values[e.path]
		if !ok {
			problems = append(problems, e.path+" is missing")
			continue
		}
		if dims := t.Shape().Dimensions; !slices.Equal(dims, e.shape) || t.DType().String() != "Float32" {
			problems = append(problems, fmt.Sprintf("%s is %s, expected (Float32)%v", e.path, t.Shape(), e.shape))
			continue
		}
		data, err := tensors.CopyFlatData[float32](t)
		if err != nil {
			return nil, fmt.Errorf("torchcifar: %s: %w", e.path, err)
		}
		sd[e.torch] = torchfile.Tensor{DType: "float32", Shape: e.torchShape(), Data: toTorch(e, data)}
		if bn, ok := strings.CutSuffix(e.torch, ".running_var"); ok {
			sd[bn+".num_batches_tracked"] = torchfile.Tensor{DType: "int64", Shape: []int{}, Data: []float32{0}}
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, fmt.Errorf("torchcifar: the variables are not a %s: %s", g, strings.Join(problems, "; "))
	}
	return sd, nil
}

// Paths are the scope paths of the variables a network of geometry g
// imports and exports, sorted.
func Paths(g Geometry) ([]string, error) {
	es, err := layout(g)
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(es))
	for i, e := range es {
		paths[i] = e.path
	}
	slices.Sort(paths)
	return paths, nil
}
