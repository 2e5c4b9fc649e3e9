package engine

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
)

// function records the ops of one function. The recording methods of every
// op are in ops_gen.go; the ones here are written by hand.
type function struct {
	b      *builder
	shadow compute.Function
	parent *function
}

var _ compute.Function = (*function)(nil)

// Name implements compute.Function.
func (f *function) Name() string { return f.shadow.Name() }

// Builder implements compute.Function.
func (f *function) Builder() compute.Builder { return f.b }

// Parent implements compute.Function.
func (f *function) Parent() compute.Function {
	if f.parent == nil {
		return nil
	}
	return f.parent
}

// Closure implements compute.Function; closures send the graph to the
// whole-graph fallback.
func (f *function) Closure() (compute.Function, error) {
	inner, err := f.shadow.Closure()
	if err != nil {
		return nil, err
	}
	f.b.giveUp("closure")
	return &function{b: f.b, shadow: inner, parent: f}, nil
}

// Parameter implements compute.Function.
func (f *function) Parameter(name string, shape shapes.Shape, sharding *compute.ShardingSpec) (compute.Value, error) {
	v, err := f.shadow.Parameter(name, shape, sharding)
	if err != nil || f != f.b.main || f.b.fallback != "" {
		return v, err
	}
	s, err := f.b.addSlot(v, nil)
	f.b.params = append(f.b.params, s)
	f.b.paramNames = append(f.b.paramNames, name)
	return v, err
}

// Constant implements compute.Function.
func (f *function) Constant(flat any, dims ...int) (compute.Value, error) {
	v, err := f.shadow.Constant(flat, dims...)
	if err == nil {
		err = f.record("Constant", []any{flat, dims}, []compute.Value{v})
	}
	return v, err
}

// Shape implements compute.Function.
func (f *function) Shape(v compute.Value) (shapes.Shape, error) { return f.shadow.Shape(v) }

// Return implements compute.Function.
func (f *function) Return(outputs []compute.Value, shardings []*compute.ShardingSpec) error {
	if err := f.shadow.Return(outputs, shardings); err != nil {
		return err
	}
	if f != f.b.main || f.b.fallback != "" {
		return nil
	}
	f.b.outs = f.b.outs[:0]
	for _, v := range outputs {
		s, ok := f.b.slotOf[v]
		if !ok {
			f.b.giveUp("an output from outside the graph")
			return nil
		}
		f.b.outs = append(f.b.outs, s)
	}
	return nil
}

// shadowOf is the v1 function under one of ours.
func shadowOf(fn compute.Function) compute.Function {
	if w, ok := fn.(*function); ok {
		return w.shadow
	}
	return fn
}

// Call implements compute.Function (whole-graph fallback).
func (f *function) Call(fn compute.Function, inputs ...compute.Value) ([]compute.Value, error) {
	f.b.giveUp("Call")
	return f.shadow.Call(shadowOf(fn), inputs...)
}

// Sort implements compute.Function (whole-graph fallback).
func (f *function) Sort(comparator compute.Function, axis int, isStable bool, inputs ...compute.Value) ([]compute.Value, error) {
	f.b.giveUp("Sort")
	return f.shadow.Sort(shadowOf(comparator), axis, isStable, inputs...)
}

// While implements compute.Function (whole-graph fallback).
func (f *function) While(cond, body compute.Function, initialState ...compute.Value) ([]compute.Value, error) {
	f.b.giveUp("While")
	return f.shadow.While(shadowOf(cond), shadowOf(body), initialState...)
}

// If implements compute.Function (whole-graph fallback).
func (f *function) If(pred compute.Value, trueBranch, falseBranch compute.Function) ([]compute.Value, error) {
	f.b.giveUp("If")
	return f.shadow.If(pred, shadowOf(trueBranch), shadowOf(falseBranch))
}
