package engine

import (
	"fmt"
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
)

// builder records one graph. The shadow builder (a v1 builder) receives every
// op as well: it validates ops, answers shape queries and, compiled whole, is
// the fallback for graphs the planner does not take.
type builder struct {
	backend *Backend
	shadow  compute.Builder
	name    string
	main    *function

	nodes      []*node
	slots      []slot                // every recorded value, by slot number
	slotOf     map[compute.Value]int // shadow value -> slot
	params     []int                 // slot of each parameter, in parameter order
	paramNames []string              // and its name
	outs       []int                 // slots returned by main
	// fallback, when set, says why the graph is compiled whole by the shadow
	// builder; recording then stops.
	fallback string
}

// slot is one value of the graph: which node made it and its shape.
type slot struct {
	producer *node // nil for parameters
	value    compute.Value
	shape    shapes.Shape
}

// Name implements compute.Builder.
func (b *builder) Name() string { return b.name }

// Main implements compute.Builder.
func (b *builder) Main() compute.Function {
	if b.main == nil {
		b.main = &function{b: b, shadow: b.shadow.Main()}
	}
	return b.main
}

// NewFunction implements compute.Builder. Functions other than main are
// closures' bodies, which the planner does not take.
func (b *builder) NewFunction(name string) (compute.Function, error) {
	inner, err := b.shadow.NewFunction(name)
	if err != nil {
		return nil, err
	}
	b.giveUp("function " + name)
	return &function{b: b, shadow: inner}, nil
}

// OpShape implements compute.Builder.
func (b *builder) OpShape(op compute.Value) (shapes.Shape, error) { return b.shadow.OpShape(op) }

// DistributedSPMD implements compute.Builder (one device: the v1 engine's answer).
func (b *builder) DistributedSPMD(numDevices int) error { return b.shadow.DistributedSPMD(numDevices) }

// DistributedAutoSharding implements compute.Builder.
func (b *builder) DistributedAutoSharding(meshes ...compute.Mesh) error {
	return b.shadow.DistributedAutoSharding(meshes...)
}

// DeviceAssignment implements compute.Builder.
func (b *builder) DeviceAssignment(devices ...compute.DeviceNum) error {
	return b.shadow.DeviceAssignment(devices...)
}

// giveUp sends the graph to the whole-graph fallback.
func (b *builder) giveUp(reason string) {
	if b.fallback == "" {
		b.fallback = reason
	}
}

// Compile implements compute.Builder.
func (b *builder) Compile() (compute.Executable, error) {
	if b.fallback == "" {
		b.fallback = b.plannable()
	}
	if b.fallback != "" {
		if profileStep() > 0 {
			fmt.Fprintf(profileOut, "engine profile: graph %q runs whole on the v1 engine (%s)\n", b.name, b.fallback)
		}
		return b.compileWhole()
	}
	flags := flagSlots(b)
	var special *builder // the recording with every flag true (flags.go)
	if len(flags) > 0 {
		special = b.clone()
		assumeTrue(special)
	}
	p, err := newPlan(b, profilePerOp())
	if err != nil {
		return nil, err
	}
	if p == nil { // nothing native: the shadow graph is the best plan.
		return b.compileWhole()
	}
	e := b.planExecutable(p)
	if special != nil {
		if e.whenTrue, err = newPlan(special, profilePerOp()); err != nil {
			return nil, err
		}
		for i, s := range b.params {
			if slices.Contains(flags, s) {
				e.flags = append(e.flags, i)
			}
		}
	}
	return e, nil
}

// plannable says why the planner cannot take the graph, or "".
func (b *builder) plannable() string {
	if !b.backend.native && profileStep() == 0 {
		return "native kernels off"
	}
	return ""
}

func (b *builder) compileWhole() (compute.Executable, error) {
	inner, err := b.shadow.Compile()
	if err != nil {
		return nil, err
	}
	return &wholeExecutable{Executable: inner, backend: b.backend}, nil
}

// wholeExecutable is a graph compiled by the v1 engine in one piece.
type wholeExecutable struct {
	compute.Executable
	backend *Backend
}

// Execute implements compute.Executable.
func (e *wholeExecutable) Execute(inputs []compute.Buffer, donate []bool, device compute.DeviceNum) ([]compute.Buffer, error) {
	inner := make([]compute.Buffer, len(inputs))
	for i, in := range inputs {
		inner[i] = unwrapBuffer(in)
	}
	outs, err := e.Executable.Execute(inner, donate, device)
	for i, o := range outs {
		outs[i] = e.backend.wrap(o)
	}
	return outs, err
}

// addSlot registers a value the shadow builder returned.
func (b *builder) addSlot(v compute.Value, producer *node) (int, error) {
	shape, err := b.shadow.OpShape(v)
	if err != nil {
		return 0, err
	}
	b.slots = append(b.slots, slot{producer: producer, value: v, shape: shape})
	b.slotOf[v] = len(b.slots) - 1
	return len(b.slots) - 1, nil
}
