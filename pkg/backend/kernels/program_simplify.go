package kernels

// Simplify returns the program with GoMLX's indicator idioms replaced by one
// comparison each, and without the instructions nothing reads any more.
//
// GoMLX writes the gradient of Min and Max, so of every clip (ReLU6 and the
// PACT, LSQ and DoReFa quantizers), as the incoming gradient times
// NonNegativeIndicator(a - b) = Sign(Sign(a - b) + 1) or times OneMinus of
// it: five and six instructions, each a pass over the tile, where one
// masked multiply gives the same bits:
//
//	Sign(Add(Sign(Sub(a, b)), 1))  -> NotLess(a, b)
//	Sub(1, NotLess(a, b))          -> Less(a, b)
//	Mul(g, Less(a, b))             -> MulLess(g, a, b)   (and NotLess alike, either operand order)
//
// Why the bits are the same: Sign(d) + 1 is 0 for d < 0 and 1 or 2
// otherwise (1 for NaN, whose Sign is 0), so its Sign is 1 exactly when
// d < 0 is false. And a - b < 0 exactly when a < b: IEEE subtraction
// rounds a nonzero difference to a value of its sign (with gradual
// underflow it never reaches zero; overflow gives the infinity of its
// sign), equal operands give +0, and a NaN difference (a NaN operand, or
// two equal infinities) is not less than 0 as the operands are not less
// than each other. 1 - (0 or 1) is the other of 1 and 0. The masked
// multiply multiplies g by the same 1 or 0 (a NaN g keeps its payload: the
// other operand is never NaN).
//
// constant gives the value of an input known when the program is built
// (the engine's: a scalar constant of the graph); the rewrites need their
// 1 to be one. Each rewrite gives its instruction's value from the inner
// instructions' operands and leaves those instructions to whoever else
// reads them, so any rewrite keeps the result's bits; Simplify makes one
// only where the instruction is the one reader of what it replaces, so
// that no comparison is computed twice.
func (p Program) Simplify(constant func(input int) (float32, bool)) Program {
	n := p.NumInputs
	code := append([]Instruction(nil), p.Code...)
	readers := make([]int, n+len(code))
	for _, ins := range code {
		for j := range ins.Op.Arity() {
			readers[ins.Args[j]]++
		}
	}
	readers[n+len(code)-1]++ // the output
	// inner returns the instruction of operand v when v is an instruction's
	// result that only one instruction reads (the one rewritten). The
	// counts are the unsimplified program's, so a later rewrite may misjudge
	// whether it saves work, never whether it keeps the bits.
	inner := func(v int, op ElementOp) (Instruction, bool) {
		if v < n || readers[v] != 1 || code[v-n].Op != op {
			return Instruction{}, false
		}
		return code[v-n], true
	}
	isOne := func(v int) bool {
		if v >= n || !p.Scalar[v] || constant == nil {
			return false
		}
		c, ok := constant(v)
		return ok && c == 1
	}
	for k, ins := range code {
		switch {
		case ins.Op == OpSign: // Sign(Add(Sign(Sub(a, b)), 1))
			add, ok := inner(ins.Args[0], OpAdd)
			if !ok {
				continue
			}
			signArg := add.Args[0]
			if !isOne(add.Args[1]) {
				if !isOne(add.Args[0]) {
					continue
				}
				signArg = add.Args[1]
			}
			sign, ok := inner(signArg, OpSign)
			if !ok {
				continue
			}
			// The difference may have other readers: it is then kept for them.
			if v := sign.Args[0]; v >= n && code[v-n].Op == OpSub {
				sub := code[v-n]
				code[k] = Instruction{Op: OpNotLess, Args: [3]int{sub.Args[0], sub.Args[1]}}
			}
		case ins.Op == OpSub && isOne(ins.Args[0]): // Sub(1, NotLess(a, b))
			if nl, ok := inner(ins.Args[1], OpNotLess); ok {
				code[k] = Instruction{Op: OpLess, Args: [3]int{nl.Args[0], nl.Args[1]}}
			}
		case ins.Op == OpMul: // Mul(g, Less(a, b)) and the like
			for j, masked := range []ElementOp{OpLess, OpNotLess} {
				for side := range 2 {
					if cmp, ok := inner(ins.Args[side], masked); ok && code[k].Op == OpMul {
						code[k] = Instruction{Op: []ElementOp{OpMulLess, OpMulNotLess}[j], Args: [3]int{ins.Args[1-side], cmp.Args[0], cmp.Args[1]}}
					}
				}
			}
		}
	}
	p.Code = dropUnread(n, code)
	return p
}

// dropUnread returns code without the instructions whose result neither the
// output nor a kept instruction reads, operands renumbered.
func dropUnread(n int, code []Instruction) []Instruction {
	live := make([]bool, len(code))
	live[len(code)-1] = true
	for k := len(code) - 1; k >= 0; k-- {
		if !live[k] {
			continue
		}
		for j := range code[k].Op.Arity() {
			if v := code[k].Args[j]; v >= n {
				live[v-n] = true
			}
		}
	}
	number := make([]int, n+len(code)) // old operand number -> new
	for i := range n {
		number[i] = i
	}
	kept := make([]Instruction, 0, len(code))
	for k, ins := range code {
		if !live[k] {
			continue
		}
		var args [3]int
		for j := range ins.Op.Arity() {
			args[j] = number[ins.Args[j]]
		}
		ins.Args = args
		number[n+k] = n + len(kept)
		kept = append(kept, ins)
	}
	return kept
}
