//go:build goexperiment.simd && amd64

package kernels

import (
	"simd/archsimd"
	"unsafe"
)

// chainFunc runs chain c over the first m elements of its operand tiles
// vals (m a multiple of chainStride) into dst.
type chainFunc func(c *chain, dst []float32, vals [][]float32, m int)

// simdChain returns the path's chainFunc, or nil. Only AVX2 has one: the
// 8-lane loop is what this project's AVX2 machines measured (an AVX-512
// machine keeps its 16-lane interpreter until a 16-lane chain is measured
// there).
func simdChain(path string) chainFunc {
	if path == "avx2" {
		return chainAVX2
	}
	return nil
}

// maxChainSteps bounds a chain's length (planChains splits longer ones) so
// that its operand pointers fit an array on the stack.
const maxChainSteps = 32

// chainAVX2 is chainFunc on 8-lane vectors. Each op is avx2Apply's vector
// operation on the same operands in the same order, except Max, Min and
// ReLU, which are a compare and a blend (a > b ? a : b, a < b ? a : b,
// a < 0 ? 0 : a: what the interpreter computes), because Go's compiler
// treats VMAXPS and VMINPS as commutative and may swap two registers (see
// clipAVX2). The cases, one per op and position of the chain's value
// (chainStep.code), were written out by a generator: x is the value, y and
// z the other operands in order. Add and Mul with the value as operand b
// take a's NaN where a is one: Go's compiler makes the load (a) the
// instruction's second operand, and for two NaNs x86 returns the first
// operand's, where the interpreter's a + b returns a's (a + a is a, made
// quiet, as a + b gives it).
func chainAVX2(c *chain, dst []float32, vals [][]float32, m int) {
	steps := c.steps
	var pb, pc [maxChainSteps]unsafe.Pointer
	for k := range steps {
		st := &steps[k]
		switch ar := st.op.Arity(); {
		case ar == 3:
			pb[k], pc[k] = ptr(vals[st.other[0]][:m]), ptr(vals[st.other[1]][:m])
		case ar == 2:
			pb[k] = ptr(vals[st.other[0]][:m])
		}
	}
	ph, pd := ptr(vals[c.head][:m]), ptr(dst[:m])
	zero, one, minus := archsimd.BroadcastFloat32x8(0), archsimd.BroadcastFloat32x8(1), archsimd.BroadcastFloat32x8(-1)
	// Four vectors per pass over the steps: the op dispatch is paid once
	// per 32 elements.
	for i := 0; i < m; i += 32 {
		o := uintptr(i) * 4
		x0, x1, x2, x3 := load8(ph, o), load8(ph, o+32), load8(ph, o+64), load8(ph, o+96)
		for k := range steps {
			switch steps[k].code {
			case uint16(OpCopy)*3 + 0:
			case uint16(OpAdd)*3 + 0:
				y0 := load8(pb[k], o)
				x0 = x0.Add(y0)
				y1 := load8(pb[k], o+32)
				x1 = x1.Add(y1)
				y2 := load8(pb[k], o+64)
				x2 = x2.Add(y2)
				y3 := load8(pb[k], o+96)
				x3 = x3.Add(y3)
			case uint16(OpAdd)*3 + 1:
				y0 := load8(pb[k], o)
				x0 = y0.Add(y0).Merge(x0.Add(y0), y0.NotEqual(y0))
				y1 := load8(pb[k], o+32)
				x1 = y1.Add(y1).Merge(x1.Add(y1), y1.NotEqual(y1))
				y2 := load8(pb[k], o+64)
				x2 = y2.Add(y2).Merge(x2.Add(y2), y2.NotEqual(y2))
				y3 := load8(pb[k], o+96)
				x3 = y3.Add(y3).Merge(x3.Add(y3), y3.NotEqual(y3))
			case uint16(OpSub)*3 + 0:
				y0 := load8(pb[k], o)
				x0 = x0.Sub(y0)
				y1 := load8(pb[k], o+32)
				x1 = x1.Sub(y1)
				y2 := load8(pb[k], o+64)
				x2 = x2.Sub(y2)
				y3 := load8(pb[k], o+96)
				x3 = x3.Sub(y3)
			case uint16(OpSub)*3 + 1:
				y0 := load8(pb[k], o)
				x0 = y0.Sub(x0)
				y1 := load8(pb[k], o+32)
				x1 = y1.Sub(x1)
				y2 := load8(pb[k], o+64)
				x2 = y2.Sub(x2)
				y3 := load8(pb[k], o+96)
				x3 = y3.Sub(x3)
			case uint16(OpMul)*3 + 0:
				y0 := load8(pb[k], o)
				x0 = x0.Mul(y0)
				y1 := load8(pb[k], o+32)
				x1 = x1.Mul(y1)
				y2 := load8(pb[k], o+64)
				x2 = x2.Mul(y2)
				y3 := load8(pb[k], o+96)
				x3 = x3.Mul(y3)
			case uint16(OpMul)*3 + 1:
				y0 := load8(pb[k], o)
				x0 = y0.Mul(y0).Merge(x0.Mul(y0), y0.NotEqual(y0))
				y1 := load8(pb[k], o+32)
				x1 = y1.Mul(y1).Merge(x1.Mul(y1), y1.NotEqual(y1))
				y2 := load8(pb[k], o+64)
				x2 = y2.Mul(y2).Merge(x2.Mul(y2), y2.NotEqual(y2))
				y3 := load8(pb[k], o+96)
				x3 = y3.Mul(y3).Merge(x3.Mul(y3), y3.NotEqual(y3))
			case uint16(OpDiv)*3 + 0:
				y0 := load8(pb[k], o)
				x0 = x0.Div(y0)
				y1 := load8(pb[k], o+32)
				x1 = x1.Div(y1)
				y2 := load8(pb[k], o+64)
				x2 = x2.Div(y2)
				y3 := load8(pb[k], o+96)
				x3 = x3.Div(y3)
			case uint16(OpDiv)*3 + 1:
				y0 := load8(pb[k], o)
				x0 = y0.Div(x0)
				y1 := load8(pb[k], o+32)
				x1 = y1.Div(x1)
				y2 := load8(pb[k], o+64)
				x2 = y2.Div(x2)
				y3 := load8(pb[k], o+96)
				x3 = y3.Div(x3)
			case uint16(OpMin)*3 + 0:
				y0 := load8(pb[k], o)
				x0 = x0.Merge(y0, x0.Less(y0))
				y1 := load8(pb[k], o+32)
				x1 = x1.Merge(y1, x1.Less(y1))
				y2 := load8(pb[k], o+64)
				x2 = x2.Merge(y2, x2.Less(y2))
				y3 := load8(pb[k], o+96)
				x3 = x3.Merge(y3, x3.Less(y3))
			case uint16(OpMin)*3 + 1:
				y0 := load8(pb[k], o)
				x0 = y0.Merge(x0, y0.Less(x0))
				y1 := load8(pb[k], o+32)
				x1 = y1.Merge(x1, y1.Less(x1))
				y2 := load8(pb[k], o+64)
				x2 = y2.Merge(x2, y2.Less(x2))
				y3 := load8(pb[k], o+96)
				x3 = y3.Merge(x3, y3.Less(x3))
			case uint16(OpMax)*3 + 0:
				y0 := load8(pb[k], o)
				x0 = x0.Merge(y0, x0.Greater(y0))
				y1 := load8(pb[k], o+32)
				x1 = x1.Merge(y1, x1.Greater(y1))
				y2 := load8(pb[k], o+64)
				x2 = x2.Merge(y2, x2.Greater(y2))
				y3 := load8(pb[k], o+96)
				x3 = x3.Merge(y3, x3.Greater(y3))
			case uint16(OpMax)*3 + 1:
				y0 := load8(pb[k], o)
				x0 = y0.Merge(x0, y0.Greater(x0))
				y1 := load8(pb[k], o+32)
				x1 = y1.Merge(x1, y1.Greater(x1))
				y2 := load8(pb[k], o+64)
				x2 = y2.Merge(x2, y2.Greater(x2))
				y3 := load8(pb[k], o+96)
				x3 = y3.Merge(x3, y3.Greater(x3))
			case uint16(OpNeg)*3 + 0:
				x0 = x0.Neg()
				x1 = x1.Neg()
				x2 = x2.Neg()
				x3 = x3.Neg()
			case uint16(OpAbs)*3 + 0:
				x0 = x0.Abs()
				x1 = x1.Abs()
				x2 = x2.Abs()
				x3 = x3.Abs()
			case uint16(OpSign)*3 + 0:
				x0 = one.Merge(minus.Merge(zero, x0.Less(zero)), x0.Greater(zero))
				x1 = one.Merge(minus.Merge(zero, x1.Less(zero)), x1.Greater(zero))
				x2 = one.Merge(minus.Merge(zero, x2.Less(zero)), x2.Greater(zero))
				x3 = one.Merge(minus.Merge(zero, x3.Less(zero)), x3.Greater(zero))
			case uint16(OpRound)*3 + 0:
				x0 = x0.Round()
				x1 = x1.Round()
				x2 = x2.Round()
				x3 = x3.Round()
			case uint16(OpEqual)*3 + 0:
				y0 := load8(pb[k], o)
				x0 = one.Masked(x0.Equal(y0))
				y1 := load8(pb[k], o+32)
				x1 = one.Masked(x1.Equal(y1))
				y2 := load8(pb[k], o+64)
				x2 = one.Masked(x2.Equal(y2))
				y3 := load8(pb[k], o+96)
				x3 = one.Masked(x3.Equal(y3))
			case uint16(OpEqual)*3 + 1:
				y0 := load8(pb[k], o)
				x0 = one.Masked(y0.Equal(x0))
				y1 := load8(pb[k], o+32)
				x1 = one.Masked(y1.Equal(x1))
				y2 := load8(pb[k], o+64)
				x2 = one.Masked(y2.Equal(x2))
				y3 := load8(pb[k], o+96)
				x3 = one.Masked(y3.Equal(x3))
			case uint16(OpNotEqual)*3 + 0:
				y0 := load8(pb[k], o)
				x0 = one.Masked(x0.NotEqual(y0))
				y1 := load8(pb[k], o+32)
				x1 = one.Masked(x1.NotEqual(y1))
				y2 := load8(pb[k], o+64)
				x2 = one.Masked(x2.NotEqual(y2))
				y3 := load8(pb[k], o+96)
				x3 = one.Masked(x3.NotEqual(y3))
			case uint16(OpNotEqual)*3 + 1:
				y0 := load8(pb[k], o)
				x0 = one.Masked(y0.NotEqual(x0))
				y1 := load8(pb[k], o+32)
				x1 = one.Masked(y1.NotEqual(x1))
				y2 := load8(pb[k], o+64)
				x2 = one.Masked(y2.NotEqual(x2))
				y3 := load8(pb[k], o+96)
				x3 = one.Masked(y3.NotEqual(x3))
			case uint16(OpLess)*3 + 0:
				y0 := load8(pb[k], o)
				x0 = one.Masked(x0.Less(y0))
				y1 := load8(pb[k], o+32)
				x1 = one.Masked(x1.Less(y1))
				y2 := load8(pb[k], o+64)
				x2 = one.Masked(x2.Less(y2))
				y3 := load8(pb[k], o+96)
				x3 = one.Masked(x3.Less(y3))
			case uint16(OpLess)*3 + 1:
				y0 := load8(pb[k], o)
				x0 = one.Masked(y0.Less(x0))
				y1 := load8(pb[k], o+32)
				x1 = one.Masked(y1.Less(x1))
				y2 := load8(pb[k], o+64)
				x2 = one.Masked(y2.Less(x2))
				y3 := load8(pb[k], o+96)
				x3 = one.Masked(y3.Less(x3))
			case uint16(OpLessEqual)*3 + 0:
				y0 := load8(pb[k], o)
				x0 = one.Masked(x0.LessEqual(y0))
				y1 := load8(pb[k], o+32)
				x1 = one.Masked(x1.LessEqual(y1))
				y2 := load8(pb[k], o+64)
				x2 = one.Masked(x2.LessEqual(y2))
				y3 := load8(pb[k], o+96)
				x3 = one.Masked(x3.LessEqual(y3))
			case uint16(OpLessEqual)*3 + 1:
				y0 := load8(pb[k], o)
				x0 = one.Masked(y0.LessEqual(x0))
				y1 := load8(pb[k], o+32)
				x1 = one.Masked(y1.LessEqual(x1))
				y2 := load8(pb[k], o+64)
				x2 = one.Masked(y2.LessEqual(x2))
				y3 := load8(pb[k], o+96)
				x3 = one.Masked(y3.LessEqual(x3))
			case uint16(OpGreater)*3 + 0:
				y0 := load8(pb[k], o)
				x0 = one.Masked(x0.Greater(y0))
				y1 := load8(pb[k], o+32)
				x1 = one.Masked(x1.Greater(y1))
				y2 := load8(pb[k], o+64)
				x2 = one.Masked(x2.Greater(y2))
				y3 := load8(pb[k], o+96)
				x3 = one.Masked(x3.Greater(y3))
			case uint16(OpGreater)*3 + 1:
				y0 := load8(pb[k], o)
				x0 = one.Masked(y0.Greater(x0))
				y1 := load8(pb[k], o+32)
				x1 = one.Masked(y1.Greater(x1))
				y2 := load8(pb[k], o+64)
				x2 = one.Masked(y2.Greater(x2))
				y3 := load8(pb[k], o+96)
				x3 = one.Masked(y3.Greater(x3))
			case uint16(OpGreaterEqual)*3 + 0:
				y0 := load8(pb[k], o)
				x0 = one.Masked(x0.GreaterEqual(y0))
				y1 := load8(pb[k], o+32)
				x1 = one.Masked(x1.GreaterEqual(y1))
				y2 := load8(pb[k], o+64)
				x2 = one.Masked(x2.GreaterEqual(y2))
				y3 := load8(pb[k], o+96)
				x3 = one.Masked(x3.GreaterEqual(y3))
			case uint16(OpGreaterEqual)*3 + 1:
				y0 := load8(pb[k], o)
				x0 = one.Masked(y0.GreaterEqual(x0))
				y1 := load8(pb[k], o+32)
				x1 = one.Masked(y1.GreaterEqual(x1))
				y2 := load8(pb[k], o+64)
				x2 = one.Masked(y2.GreaterEqual(x2))
				y3 := load8(pb[k], o+96)
				x3 = one.Masked(y3.GreaterEqual(x3))
			case uint16(OpWhere)*3 + 0:
				y0 := load8(pb[k], o)
				z0 := load8(pc[k], o)
				x0 = y0.Merge(z0, x0.NotEqual(zero))
				y1 := load8(pb[k], o+32)
				z1 := load8(pc[k], o+32)
				x1 = y1.Merge(z1, x1.NotEqual(zero))
				y2 := load8(pb[k], o+64)
				z2 := load8(pc[k], o+64)
				x2 = y2.Merge(z2, x2.NotEqual(zero))
				y3 := load8(pb[k], o+96)
				z3 := load8(pc[k], o+96)
				x3 = y3.Merge(z3, x3.NotEqual(zero))
			case uint16(OpWhere)*3 + 1:
				y0 := load8(pb[k], o)
				z0 := load8(pc[k], o)
				x0 = x0.Merge(z0, y0.NotEqual(zero))
				y1 := load8(pb[k], o+32)
				z1 := load8(pc[k], o+32)
				x1 = x1.Merge(z1, y1.NotEqual(zero))
				y2 := load8(pb[k], o+64)
				z2 := load8(pc[k], o+64)
				x2 = x2.Merge(z2, y2.NotEqual(zero))
				y3 := load8(pb[k], o+96)
				z3 := load8(pc[k], o+96)
				x3 = x3.Merge(z3, y3.NotEqual(zero))
			case uint16(OpWhere)*3 + 2:
				y0 := load8(pb[k], o)
				z0 := load8(pc[k], o)
				x0 = z0.Merge(x0, y0.NotEqual(zero))
				y1 := load8(pb[k], o+32)
				z1 := load8(pc[k], o+32)
				x1 = z1.Merge(x1, y1.NotEqual(zero))
				y2 := load8(pb[k], o+64)
				z2 := load8(pc[k], o+64)
				x2 = z2.Merge(x2, y2.NotEqual(zero))
				y3 := load8(pb[k], o+96)
				z3 := load8(pc[k], o+96)
				x3 = z3.Merge(x3, y3.NotEqual(zero))
			case uint16(OpNotLess)*3 + 0:
				y0 := load8(pb[k], o)
				x0 = zero.Merge(one, x0.Less(y0))
				y1 := load8(pb[k], o+32)
				x1 = zero.Merge(one, x1.Less(y1))
				y2 := load8(pb[k], o+64)
				x2 = zero.Merge(one, x2.Less(y2))
				y3 := load8(pb[k], o+96)
				x3 = zero.Merge(one, x3.Less(y3))
			case uint16(OpNotLess)*3 + 1:
				y0 := load8(pb[k], o)
				x0 = zero.Merge(one, y0.Less(x0))
				y1 := load8(pb[k], o+32)
				x1 = zero.Merge(one, y1.Less(x1))
				y2 := load8(pb[k], o+64)
				x2 = zero.Merge(one, y2.Less(x2))
				y3 := load8(pb[k], o+96)
				x3 = zero.Merge(one, y3.Less(x3))
			case uint16(OpMulLess)*3 + 0:
				y0 := load8(pb[k], o)
				z0 := load8(pc[k], o)
				x0 = x0.Mul(one.Merge(zero, y0.Less(z0)))
				y1 := load8(pb[k], o+32)
				z1 := load8(pc[k], o+32)
				x1 = x1.Mul(one.Merge(zero, y1.Less(z1)))
				y2 := load8(pb[k], o+64)
				z2 := load8(pc[k], o+64)
				x2 = x2.Mul(one.Merge(zero, y2.Less(z2)))
				y3 := load8(pb[k], o+96)
				z3 := load8(pc[k], o+96)
				x3 = x3.Mul(one.Merge(zero, y3.Less(z3)))
			case uint16(OpMulLess)*3 + 1:
				y0 := load8(pb[k], o)
				z0 := load8(pc[k], o)
				x0 = y0.Mul(one.Merge(zero, x0.Less(z0)))
				y1 := load8(pb[k], o+32)
				z1 := load8(pc[k], o+32)
				x1 = y1.Mul(one.Merge(zero, x1.Less(z1)))
				y2 := load8(pb[k], o+64)
				z2 := load8(pc[k], o+64)
				x2 = y2.Mul(one.Merge(zero, x2.Less(z2)))
				y3 := load8(pb[k], o+96)
				z3 := load8(pc[k], o+96)
				x3 = y3.Mul(one.Merge(zero, x3.Less(z3)))
			case uint16(OpMulLess)*3 + 2:
				y0 := load8(pb[k], o)
				z0 := load8(pc[k], o)
				x0 = y0.Mul(one.Merge(zero, z0.Less(x0)))
				y1 := load8(pb[k], o+32)
				z1 := load8(pc[k], o+32)
				x1 = y1.Mul(one.Merge(zero, z1.Less(x1)))
				y2 := load8(pb[k], o+64)
				z2 := load8(pc[k], o+64)
				x2 = y2.Mul(one.Merge(zero, z2.Less(x2)))
				y3 := load8(pb[k], o+96)
				z3 := load8(pc[k], o+96)
				x3 = y3.Mul(one.Merge(zero, z3.Less(x3)))
			case uint16(OpMulNotLess)*3 + 0:
				y0 := load8(pb[k], o)
				z0 := load8(pc[k], o)
				x0 = x0.Mul(zero.Merge(one, y0.Less(z0)))
				y1 := load8(pb[k], o+32)
				z1 := load8(pc[k], o+32)
				x1 = x1.Mul(zero.Merge(one, y1.Less(z1)))
				y2 := load8(pb[k], o+64)
				z2 := load8(pc[k], o+64)
				x2 = x2.Mul(zero.Merge(one, y2.Less(z2)))
				y3 := load8(pb[k], o+96)
				z3 := load8(pc[k], o+96)
				x3 = x3.Mul(zero.Merge(one, y3.Less(z3)))
			case uint16(OpMulNotLess)*3 + 1:
				y0 := load8(pb[k], o)
				z0 := load8(pc[k], o)
				x0 = y0.Mul(zero.Merge(one, x0.Less(z0)))
				y1 := load8(pb[k], o+32)
				z1 := load8(pc[k], o+32)
				x1 = y1.Mul(zero.Merge(one, x1.Less(z1)))
				y2 := load8(pb[k], o+64)
				z2 := load8(pc[k], o+64)
				x2 = y2.Mul(zero.Merge(one, x2.Less(z2)))
				y3 := load8(pb[k], o+96)
				z3 := load8(pc[k], o+96)
				x3 = y3.Mul(zero.Merge(one, x3.Less(z3)))
			case uint16(OpMulNotLess)*3 + 2:
				y0 := load8(pb[k], o)
				z0 := load8(pc[k], o)
				x0 = y0.Mul(zero.Merge(one, z0.Less(x0)))
				y1 := load8(pb[k], o+32)
				z1 := load8(pc[k], o+32)
				x1 = y1.Mul(zero.Merge(one, z1.Less(x1)))
				y2 := load8(pb[k], o+64)
				z2 := load8(pc[k], o+64)
				x2 = y2.Mul(zero.Merge(one, z2.Less(x2)))
				y3 := load8(pb[k], o+96)
				z3 := load8(pc[k], o+96)
				x3 = y3.Mul(zero.Merge(one, z3.Less(x3)))
			case uint16(OpRelu)*3 + 0:
				x0 = zero.Merge(x0, x0.Less(zero))
				x1 = zero.Merge(x1, x1.Less(zero))
				x2 = zero.Merge(x2, x2.Less(zero))
				x3 = zero.Merge(x3, x3.Less(zero))
			case uint16(OpReluGrad)*3 + 0:
				y0 := load8(pb[k], o)
				x0 = y0.Masked(x0.Greater(zero))
				y1 := load8(pb[k], o+32)
				x1 = y1.Masked(x1.Greater(zero))
				y2 := load8(pb[k], o+64)
				x2 = y2.Masked(x2.Greater(zero))
				y3 := load8(pb[k], o+96)
				x3 = y3.Masked(x3.Greater(zero))
			case uint16(OpReluGrad)*3 + 1:
				y0 := load8(pb[k], o)
				x0 = x0.Masked(y0.Greater(zero))
				y1 := load8(pb[k], o+32)
				x1 = x1.Masked(y1.Greater(zero))
				y2 := load8(pb[k], o+64)
				x2 = x2.Masked(y2.Greater(zero))
				y3 := load8(pb[k], o+96)
				x3 = x3.Masked(y3.Greater(zero))
			}
		}
		x0.StoreArray(at8(pd, o))
		x1.StoreArray(at8(pd, o+32))
		x2.StoreArray(at8(pd, o+64))
		x3.StoreArray(at8(pd, o+96))
	}
	archsimd.ClearAVXUpperBits() // see doc.go
}
