//go:build goexperiment.simd && amd64

package kernels

import (
	"simd/archsimd"
	"unsafe"
)

// chainFunc runs chain c over the first m elements of its operand tiles
// vals (m a multiple of the path's width) into dst.
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
// clipAVX2).
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
	i := 0
	// Four vectors per pass over the steps: the op dispatch is paid once per 32 elements.
	for ; i+32 <= m; i += 32 {
		o := uintptr(i) * 4
		x0 := load8(ph, o+0)
		x1 := load8(ph, o+32)
		x2 := load8(ph, o+64)
		x3 := load8(ph, o+96)
		for k := range steps {
			st := &steps[k]
			switch st.op {
			case OpCopy:
			case OpAdd:
				b := pb[k]
				if st.valueB {
					x0 = load8(b, o+0).Add(x0)
					x1 = load8(b, o+32).Add(x1)
					x2 = load8(b, o+64).Add(x2)
					x3 = load8(b, o+96).Add(x3)
				} else {
					x0 = x0.Add(load8(b, o+0))
					x1 = x1.Add(load8(b, o+32))
					x2 = x2.Add(load8(b, o+64))
					x3 = x3.Add(load8(b, o+96))
				}
			case OpSub:
				b := pb[k]
				if st.valueB {
					x0 = load8(b, o+0).Sub(x0)
					x1 = load8(b, o+32).Sub(x1)
					x2 = load8(b, o+64).Sub(x2)
					x3 = load8(b, o+96).Sub(x3)
				} else {
					x0 = x0.Sub(load8(b, o+0))
					x1 = x1.Sub(load8(b, o+32))
					x2 = x2.Sub(load8(b, o+64))
					x3 = x3.Sub(load8(b, o+96))
				}
			case OpMul:
				b := pb[k]
				if st.valueB {
					x0 = load8(b, o+0).Mul(x0)
					x1 = load8(b, o+32).Mul(x1)
					x2 = load8(b, o+64).Mul(x2)
					x3 = load8(b, o+96).Mul(x3)
				} else {
					x0 = x0.Mul(load8(b, o+0))
					x1 = x1.Mul(load8(b, o+32))
					x2 = x2.Mul(load8(b, o+64))
					x3 = x3.Mul(load8(b, o+96))
				}
			case OpDiv:
				b := pb[k]
				if st.valueB {
					x0 = load8(b, o+0).Div(x0)
					x1 = load8(b, o+32).Div(x1)
					x2 = load8(b, o+64).Div(x2)
					x3 = load8(b, o+96).Div(x3)
				} else {
					x0 = x0.Div(load8(b, o+0))
					x1 = x1.Div(load8(b, o+32))
					x2 = x2.Div(load8(b, o+64))
					x3 = x3.Div(load8(b, o+96))
				}
			case OpMin:
				b := pb[k]
				if st.valueB {
					y0 := load8(b, o+0)
					x0 = y0.Merge(x0, y0.Less(x0))
					y1 := load8(b, o+32)
					x1 = y1.Merge(x1, y1.Less(x1))
					y2 := load8(b, o+64)
					x2 = y2.Merge(x2, y2.Less(x2))
					y3 := load8(b, o+96)
					x3 = y3.Merge(x3, y3.Less(x3))
				} else {
					y0 := load8(b, o+0)
					x0 = x0.Merge(y0, x0.Less(y0))
					y1 := load8(b, o+32)
					x1 = x1.Merge(y1, x1.Less(y1))
					y2 := load8(b, o+64)
					x2 = x2.Merge(y2, x2.Less(y2))
					y3 := load8(b, o+96)
					x3 = x3.Merge(y3, x3.Less(y3))
				}
			case OpMax:
				b := pb[k]
				if st.valueB {
					y0 := load8(b, o+0)
					x0 = y0.Merge(x0, y0.Greater(x0))
					y1 := load8(b, o+32)
					x1 = y1.Merge(x1, y1.Greater(x1))
					y2 := load8(b, o+64)
					x2 = y2.Merge(x2, y2.Greater(x2))
					y3 := load8(b, o+96)
					x3 = y3.Merge(x3, y3.Greater(x3))
				} else {
					y0 := load8(b, o+0)
					x0 = x0.Merge(y0, x0.Greater(y0))
					y1 := load8(b, o+32)
					x1 = x1.Merge(y1, x1.Greater(y1))
					y2 := load8(b, o+64)
					x2 = x2.Merge(y2, x2.Greater(y2))
					y3 := load8(b, o+96)
					x3 = x3.Merge(y3, x3.Greater(y3))
				}
			case OpNeg:
				x0 = x0.Neg()
				x1 = x1.Neg()
				x2 = x2.Neg()
				x3 = x3.Neg()
			case OpAbs:
				x0 = x0.Abs()
				x1 = x1.Abs()
				x2 = x2.Abs()
				x3 = x3.Abs()
			case OpSign:
				x0 = one.Merge(minus.Merge(zero, x0.Less(zero)), x0.Greater(zero))
				x1 = one.Merge(minus.Merge(zero, x1.Less(zero)), x1.Greater(zero))
				x2 = one.Merge(minus.Merge(zero, x2.Less(zero)), x2.Greater(zero))
				x3 = one.Merge(minus.Merge(zero, x3.Less(zero)), x3.Greater(zero))
			case OpRound:
				x0 = x0.Round()
				x1 = x1.Round()
				x2 = x2.Round()
				x3 = x3.Round()
			case OpRelu:
				x0 = zero.Merge(x0, x0.Less(zero))
				x1 = zero.Merge(x1, x1.Less(zero))
				x2 = zero.Merge(x2, x2.Less(zero))
				x3 = zero.Merge(x3, x3.Less(zero))
			case OpMulLess:
				b, c := pb[k], pc[k]
				x0 = x0.Mul(one.Merge(zero, load8(b, o+0).Less(load8(c, o+0))))
				x1 = x1.Mul(one.Merge(zero, load8(b, o+32).Less(load8(c, o+32))))
				x2 = x2.Mul(one.Merge(zero, load8(b, o+64).Less(load8(c, o+64))))
				x3 = x3.Mul(one.Merge(zero, load8(b, o+96).Less(load8(c, o+96))))
			case OpMulNotLess:
				b, c := pb[k], pc[k]
				x0 = x0.Mul(zero.Merge(one, load8(b, o+0).Less(load8(c, o+0))))
				x1 = x1.Mul(zero.Merge(one, load8(b, o+32).Less(load8(c, o+32))))
				x2 = x2.Mul(zero.Merge(one, load8(b, o+64).Less(load8(c, o+64))))
				x3 = x3.Mul(zero.Merge(one, load8(b, o+96).Less(load8(c, o+96))))
			}
		}
		x0.StoreArray(at8(pd, o+0))
		x1.StoreArray(at8(pd, o+32))
		x2.StoreArray(at8(pd, o+64))
		x3.StoreArray(at8(pd, o+96))
	}
	for ; i < m; i += 8 {
		o := uintptr(i) * 4
		x := load8(ph, o)
		for k := range steps {
			st := &steps[k]
			switch st.op {
			case OpCopy:
			case OpAdd:
				if y := load8(pb[k], o); st.valueB {
					x = y.Add(x)
				} else {
					x = x.Add(y)
				}
			case OpSub:
				if y := load8(pb[k], o); st.valueB {
					x = y.Sub(x)
				} else {
					x = x.Sub(y)
				}
			case OpMul:
				if y := load8(pb[k], o); st.valueB {
					x = y.Mul(x)
				} else {
					x = x.Mul(y)
				}
			case OpDiv:
				if y := load8(pb[k], o); st.valueB {
					x = y.Div(x)
				} else {
					x = x.Div(y)
				}
			case OpMin:
				a, b := x, load8(pb[k], o)
				if st.valueB {
					a, b = b, x
				}
				x = a.Merge(b, a.Less(b))
			case OpMax:
				a, b := x, load8(pb[k], o)
				if st.valueB {
					a, b = b, x
				}
				x = a.Merge(b, a.Greater(b))
			case OpNeg:
				x = x.Neg()
			case OpAbs:
				x = x.Abs()
			case OpSign:
				x = one.Merge(minus.Merge(zero, x.Less(zero)), x.Greater(zero))
			case OpRound:
				x = x.Round()
			case OpMulLess:
				x = x.Mul(one.Merge(zero, load8(pb[k], o).Less(load8(pc[k], o))))
			case OpMulNotLess:
				x = x.Mul(zero.Merge(one, load8(pb[k], o).Less(load8(pc[k], o))))
			case OpRelu:
				x = zero.Merge(x, x.Less(zero))
			}
		}
		x.StoreArray(at8(pd, o))
	}
	archsimd.ClearAVXUpperBits() // see doc.go
}
