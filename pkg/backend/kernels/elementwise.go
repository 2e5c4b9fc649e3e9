package kernels

import (
	"fmt"
	"math"
)

// Elementwise ops run by Program: every operand and result is a float32
// slice of the same length (a tile); booleans are 1 and 0. Each op rounds
// exactly as the Go backend's op of the same name on float32 (its SIMD
// kernels where it has them), so a program gives the bits the unfused ops
// give: arithmetic is IEEE (no FMA), Min and Max return the second operand
// when the comparison is false (VMINPS/VMAXPS: NaN and equal zeros), Sign
// gives 0 for 0 and NaN, Round rounds half to even.
type ElementOp uint8

// The ops.
const (
	OpCopy         ElementOp = iota // a (also a bool -> float32 conversion: 1 and 0 stay)
	OpAdd                           // a + b
	OpSub                           // a - b
	OpMul                           // a * b
	OpDiv                           // a / b
	OpMin                           // a < b ? a : b
	OpMax                           // a > b ? a : b
	OpNeg                           // -a
	OpAbs                           // |a|
	OpSign                          // a > 0 ? 1 : a < 0 ? -1 : 0
	OpRound                         // a rounded half to even
	OpEqual                         // a == b ? 1 : 0
	OpNotEqual                      // a != b ? 1 : 0
	OpLess                          // a < b ? 1 : 0
	OpLessEqual                     // a <= b ? 1 : 0
	OpGreater                       // a > b ? 1 : 0
	OpGreaterEqual                  // a >= b ? 1 : 0
	OpWhere                         // a != 0 ? b : c
	OpNotLess                       // a < b ? 0 : 1 (1 for NaN: GoMLX's NonNegativeIndicator(a - b), see Simplify)
	OpMulLess                       // a * (b < c ? 1 : 0): a gradient masked by a clip's indicator
	OpMulNotLess                    // a * (b < c ? 0 : 1)
	OpRelu                          // a < 0 ? 0 : a (NaN and -0 kept: GoMLX's ReLU, see Relu)
	OpReluGrad                      // a > 0 ? b : 0 (ReLU's gradient: a its input or output, b the output gradient)
	numElementOps
)

var elementOpNames = [...]string{"Copy", "Add", "Sub", "Mul", "Div", "Min", "Max", "Neg", "Abs", "Sign", "Round",
	"Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual", "Where", "NotLess", "MulLess", "MulNotLess", "Relu", "ReluGrad"}

func (op ElementOp) String() string {
	if int(op) < len(elementOpNames) {
		return elementOpNames[op]
	}
	return fmt.Sprintf("ElementOp(%d)", op)
}

// Arity is the number of operands of the op.
func (op ElementOp) Arity() int {
	switch op {
	case OpCopy, OpNeg, OpAbs, OpSign, OpRound, OpRelu:
		return 1
	case OpWhere, OpMulLess, OpMulNotLess:
		return 3
	}
	return 2
}

// applyGeneric runs op over out with plain Go loops (the tails of the SIMD
// paths and the generic path).
func applyGeneric(op ElementOp, out, a, b, c []float32) {
	n := len(out)
	a = a[:n]
	if op.Arity() >= 2 {
		b = b[:n]
	}
	if op.Arity() == 3 {
		c = c[:n]
	}
	switch op {
	case OpCopy:
		copy(out, a)
	case OpAdd:
		for i := range out {
			out[i] = a[i] + b[i]
		}
	case OpSub:
		for i := range out {
			out[i] = a[i] - b[i]
		}
	case OpMul:
		for i := range out {
			out[i] = a[i] * b[i]
		}
	case OpDiv:
		for i := range out {
			out[i] = a[i] / b[i]
		}
	case OpMin:
		for i := range out {
			if a[i] < b[i] {
				out[i] = a[i]
			} else {
				out[i] = b[i]
			}
		}
	case OpMax:
		for i := range out {
			if a[i] > b[i] {
				out[i] = a[i]
			} else {
				out[i] = b[i]
			}
		}
	case OpNeg:
		for i := range out {
			out[i] = -a[i]
		}
	case OpAbs:
		for i := range out {
			out[i] = float32(math.Abs(float64(a[i])))
		}
	case OpSign:
		for i := range out {
			switch {
			case a[i] > 0:
				out[i] = 1
			case a[i] < 0:
				out[i] = -1
			default:
				out[i] = 0
			}
		}
	case OpRound:
		for i := range out {
			out[i] = float32(math.RoundToEven(float64(a[i])))
		}
	case OpEqual:
		for i := range out {
			out[i] = b2f(a[i] == b[i])
		}
	case OpNotEqual:
		for i := range out {
			out[i] = b2f(a[i] != b[i])
		}
	case OpLess:
		for i := range out {
			out[i] = b2f(a[i] < b[i])
		}
	case OpLessEqual:
		for i := range out {
			out[i] = b2f(a[i] <= b[i])
		}
	case OpGreater:
		for i := range out {
			out[i] = b2f(a[i] > b[i])
		}
	case OpGreaterEqual:
		for i := range out {
			out[i] = b2f(a[i] >= b[i])
		}
	case OpNotLess:
		for i := range out {
			out[i] = b2f(!(a[i] < b[i]))
		}
	case OpMulLess:
		for i := range out {
			out[i] = a[i] * b2f(b[i] < c[i])
		}
	case OpMulNotLess:
		for i := range out {
			out[i] = a[i] * b2f(!(b[i] < c[i]))
		}
	case OpRelu:
		for i := range out {
			if a[i] < 0 {
				out[i] = 0
			} else {
				out[i] = a[i]
			}
		}
	case OpReluGrad:
		for i := range out {
			if a[i] > 0 {
				out[i] = b[i]
			} else {
				out[i] = 0
			}
		}
	case OpWhere:
		for i := range out {
			if a[i] != 0 {
				out[i] = b[i]
			} else {
				out[i] = c[i]
			}
		}
	default:
		panic(fmt.Sprintf("kernels: unknown element op %d", op))
	}
}

func b2f(v bool) float32 {
	if v {
		return 1
	}
	return 0
}

// applyFunc is one path's implementation of every op over a tile.
type applyFunc func(op ElementOp, out, a, b, c []float32)

// currentApply is the element-op implementation of the kernel path in use.
func currentApply() applyFunc {
	if f := simdApply(Path()); f != nil {
		return f
	}
	return applyGeneric
}
