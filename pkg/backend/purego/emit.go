package purego

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/pkg/errors"
)

// emitter adds ops to a Go backend function, panicking with an emitError on
// failure so that a lowering reads as straight-line math; catchEmit turns the
// panic back into the error the compute API returns.
type emitter struct {
	f compute.Function // the Go backend's function: ops go straight to it
	w *function        // the engine's wrapper: binary ops go through it (see safeBinary)
}

type emitError struct{ err error }

func (e emitter) must(v compute.Value, err error) compute.Value {
	if err != nil {
		panic(emitError{err})
	}
	return v
}

func catchEmit(opName string, err *error) {
	if r := recover(); r != nil {
		if ee, ok := r.(emitError); ok {
			*err = errors.WithMessagef(ee.err, "purego: lowering %s", opName)
			return
		}
		panic(r)
	}
}

func (e emitter) shape(v compute.Value) shapes.Shape {
	s, err := e.f.Shape(v)
	if err != nil {
		panic(emitError{err})
	}
	return s
}

// scalar creates a constant scalar of the given float dtype.
func (e emitter) scalar(dtype dtypes.DType, value float64) compute.Value {
	switch dtype {
	case dtypes.Float32:
		return e.must(e.f.Constant([]float32{float32(value)}))
	case dtypes.Float64:
		return e.must(e.f.Constant([]float64{value}))
	}
	panic(emitError{errors.Errorf("purego: unsupported dtype %s", dtype)})
}

// broadcast materializes v in shape `to`, v's axes going to the given axes.
func (e emitter) broadcast(v compute.Value, to shapes.Shape, axes ...int) compute.Value {
	return e.must(e.f.BroadcastInDim(v, to, axes))
}

func (e emitter) reshape(v compute.Value, dims ...int) compute.Value {
	return e.must(e.f.Reshape(v, dims...))
}

// transpose permutes axes, skipping the op when the permutation is the identity.
func (e emitter) transpose(v compute.Value, perm ...int) compute.Value {
	for i, p := range perm {
		if i != p {
			return e.must(e.f.Transpose(v, perm...))
		}
	}
	return v
}

func (e emitter) add(a, b compute.Value) compute.Value { return e.must(e.w.Add(a, b)) }
func (e emitter) sub(a, b compute.Value) compute.Value { return e.must(e.w.Sub(a, b)) }
func (e emitter) mul(a, b compute.Value) compute.Value { return e.must(e.w.Mul(a, b)) }

func (e emitter) slice(v compute.Value, starts, limits, strides []int) compute.Value {
	return e.must(e.f.Slice(v, starts, limits, strides))
}

func (e emitter) dot(lhs compute.Value, lhsContract, lhsBatch []int, rhs compute.Value, rhsContract, rhsBatch []int) compute.Value {
	return e.must(e.f.DotGeneral(lhs, lhsContract, lhsBatch, rhs, rhsContract, rhsBatch, compute.DotGeneralConfig{}))
}

func (e emitter) concat(axis int, vs ...compute.Value) compute.Value {
	if len(vs) == 1 {
		return vs[0]
	}
	return e.must(e.f.Concatenate(axis, vs...))
}
