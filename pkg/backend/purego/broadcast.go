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
// norms. So the engine never hands that kernel a float32 row whose length is
// not a multiple of 16:
//
//   - a per-channel operand ([1, ..., 1, C] against [..., C], what batch norm,
//     biases and per-channel weights produce) is tiled r = 16/gcd(C, 16) times
//     into one row of L = r*C (a multiple of 16) and the other operand is
//     viewed as rows of L, so the op still runs on the broadcast kernel (a
//     reshape is free; the tile is a few hundred floats);
//   - any other broadcast is materialized (BroadcastInDim, a generic
//     per-element loop, several times slower than the SIMD kernel), so the
//     op runs on equal shapes, whose only partial load is at the end of a
//     buffer whose length is a multiple of 16 in every network here.

const simdLanes = 16 // float32 lanes of an AVX-512 register

// binaryOp is one of the Go backend's binary ops.
type binaryOp func(lhs, rhs compute.Value) (compute.Value, error)

// safeBinary runs op on lhs and rhs without reaching the partial-load kernel
// (see above).
func (f *function) safeBinary(op binaryOp, lhs, rhs compute.Value) (compute.Value, error) {
	ls, err := f.Function.Shape(lhs)
	if err != nil {
		return nil, err
	}
	rs, err := f.Function.Shape(rhs)
	if err != nil {
		return nil, err
	}
	if ls.DType != dtypes.Float32 || ls.Rank() != rs.Rank() || ls.Rank() == 0 || ls.Equal(rs) {
		return op(lhs, rhs)
	}
	out := ls.Clone()
	for i := range out.Dimensions {
		out.Dimensions[i] = max(ls.Dimensions[i], rs.Dimensions[i])
	}
	if out.Dimensions[out.Rank()-1]%simdLanes == 0 {
		return op(lhs, rhs)
	}
	if y, ok, err := f.tiledPerChannel(op, lhs, rhs, ls, rs, out); ok || err != nil {
		return y, err
	}
	if lhs, err = f.materialize(lhs, ls, out); err != nil {
		return nil, err
	}
	if rhs, err = f.materialize(rhs, rs, out); err != nil {
		return nil, err
	}
	return op(lhs, rhs)
}

// tiledPerChannel runs op as [N/r, r*C] op [1, r*C] when one operand is
// per-channel ([1, ..., 1, C]) and the other has the output's shape; ok is
// false when the case does not apply (other broadcasts, or N = product of
// the leading axes not divisible by r).
func (f *function) tiledPerChannel(op binaryOp, lhs, rhs compute.Value, ls, rs, out shapes.Shape) (y compute.Value, ok bool, err error) {
	perChannel := func(s shapes.Shape) bool {
		for _, d := range s.Dimensions[:s.Rank()-1] {
			if d != 1 {
				return false
			}
		}
		return s.Dimensions[s.Rank()-1] == out.Dimensions[out.Rank()-1]
	}
	c := out.Dimensions[out.Rank()-1]
	r := simdLanes / gcd(c, simdLanes)
	rows := out.Size() / c
	switch {
	case rows%r != 0:
		return nil, false, nil
	case ls.Equal(out) && perChannel(rs):
		if lhs, err = f.Function.Reshape(lhs, rows/r, r*c); err == nil {
			rhs, err = f.tile(rhs, c, r)
		}
	case rs.Equal(out) && perChannel(ls):
		if rhs, err = f.Function.Reshape(rhs, rows/r, r*c); err == nil {
			lhs, err = f.tile(lhs, c, r)
		}
	default:
		return nil, false, nil
	}
	if err == nil {
		y, err = op(lhs, rhs)
	}
	if err == nil {
		y, err = f.Function.Reshape(y, out.Dimensions...)
	}
	return y, true, err
}

// tile returns a per-channel operand of c values repeated r times as [1, r*c].
func (f *function) tile(v compute.Value, c, r int) (compute.Value, error) {
	row, err := f.Function.Reshape(v, 1, c)
	if err != nil {
		return nil, err
	}
	tiled, err := f.Function.BroadcastInDim(row, shapes.Make(dtypes.Float32, r, c), []int{0, 1})
	if err != nil {
		return nil, err
	}
	return f.Function.Reshape(tiled, 1, r*c)
}

// materialize broadcasts v (shape s) to out, unless it already has out's shape.
func (f *function) materialize(v compute.Value, s, out shapes.Shape) (compute.Value, error) {
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

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Add implements compute.Function (see safeBinary).
func (f *function) Add(lhs, rhs compute.Value) (compute.Value, error) {
	return f.safeBinary(f.Function.Add, lhs, rhs)
}

// Sub implements compute.Function (see safeBinary).
func (f *function) Sub(lhs, rhs compute.Value) (compute.Value, error) {
	return f.safeBinary(f.Function.Sub, lhs, rhs)
}

// Mul implements compute.Function (see safeBinary).
func (f *function) Mul(lhs, rhs compute.Value) (compute.Value, error) {
	return f.safeBinary(f.Function.Mul, lhs, rhs)
}

// Div implements compute.Function (see safeBinary).
func (f *function) Div(lhs, rhs compute.Value) (compute.Value, error) {
	return f.safeBinary(f.Function.Div, lhs, rhs)
}

// Max implements compute.Function (see safeBinary).
func (f *function) Max(lhs, rhs compute.Value) (compute.Value, error) {
	return f.safeBinary(f.Function.Max, lhs, rhs)
}

// Min implements compute.Function (see safeBinary).
func (f *function) Min(lhs, rhs compute.Value) (compute.Value, error) {
	return f.safeBinary(f.Function.Min, lhs, rhs)
}
