package engine

import (
	"reflect"
	"sync"

	"github.com/gomlx/compute"
)

// node is one recorded op. Its arguments are kept as given, except values,
// which become slot numbers (slotArg, slotsArg), so that the op can be
// replayed on another builder.
type node struct {
	op     string
	args   []any
	inputs []int // slots read, in argument order (may repeat)
	outs   []int // slots written, per output; -1 for an output that is an older value
	// native, when set, runs the op with one of the engine's kernels instead
	// of a stock segment.
	native kernel
	order  int // position in the recording
}

type (
	slotArg  int
	slotsArg []int
)

var (
	valueType  = reflect.TypeFor[compute.Value]()
	valuesType = reflect.TypeFor[[]compute.Value]()
	fnType     = reflect.TypeFor[compute.Function]()
	methods    sync.Map // op name -> reflect.Type of the compute.Function method
)

func methodType(op string) reflect.Type {
	if t, ok := methods.Load(op); ok {
		return t.(reflect.Type)
	}
	m, ok := fnType.MethodByName(op)
	if !ok {
		panic("engine: compute.Function has no method " + op)
	}
	methods.Store(op, m.Type)
	return m.Type
}

// joinValues concatenates the outputs of a multi-output op.
func joinValues(parts ...[]compute.Value) []compute.Value {
	var all []compute.Value
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

// record adds an op the shadow builder accepted.
func (f *function) record(op string, args []any, outs []compute.Value) error {
	_, err := f.recordNode(op, args, outs)
	return err
}

func (f *function) recordNode(op string, args []any, outs []compute.Value) (*node, error) {
	b := f.b
	if f != b.main {
		b.giveUp("op outside main: " + op)
	}
	if b.fallback != "" {
		return nil, nil
	}
	n := &node{op: op, args: make([]any, len(args)), order: len(b.nodes)}
	t := methodType(op)
	for i, a := range args {
		switch t.In(i) {
		case valueType:
			if a == nil { // an optional operand left out
				n.args[i] = nil
				continue
			}
			s, ok := b.slotOf[a]
			if !ok {
				b.giveUp(op + " reads a value from outside the graph")
				return nil, nil
			}
			n.args[i] = slotArg(s)
			n.inputs = append(n.inputs, s)
		case valuesType:
			vs := a.([]compute.Value)
			ss := make(slotsArg, len(vs))
			for j, v := range vs {
				s, ok := b.slotOf[v]
				if !ok {
					b.giveUp(op + " reads a value from outside the graph")
					return nil, nil
				}
				ss[j] = s
				n.inputs = append(n.inputs, s)
			}
			n.args[i] = ss
		default:
			n.args[i] = a
		}
	}
	allKnown := len(outs) > 0
	for _, v := range outs {
		// The v1 builder deduplicates: it may answer with a value it already
		// had (the same constant twice, a reshape to the same shape, one
		// output of a multi-output op). That value keeps its producer; this
		// node does not write it (-1).
		s := -1
		if _, known := b.slotOf[v]; !known {
			var err error
			if s, err = b.addSlot(v, n); err != nil {
				return nil, err
			}
		}
		allKnown = allKnown && s < 0
		n.outs = append(n.outs, s)
	}
	if allKnown {
		return nil, nil
	}
	n.native = nativeFor(b, n)
	b.nodes = append(b.nodes, n)
	return n, nil
}

// replay emits a recorded op on fn (a v1 function); value(s) gives the value
// standing for slot s there. It returns the op's outputs, flattened as
// recorded.
func replay(fn compute.Function, n *node, value func(s int) compute.Value) ([]compute.Value, error) {
	t := methodType(n.op)
	method := reflect.ValueOf(fn).MethodByName(n.op)
	in := make([]reflect.Value, len(n.args))
	for i, a := range n.args {
		pt := t.In(i)
		switch a := a.(type) {
		case slotArg:
			v := reflect.New(valueType).Elem()
			v.Set(reflect.ValueOf(value(int(a))))
			in[i] = v
		case slotsArg:
			vs := make([]compute.Value, len(a))
			for j, s := range a {
				vs[j] = value(s)
			}
			in[i] = reflect.ValueOf(vs)
		default:
			if a == nil {
				in[i] = reflect.Zero(pt)
			} else {
				in[i] = reflect.ValueOf(a)
			}
		}
	}
	var res []reflect.Value
	if t.IsVariadic() {
		res = method.CallSlice(in)
	} else {
		res = method.Call(in)
	}
	if err, _ := res[len(res)-1].Interface().(error); err != nil {
		return nil, err
	}
	var outs []compute.Value
	for _, r := range res[:len(res)-1] {
		if r.Type() == valuesType {
			outs = append(outs, r.Interface().([]compute.Value)...)
		} else {
			outs = append(outs, r.Interface())
		}
	}
	return outs, nil
}
