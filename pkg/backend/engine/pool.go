package engine

import (
	"sync"
	"sync/atomic"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
)

// bufferPool keeps dead buffers of the engine for the next native kernel
// output of the same shape.
//
// Why: a buffer made with NewSharedBuffer is never pooled by the v1 engine
// (it counts as user data), so native outputs would be fresh Go allocations
// every step: page faults, zeroing and garbage collections, which also empty
// the v1 engine's own sync.Pool of buffers. Dead buffers of any origin are
// parked here instead, a few per shape, and written over by native kernels
// (a stock buffer's Data is its storage).
type bufferPool struct {
	mu      sync.Mutex
	byShape map[poolKey][]compute.Buffer
	// gen counts executions; used holds, per shape, the last one that took
	// or parked a buffer of it, so that shapes no graph uses any more (an
	// evaluation batch's, during training, and the training's during an
	// evaluation) are let go instead of held for the whole run.
	gen  uint64
	used map[poolKey]uint64
	// taken counts, per shape, the buffers taken in the current execution,
	// and peak the most taken in one execution since the shape was last
	// idle: the pool keeps no more parked buffers of a shape than that.
	taken, peak map[poolKey]int
	bytes       int64 // parked, in all
}

// poolBudget bounds the bytes parked in all: a buffer that would pass it is
// finalized instead (back to engine v1's pool). It keeps a process that
// trains and evaluates many models (the runner's tests) near engine v1's
// memory, while a MobileNetV2 step's dead activations still fit.
const poolBudget = 2 << 30

// poolIdleExecutions is how many executions a shape's parked buffers
// outlive their last use.
const poolIdleExecutions = 8

// poolDepth bounds how many dead buffers of one shape are kept. A training
// step keeps many activations of one shape alive for the backward pass
// (MobileNetV2: dozens), and every one the pool lets go is a fresh
// allocation, zeroed and faulted in, in the next step's forward pass. At the
// end of each execution the pool keeps, per shape, only as many buffers as
// one execution has taken (peak): buffers that are parked but never taken
// (a donated variable whose update a stock segment writes into a buffer of
// its own) would otherwise pile up every step. So the bound is only a guard.
const poolDepth = 256

// poolKey tells shapes apart for the pool: the dtype and up to
// maxKeyRank dimensions, or, for a shape of higher rank, its String. It
// is a comparable value made without formatting: Shape.String, the key
// before it, was 11% of the time of a run of tiny fused programs.
type poolKey struct {
	dtype dtypes.DType
	rank  int
	dims  [maxKeyRank]int
	long  string // the shape's String when rank > maxKeyRank
}

const maxKeyRank = 6

func keyOf(shape shapes.Shape) poolKey {
	k := poolKey{dtype: shape.DType, rank: shape.Rank()}
	if k.rank > maxKeyRank {
		k.long = shape.String()
		return k
	}
	copy(k.dims[:], shape.Dimensions)
	return k
}

// get returns a buffer of the float32 shape and its storage: a parked one,
// or a new shared buffer.
func (p *bufferPool) get(b *Backend, shape shapes.Shape) (compute.Buffer, []float32, error) {
	buf, flat, err := p.getAny(b, shape)
	if err != nil {
		return nil, nil, err
	}
	return buf, flat.([]float32), nil
}

// getAny returns a buffer of the shape (any dtype) and its storage (a slice
// of the dtype's Go type).
func (p *bufferPool) getAny(b *Backend, shape shapes.Shape) (compute.Buffer, any, error) {
	key := keyOf(shape)
	p.mu.Lock()
	p.touch(key)
	if p.taken == nil {
		p.taken = make(map[poolKey]int)
	}
	p.taken[key]++
	if list := p.byShape[key]; len(list) > 0 {
		buf := list[len(list)-1]
		p.byShape[key] = list[:len(list)-1]
		p.bytes -= int64(shape.ByteSize())
		p.mu.Unlock()
		flat, err := buf.Data()
		if err == nil {
			poolHits.Add(1)
			return buf, flat, nil
		}
		_ = buf.Finalize()
	} else {
		p.mu.Unlock()
	}
	poolMisses.Add(1)
	poolMissBytes.Add(int64(shape.ByteSize()))
	return b.inner.NewSharedBuffer(0, shape)
}

// put parks a dead buffer, or finalizes it when the shape's list is full.
func (p *bufferPool) put(buf compute.Buffer) {
	shape, err := buf.Shape()
	if err != nil {
		_ = buf.Finalize()
		return
	}
	key := keyOf(shape)
	p.mu.Lock()
	if p.byShape == nil {
		p.byShape = make(map[poolKey][]compute.Buffer)
	}
	p.touch(key)
	size := int64(shape.ByteSize())
	list := p.byShape[key]
	// Once an execution has shown how many buffers of the shape native
	// kernels take, parking more only holds memory that stock segments
	// (which allocate through engine v1) then allocate afresh: the
	// surplus goes back to engine v1 instead, and the budget stays for the
	// shapes native kernels need.
	need, known := p.peak[key]
	if (!known || len(list) < max(need, p.taken[key])) && len(list) < poolDepth && p.bytes+size <= poolBudget {
		p.byShape[key] = append(list, buf)
		p.bytes += size
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	_ = buf.Finalize()
}

// touch records a use of the shape key (p.mu held).
func (p *bufferPool) touch(key poolKey) {
	if p.used == nil {
		p.used = make(map[poolKey]uint64)
	}
	p.used[key] = p.gen
}

// executed ends one execution: parked buffers beyond a shape's peak, and
// those of shapes unused for poolIdleExecutions executions, are finalized.
func (p *bufferPool) executed() {
	var idle []compute.Buffer
	p.mu.Lock()
	p.gen++
	if p.peak == nil {
		p.peak = make(map[poolKey]int)
	}
	for key, n := range p.taken {
		p.peak[key] = max(p.peak[key], n)
	}
	for key := range p.byShape { // parked but never taken: known to need none
		if _, known := p.peak[key]; !known {
			p.peak[key] = 0
		}
	}
	clear(p.taken)
	for key, list := range p.byShape {
		if keep := p.peak[key]; len(list) > keep {
			idle = append(idle, list[keep:]...)
			p.byShape[key] = list[:keep]
		}
	}
	for key, last := range p.used {
		if p.gen-last > poolIdleExecutions {
			idle = append(idle, p.byShape[key]...)
			delete(p.byShape, key)
			delete(p.used, key)
			delete(p.peak, key)
		}
	}
	for _, buf := range idle {
		if s, err := buf.Shape(); err == nil {
			p.bytes -= int64(s.ByteSize())
		}
	}
	p.mu.Unlock()
	for _, buf := range idle {
		_ = buf.Finalize()
	}
}

// poolHits counts outputs served from the pool (tests check reuse happens).
var poolHits atomic.Int64

// poolMisses and poolMissBytes count the buffers the pool had to allocate
// for native outputs and the engine's copies of returned values (the
// profiler prints those of the execution it times: each is memory zeroed
// and faulted in).
var poolMisses, poolMissBytes atomic.Int64

// stats reports how many dead buffers the pool holds and their size in
// bytes (the profiler prints them).
func (p *bufferPool) stats() (buffers int, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, list := range p.byShape {
		for _, buf := range list {
			if s, err := buf.Shape(); err == nil {
				buffers++
				bytes += int64(s.ByteSize())
			}
		}
	}
	return buffers, bytes
}
