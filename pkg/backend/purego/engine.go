// Package purego is mlsysrep's pure-Go compute engine v1 (backend name
// "purego:v1"): GoMLX's Go backend ("go") wrapped so that convolutional
// networks train fast on any CPU. Engine v2 (package engine, the default
// "purego") runs every op it has no native kernel for here.
//
// The wrapper embeds the stock backend and replaces only what CNNs need:
//
//   - ConvGeneral is lowered to im2col patches + DotGeneral, so it runs on the
//     Go backend's SIMD matrix multiplication instead of its direct loop
//     (about 20x faster here); depthwise convolutions take a shifted
//     multiply-add path, which has no matmul in it.
//   - BatchNormForTraining, BatchNormForInference and BatchNormGradient, which
//     the Go backend lacks, are built from its primitive ops, so GoMLX's stock
//     batch-norm layer works with its defaults.
//
// Everything else (buffers, other ops, compilation, execution) is the Go
// backend's own. The engine registers itself under [BackendName].
package purego

import (
	"fmt"
	"runtime"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
)

// BackendName is the name under which the engine is registered with
// compute.Register: GOMLX_BACKEND=purego selects it.
const BackendName = "purego"

func init() {
	compute.Register(BackendName, New)
}

// Backend is the pure-Go engine. It is a compute.Backend.
type Backend struct {
	compute.Backend // GoMLX's Go backend, which does all the work not overridden here.

	// directConv keeps the Go backend's own direct-loop convolution (config
	// "directconv"): only for measuring what the lowering gains.
	directConv bool
}

var _ compute.Backend = (*Backend)(nil)

// New creates the engine. The configuration is "" or "directconv", which
// keeps the Go backend's direct convolution (to measure the lowering's gain).
func New(config string) (compute.Backend, error) {
	if config != "" && config != "directconv" {
		return nil, fmt.Errorf("purego: unknown configuration %q (valid: \"\", \"directconv\")", config)
	}
	inner, err := gobackend.New("")
	if err != nil {
		return nil, err
	}
	return &Backend{Backend: inner, directConv: config == "directconv"}, nil
}

// Name implements compute.Backend.
func (b *Backend) Name() string { return BackendName }

// String implements compute.Backend.
func (b *Backend) String() string { return BackendName }

// Description implements compute.Backend.
func (b *Backend) Description() string {
	if b.directConv {
		return fmt.Sprintf("mlsysrep pure-Go engine with the Go backend's direct convolution (batch-norm ops) over GoMLX %s, %d CPUs",
			b.Backend.Description(), runtime.GOMAXPROCS(0))
	}
	return fmt.Sprintf("mlsysrep pure-Go engine (im2col convolutions, batch-norm ops) over GoMLX %s, %d CPUs",
		b.Backend.Description(), runtime.GOMAXPROCS(0))
}

// Capabilities implements compute.Backend: the Go backend's, plus the
// batch-norm ops, minus dynamic shapes (the lowering needs static shapes; GoMLX
// then compiles one graph per shape, as it does for XLA), and without the Go
// backend's preference for embedding variables as constants in inference
// graphs: a cached evaluation graph would then keep the weights it was built
// with while training goes on.
func (b *Backend) Capabilities() compute.Capabilities {
	c := b.Backend.Capabilities().Clone()
	c.Operations[compute.OpTypeBatchNormForTraining] = true
	c.Operations[compute.OpTypeBatchNormForInference] = true
	c.Operations[compute.OpTypeBatchNormGradient] = true
	c.Operations[compute.OpTypeConvGeneral] = true
	c.DynamicShapes = compute.DynamicShapesNone
	c.PreferConstantsForVariables = false
	return c
}

// Builder implements compute.Backend.
func (b *Backend) Builder(name string) compute.Builder {
	return &builder{Builder: b.Backend.Builder(name), backend: b}
}

// builder wraps the Go backend's builder so that every function it hands out
// is one of ours.
type builder struct {
	compute.Builder
	backend *Backend
	main    *function
}

// Compile implements compute.Builder; the executable exchanges wrapped buffers.
func (bld *builder) Compile() (compute.Executable, error) {
	inner, err := bld.Builder.Compile()
	if err != nil {
		return nil, err
	}
	return &executable{Executable: inner, backend: bld.backend}, nil
}

func (bld *builder) Main() compute.Function {
	if bld.main == nil {
		bld.main = &function{Function: bld.Builder.Main(), builder: bld}
	}
	return bld.main
}

func (bld *builder) NewFunction(name string) (compute.Function, error) {
	inner, err := bld.Builder.NewFunction(name)
	if err != nil {
		return nil, err
	}
	return &function{Function: inner, builder: bld}, nil
}

// function wraps a Go backend function: the ops overridden by the engine live
// in conv.go and batchnorm.go; the methods here only keep the wrapping
// consistent (functions passed back to the Go backend are unwrapped).
type function struct {
	compute.Function
	builder *builder
	parent  *function
}

func (f *function) Builder() compute.Builder { return f.builder }

func (f *function) Parent() compute.Function {
	if f.parent == nil {
		return nil
	}
	return f.parent
}

func (f *function) Closure() (compute.Function, error) {
	inner, err := f.Function.Closure()
	if err != nil {
		return nil, err
	}
	return &function{Function: inner, builder: f.builder, parent: f}, nil
}

// unwrap returns the Go backend's function under one of ours.
func unwrap(fn compute.Function) compute.Function {
	if w, ok := fn.(*function); ok {
		return w.Function
	}
	return fn
}

func (f *function) Call(fn compute.Function, inputs ...compute.Value) ([]compute.Value, error) {
	return f.Function.Call(unwrap(fn), inputs...)
}

func (f *function) Sort(comparator compute.Function, axis int, isStable bool, inputs ...compute.Value) ([]compute.Value, error) {
	return f.Function.Sort(unwrap(comparator), axis, isStable, inputs...)
}

func (f *function) While(cond, body compute.Function, initialState ...compute.Value) ([]compute.Value, error) {
	return f.Function.While(unwrap(cond), unwrap(body), initialState...)
}

func (f *function) If(pred compute.Value, trueBranch, falseBranch compute.Function) ([]compute.Value, error) {
	return f.Function.If(pred, unwrap(trueBranch), unwrap(falseBranch))
}
