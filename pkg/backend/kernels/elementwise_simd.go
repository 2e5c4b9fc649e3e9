//go:build goexperiment.simd && amd64

package kernels

import "simd/archsimd"

// simdApply returns the element-op implementation of a SIMD path, or nil.
func simdApply(path string) applyFunc {
	switch path {
	case "avx512":
		return avx512Apply
	case "avx2":
		return avx2Apply
	}
	return nil
}

// tail is v from i on, or v itself when it is shorter (an operand the op
// does not read).
func tail(v []float32, i int) []float32 {
	if len(v) < i {
		return v
	}
	return v[i:]
}

// avx512Apply runs the element ops 16 lanes at a time; the tail takes the
// generic loops, which round the same way.
func avx512Apply(op ElementOp, out, a, b, c []float32) {
	n := len(out)
	i := 0
	switch op {
	case OpCopy:
		copy(out, a[:n])
		return
	case OpAdd:
		for ; i+16 <= n; i += 16 {
			x, y := archsimd.LoadFloat32x16(a[i:]), archsimd.LoadFloat32x16(b[i:])
			x.Add(y).Store(out[i:])
		}
	case OpSub:
		for ; i+16 <= n; i += 16 {
			x, y := archsimd.LoadFloat32x16(a[i:]), archsimd.LoadFloat32x16(b[i:])
			x.Sub(y).Store(out[i:])
		}
	case OpMul:
		for ; i+16 <= n; i += 16 {
			x, y := archsimd.LoadFloat32x16(a[i:]), archsimd.LoadFloat32x16(b[i:])
			x.Mul(y).Store(out[i:])
		}
	case OpDiv:
		for ; i+16 <= n; i += 16 {
			x, y := archsimd.LoadFloat32x16(a[i:]), archsimd.LoadFloat32x16(b[i:])
			x.Div(y).Store(out[i:])
		}
	case OpMin:
		for ; i+16 <= n; i += 16 {
			x, y := archsimd.LoadFloat32x16(a[i:]), archsimd.LoadFloat32x16(b[i:])
			x.Min(y).Store(out[i:])
		}
	case OpMax:
		for ; i+16 <= n; i += 16 {
			x, y := archsimd.LoadFloat32x16(a[i:]), archsimd.LoadFloat32x16(b[i:])
			x.Max(y).Store(out[i:])
		}
	case OpEqual:
		one := archsimd.BroadcastFloat32x16(1)
		for ; i+16 <= n; i += 16 {
			one.Masked(archsimd.LoadFloat32x16(a[i:]).Equal(archsimd.LoadFloat32x16(b[i:]))).Store(out[i:])
		}
	case OpNotEqual:
		one := archsimd.BroadcastFloat32x16(1)
		for ; i+16 <= n; i += 16 {
			one.Masked(archsimd.LoadFloat32x16(a[i:]).NotEqual(archsimd.LoadFloat32x16(b[i:]))).Store(out[i:])
		}
	case OpLess:
		one := archsimd.BroadcastFloat32x16(1)
		for ; i+16 <= n; i += 16 {
			one.Masked(archsimd.LoadFloat32x16(a[i:]).Less(archsimd.LoadFloat32x16(b[i:]))).Store(out[i:])
		}
	case OpLessEqual:
		one := archsimd.BroadcastFloat32x16(1)
		for ; i+16 <= n; i += 16 {
			one.Masked(archsimd.LoadFloat32x16(a[i:]).LessEqual(archsimd.LoadFloat32x16(b[i:]))).Store(out[i:])
		}
	case OpGreater:
		one := archsimd.BroadcastFloat32x16(1)
		for ; i+16 <= n; i += 16 {
			one.Masked(archsimd.LoadFloat32x16(a[i:]).Greater(archsimd.LoadFloat32x16(b[i:]))).Store(out[i:])
		}
	case OpGreaterEqual:
		one := archsimd.BroadcastFloat32x16(1)
		for ; i+16 <= n; i += 16 {
			one.Masked(archsimd.LoadFloat32x16(a[i:]).GreaterEqual(archsimd.LoadFloat32x16(b[i:]))).Store(out[i:])
		}
	case OpNeg:
		for ; i+16 <= n; i += 16 {
			archsimd.LoadFloat32x16(a[i:]).Neg().Store(out[i:])
		}
	case OpAbs:
		for ; i+16 <= n; i += 16 {
			archsimd.LoadFloat32x16(a[i:]).Abs().Store(out[i:])
		}
	case OpSign:
		zero, one, minus := archsimd.BroadcastFloat32x16(0), archsimd.BroadcastFloat32x16(1), archsimd.BroadcastFloat32x16(-1)
		for ; i+16 <= n; i += 16 {
			x := archsimd.LoadFloat32x16(a[i:])
			one.Merge(minus.Merge(zero, x.Less(zero)), x.Greater(zero)).Store(out[i:])
		}
	case OpRound:
		for ; i+16 <= n; i += 16 {
			archsimd.LoadFloat32x16(a[i:]).RoundScaled(0).Store(out[i:])
		}
	case OpWhere:
		zero := archsimd.BroadcastFloat32x16(0)
		for ; i+16 <= n; i += 16 {
			archsimd.LoadFloat32x16(b[i:]).Merge(archsimd.LoadFloat32x16(c[i:]), archsimd.LoadFloat32x16(a[i:]).NotEqual(zero)).Store(out[i:])
		}
	}
	if i < n {
		applyGeneric(op, out[i:], a[i:], tail(b, i), tail(c, i))
	}
}

