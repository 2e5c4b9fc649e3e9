package notebook

import (
	"fmt"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/mlsysrep/mlsysrep/pkg/backend"
)

var defaultBackend struct {
	once sync.Once
	be   compute.Backend
	line string
	err  error
}

// Backend is the compute backend the notebook's small graphs run on (the
// default choice: $GOMLX_BACKEND, else XLA if installed, else the pure-Go
// engine), selected once; line says which and why.
func Backend() (be compute.Backend, line string, err error) {
	d := &defaultBackend
	d.once.Do(func() { d.be, d.line, d.err = backend.Select("") })
	return d.be, d.line, d.err
}

// Tensor makes a float32 tensor of the values with the given dimensions
// (none: a vector).
func Tensor(values []float64, dims ...int) (*tensors.Tensor, error) {
	if len(dims) == 0 {
		dims = []int{len(values)}
	}
	size := 1
	for _, d := range dims {
		size *= d
	}
	if size != len(values) {
		return nil, fmt.Errorf("%d values do not fill dimensions %v", len(values), dims)
	}
	f := make([]float32, len(values))
	for i, v := range values {
		f[i] = float32(v)
	}
	return tensors.FromFlatDataAndDimensions(f, dims...), nil
}

// Values returns a float32 tensor's values as float64, flattened.
func Values(t *tensors.Tensor) []float64 {
	f := tensors.MustCopyFlatData[float32](t)
	out := make([]float64, len(f))
	for i, v := range f {
		out[i] = float64(v)
	}
	return out
}

// Exec builds fn on the inputs, runs it on the notebook's backend and
// returns every output's values. Graph-building panics (a bad bit width, a
// shape mismatch) come back as errors.
func Exec(fn func(inputs []*graph.Node) []*graph.Node, inputs ...*tensors.Tensor) (outs [][]float64, err error) {
	be, _, err := Backend()
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			outs, err = nil, fmt.Errorf("%v", r)
		}
	}()
	exec, err := graph.NewExec(be, fn)
	if err != nil {
		return nil, err
	}
	args := make([]any, len(inputs))
	for i, in := range inputs {
		args[i] = in
	}
	results, err := exec.Call(args...)
	if err != nil {
		return nil, err
	}
	for _, r := range results {
		outs = append(outs, Values(r))
	}
	return outs, nil
}

// Transfer evaluates a quantizer y = fn(x, p) on the points xs with the
// parameter p (alpha, step size, ...), and its straight-through gradients:
// dy/dx and dy/dp, point by point. p is fed as a vector holding p at every
// point, so the gradient of sum(y) with respect to it is dy_i/dp at each
// point i rather than their sum.
func Transfer(fn func(x, p *graph.Node) *graph.Node, xs []float64, p float64) (y, dydx, dydp []float64, err error) {
	ps := make([]float64, len(xs))
	for i := range ps {
		ps[i] = p
	}
	xt, err := Tensor(xs)
	if err != nil {
		return nil, nil, nil, err
	}
	pt, _ := Tensor(ps)
	outs, err := Exec(func(in []*graph.Node) []*graph.Node {
		out := fn(in[0], in[1])
		grads := graph.Gradient(graph.ReduceAllSum(out), in[0], in[1])
		return []*graph.Node{out, grads[0], grads[1]}
	}, xt, pt)
	if err != nil {
		return nil, nil, nil, err
	}
	return outs[0], outs[1], outs[2], nil
}
