package engine

import (
	"fmt"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
)

// planExecutable runs a plan.
type planExecutable struct {
	p *plan
	// whenTrue, when not nil, is the plan for executions whose flag
	// parameters (by number) all hold true (flags.go).
	whenTrue *plan
	flags    []int

	backend  *Backend
	names    []string
	inShapes []shapes.Shape
	outShape []shapes.Shape
	prof     *profiler
}

func (pb *builder) planExecutable(p *plan) *planExecutable {
	e := &planExecutable{p: p, backend: pb.backend}
	for i, s := range p.params {
		e.names = append(e.names, pb.paramNames[i])
		e.inShapes = append(e.inShapes, pb.slots[s].shape)
	}
	for _, s := range p.outs {
		e.outShape = append(e.outShape, pb.slots[s].shape)
	}
	if p.profile {
		e.prof = newProfiler(pb.name)
	}
	return e
}

// Finalize implements compute.Executable.
func (e *planExecutable) Finalize() {
	for _, p := range []*plan{e.p, e.whenTrue} {
		if p == nil {
			continue
		}
		for _, st := range p.steps {
			if st.exec != nil {
				st.exec.Finalize()
			}
		}
	}
}

// Inputs implements compute.Executable.
func (e *planExecutable) Inputs() ([]string, []shapes.Shape) { return e.names, e.inShapes }

// Outputs implements compute.Executable.
func (e *planExecutable) Outputs() []shapes.Shape { return e.outShape }

// Execute implements compute.Executable: runs the steps in order, parking
// each buffer the engine owns after its last use for the next native output
// of its shape (bufferPool). Buffers the caller
// did not donate are never freed or donated.
func (e *planExecutable) Execute(inputs []compute.Buffer, donate []bool, device compute.DeviceNum) (outs []compute.Buffer, err error) {
	p := e.p
	if e.whenTrue != nil && flagsTrue(e.flags, inputs) {
		p = e.whenTrue
	}
	defer e.backend.pool.executed()
	if len(inputs) != len(p.params) {
		return nil, fmt.Errorf("engine: %d inputs given, the graph takes %d", len(inputs), len(p.params))
	}
	bufs := make([]compute.Buffer, p.nSlots)
	owned := make([]bool, p.nSlots)
	defer func() {
		if err != nil { // free what the engine owns; the caller gets nothing.
			for s, buf := range bufs {
				if buf != nil && owned[s] {
					_ = buf.Finalize()
				}
			}
		}
	}()
	for i, s := range p.params {
		if bufs[s] != nil {
			return nil, fmt.Errorf("engine: parameter %d given twice", i)
		}
		w, wrapped := inputs[i].(*buffer)
		if wrapped && w.released.Load() {
			return nil, fmt.Errorf("engine: parameter %d: %w", i, errReleased)
		}
		bufs[s] = unwrapBuffer(inputs[i])
		owned[s] = i < len(donate) && donate[i]
		if owned[s] && wrapped { // the engine's now: a later Finalize must not park it again
			w.released.Store(true)
		}
		if owned[s] && p.lastUse[s] < 0 {
			_ = bufs[s].Finalize()
			bufs[s] = nil
		}
	}
	var run *profileRun
	if e.prof != nil {
		run = e.prof.start()
	}
	for k, st := range p.steps {
		in := make([]compute.Buffer, len(st.in))
		for i, s := range st.in {
			if in[i] = bufs[s]; in[i] == nil {
				return nil, fmt.Errorf("engine: step %d reads slot %d before it is written", k, s)
			}
		}
		start := time.Now()
		var res []compute.Buffer
		if st.native != nil {
			res, err = st.native.run(e.backend, in)
		} else {
			// Nothing is donated to a stock segment: engine v1 drops a
			// donated shared buffer (every native output is one) to the
			// garbage collector rather than pooling it, so each native
			// output a segment read last was a fresh allocation, zeroed
			// and faulted in, in the next step (LSQ MobileNetV2: 570 MB a
			// step, a third of its time). Kept, it is parked below.
			res, err = st.exec.Execute(in, nil, device)
		}
		if err != nil {
			return nil, fmt.Errorf("engine: step %d (%s): %w", k, st.ops[0], err)
		}
		if run != nil {
			run.add(st, in, time.Since(start))
		}
		for _, s := range st.in {
			if buf := bufs[s]; buf != nil && owned[s] && p.lastUse[s] == k {
				e.backend.pool.put(buf)
				bufs[s] = nil
			}
		}
		for i, s := range st.out {
			if s >= 0 && p.lastUse[s] > k {
				bufs[s], owned[s] = res[i], true
			} else if res[i] != nil { // an output nothing reads (a batch norm's unused statistics...)
				e.backend.pool.put(res[i])
			}
		}
	}
	if run != nil {
		run.done(&e.backend.pool)
	}
	outs = make([]compute.Buffer, len(p.outs))
	returned := make(map[int]compute.Buffer, len(p.outs))
	for i, s := range p.outs {
		buf := bufs[s]
		if prev, again := returned[s]; again || !owned[s] {
			// A value returned twice (a trainer updating several variables
			// with one node) or a parameter the caller keeps: each output
			// must be a buffer of its own.
			if again {
				buf = prev
			}
			if buf, err = e.backend.copyBuffer(buf); err != nil {
				for _, o := range outs[:i] {
					_ = o.Finalize()
				}
				return nil, err
			}
		} else {
			returned[s] = buf
			bufs[s] = nil
		}
		outs[i] = e.backend.wrapOutput(buf)
	}
	return outs, nil
}

// copyBuffer returns a new buffer (from the pool) with buf's shape and data.
func (b *Backend) copyBuffer(buf compute.Buffer) (compute.Buffer, error) {
	shape, err := buf.Shape()
	if err != nil {
		return nil, err
	}
	src, err := buf.Data()
	if err != nil {
		return nil, err
	}
	dst, flat, err := b.pool.getAny(b, shape)
	if err != nil {
		return nil, err
	}
	from, err := byteView(src)
	if err == nil {
		var to []byte
		if to, err = byteView(flat); err == nil {
			copy(to, from)
		}
	}
	if err != nil {
		_ = dst.Finalize()
		return nil, err
	}
	return dst, nil
}
