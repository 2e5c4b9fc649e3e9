package purego

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
)

// The Go backend runs a binary op whose operand broadcasts along the leading
// axes ([A, B] op [1, B]) with a SIMD kernel that handles each row's last
// B mod 16 elements with a partial load; in compute v0.1.14 with Go 1.27.3
// that load reads past the end of the buffer and crashes (SIGSEGV) when the
// buffer ends at an unmapped page: seen intermittently with 24-channel batch
// norms. For float32 rows that are not a multiple of 16 long, the engine
// materializes the broadcast operand instead (BroadcastInDim has no SIMD
// kernel), so the op runs on equal shapes, whose only partial load is at the
// end of a buffer whose length is a multiple of 16 in every network here.

const simdLanes = 16 // float32 lanes of an AVX-512 register

// safeOperands returns the operands of a binary op, the broadcast one
// materialized when its rows would hit the partial-load kernel.
func (f *function) safeOperands(lhs, rhs compute.Value) (compute.Value, compute.Value, error) {
	ls, err := f.Function.Shape(lhs)
	if err != nil {
		return nil, nil, err
	}
	rs, err := f.Function.Shape(rhs)
	if err != nil {
		return nil, nil, err
	}
	if ls.DType != dtypes.Float32 || ls.Rank() != rs.Rank() || ls.Rank() == 0 || ls.Equal(rs) {
		return lhs, rhs, nil
	}
	out := ls.Clone()
	for i := range out.Dimensions {
		out.Dimensions[i] = max(ls.Dimensions[i], rs.Dimensions[i])
	}
	if out.Dimensions[out.Rank()-1]%simdLanes == 0 {
		return lhs, rhs, nil
	}
	expand := func(v compute.Value, s shapes.Shape) (compute.Value, error) {
		if s.Equal(out) {
			return v, nil
		}
		// Drop the size-1 axes, then broadcast the rest into out.
		var dims, axes []int
		for i, d := range s.Dimensions {
			if d != 1 || out.Dimensions[i] == 1 {
				dims, axes = append(dims, d), append(axes, i)
			}
		}
		squeezed, err := f.Function.Reshape(v, dims...)
		if err != nil {
			return nil, err
		}
		return f.Function.BroadcastInDim(squeezed, out, axes)
	}
	if lhs, err = expand(lhs, ls); err != nil {
		return nil, nil, err
	}
	if rhs, err = expand(rhs, rs); err != nil {
		return nil, nil, err
	}
	return lhs, rhs, nil
}

// Add implements compute.Function (see safeOperands).
func (f *function) Add(lhs, rhs compute.Value) (compute.Value, error) {
	l, r, err := f.safeOperands(lhs, rhs)
	if err != nil {
		return nil, err
	}
	return f.Function.Add(l, r)
}

// Sub implements compute.Function (see safeOperands).
func (f *function) Sub(lhs, rhs compute.Value) (compute.Value, error) {
	l, r, err := f.safeOperands(lhs, rhs)
	if err != nil {
		return nil, err
	}
	return f.Function.Sub(l, r)
}

// Mul implements compute.Function (see safeOperands).
func (f *function) Mul(lhs, rhs compute.Value) (compute.Value, error) {
	l, r, err := f.safeOperands(lhs, rhs)
	if err != nil {
		return nil, err
	}
	return f.Function.Mul(l, r)
}

// Div implements compute.Function (see safeOperands).
func (f *function) Div(lhs, rhs compute.Value) (compute.Value, error) {
	l, r, err := f.safeOperands(lhs, rhs)
	if err != nil {
		return nil, err
	}
	return f.Function.Div(l, r)
}

// Max implements compute.Function (see safeOperands).
func (f *function) Max(lhs, rhs compute.Value) (compute.Value, error) {
	l, r, err := f.safeOperands(lhs, rhs)
	if err != nil {
		return nil, err
	}
	return f.Function.Max(l, r)
}

// Min implements compute.Function (see safeOperands).
func (f *function) Min(lhs, rhs compute.Value) (compute.Value, error) {
	l, r, err := f.safeOperands(lhs, rhs)
	if err != nil {
		return nil, err
	}
	return f.Function.Min(l, r)
}