// avx2Apply runs the element ops 8 lanes at a time; the tail takes the
// generic loops, which round the same way.
func avx2Apply(op ElementOp, out, a, b, c []float32) {
	n := len(out)
	i := 0
	switch op {
	case OpCopy:
		copy(out, a[:n])
		return
	case OpAdd:
		for ; i+8 <= n; i += 8 {
			x, y := archsimd.LoadFloat32x8(a[i:]), archsimd.LoadFloat32x8(b[i:])
			x.Add(y).Store(out[i:])
		}
	case OpSub:
		for ; i+8 <= n; i += 8 {
			x, y := archsimd.LoadFloat32x8(a[i:]), archsimd.LoadFloat32x8(b[i:])
			x.Sub(y).Store(out[i:])
		}
	case OpMul:
		for ; i+8 <= n; i += 8 {
			x, y := archsimd.LoadFloat32x8(a[i:]), archsimd.LoadFloat32x8(b[i:])
			x.Mul(y).Store(out[i:])
		}
	case OpDiv:
		for ; i+8 <= n; i += 8 {
			x, y := archsimd.LoadFloat32x8(a[i:]), archsimd.LoadFloat32x8(b[i:])
			x.Div(y).Store(out[i:])
		}
	case OpMin:
		for ; i+8 <= n; i += 8 {
			x, y := archsimd.LoadFloat32x8(a[i:]), archsimd.LoadFloat32x8(b[i:])
			x.Min(y).Store(out[i:])
		}
	case OpMax:
		for ; i+8 <= n; i += 8 {
			x, y := archsimd.LoadFloat32x8(a[i:]), archsimd.LoadFloat32x8(b[i:])
			x.Max(y).Store(out[i:])
		}
	case OpEqual:
		one := archsimd.BroadcastFloat32x8(1)
		for ; i+8 <= n; i += 8 {
			one.Masked(archsimd.LoadFloat32x8(a[i:]).Equal(archsimd.LoadFloat32x8(b[i:]))).Store(out[i:])
		}
	case OpNotEqual:
		one := archsimd.BroadcastFloat32x8(1)
		for ; i+8 <= n; i += 8 {
			one.Masked(archsimd.LoadFloat32x8(a[i:]).NotEqual(archsimd.LoadFloat32x8(b[i:]))).Store(out[i:])
		}
	case OpLess:
		one := archsimd.BroadcastFloat32x8(1)
		for ; i+8 <= n; i += 8 {
			one.Masked(archsimd.LoadFloat32x8(a[i:]).Less(archsimd.LoadFloat32x8(b[i:]))).Store(out[i:])
		}
	case OpLessEqual:
		one := archsimd.BroadcastFloat32x8(1)
		for ; i+8 <= n; i += 8 {
			one.Masked(archsimd.LoadFloat32x8(a[i:]).LessEqual(archsimd.LoadFloat32x8(b[i:]))).Store(out[i:])
		}
	case OpGreater:
		one := archsimd.BroadcastFloat32x8(1)
		for ; i+8 <= n; i += 8 {
			one.Masked(archsimd.LoadFloat32x8(a[i:]).Greater(archsimd.LoadFloat32x8(b[i:]))).Store(out[i:])
		}
	case OpGreaterEqual:
		one := archsimd.BroadcastFloat32x8(1)
		for ; i+8 <= n; i += 8 {
			one.Masked(archsimd.LoadFloat32x8(a[i:]).GreaterEqual(archsimd.LoadFloat32x8(b[i:]))).Store(out[i:])
		}
	case OpNeg:
		for ; i+8 <= n; i += 8 {
			archsimd.LoadFloat32x8(a[i:]).Neg().Store(out[i:])
		}
	case OpAbs:
		for ; i+8 <= n; i += 8 {
			archsimd.LoadFloat32x8(a[i:]).Abs().Store(out[i:])
		}
	case OpSign:
		zero, one, minus := archsimd.BroadcastFloat32x8(0), archsimd.BroadcastFloat32x8(1), archsimd.BroadcastFloat32x8(-1)
		for ; i+8 <= n; i += 8 {
			x := archsimd.LoadFloat32x8(a[i:])
			one.Merge(minus.Merge(zero, x.Less(zero)), x.Greater(zero)).Store(out[i:])
		}
	case OpRound:
		for ; i+8 <= n; i += 8 {
			archsimd.LoadFloat32x8(a[i:]).Round().Store(out[i:])
		}
	case OpWhere:
		zero := archsimd.BroadcastFloat32x8(0)
		for ; i+8 <= n; i += 8 {
			archsimd.LoadFloat32x8(b[i:]).Merge(archsimd.LoadFloat32x8(c[i:]), archsimd.LoadFloat32x8(a[i:]).NotEqual(zero)).Store(out[i:])
		}
	}
	if i < n {
		applyGeneric(op, out[i:], a[i:], tail(b, i), tail(c, i))
	}
}
