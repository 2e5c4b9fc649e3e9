package engine

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
)

// rngKernel runs RNGBitGenerator with the stock generator's exact stream:
// the Go backend seeds math/rand/v2's PCG with the two state words and takes
// the bytes of each Uint64 low byte first, one byte per loop iteration;
// here each Uint64 is stored whole (eight bytes at a time, little-endian, the
// same bytes) into a pooled buffer. DoReFa's gradient noise draws one such
// tensor per quantized layer and step (7% of a MobileNetV2 DoReFa step on
// the stock op). The new state is PCG's, as the stock op writes it. The
// words are drawn on every core, each worker from its place in the stream
// (rng_jump.go): the same bytes.
type rngKernel struct {
	stateShape, shape shapes.Shape
	// stateOnly: the fused program that reads the bits draws them itself
	// (fuseRandomBits); the kernel only moves the state past them and
	// returns no bits.
	stateOnly bool
}

// rngRuns counts native RNGBitGenerator runs, rngStateRuns those of them
// that only moved the state (a fused program drew the bits): tests check
// they ran.
var rngRuns, rngStateRuns atomic.Int64

func rngKernelFor(b *builder, n *node) kernel {
	shape, ok := n.args[1].(shapes.Shape)
	if !ok || len(n.outs) != 2 {
		return nil
	}
	state := b.slots[n.inputs[0]].shape
	if state.DType != dtypes.Uint64 || state.Size() < 2 || !shape.Ok() || shape.IsDynamic() {
		return nil
	}
	return &rngKernel{stateShape: state, shape: shape}
}

func (k *rngKernel) run(b *Backend, in []compute.Buffer) ([]compute.Buffer, error) {
	data, err := in[0].Data()
	if err != nil {
		return nil, err
	}
	state, ok := data.([]uint64)
	if !ok || len(state) < 2 {
		return nil, fmt.Errorf("engine: RNGBitGenerator state is %T, want []uint64", data)
	}
	var values compute.Buffer
	var hi, lo uint64
	if k.stateOnly {
		hi, lo = pcgJump(state[0], state[1], wordsFor(int(k.shape.ByteSize())))
		rngStateRuns.Add(1)
	} else {
		var flat any
		if values, flat, err = b.pool.getAny(b, k.shape); err != nil {
			return nil, err
		}
		bytes, err := byteView(flat)
		if err != nil {
			return nil, err
		}
		hi, lo = fillRandomBytesParallel(bytes, state[0], state[1], runtime.GOMAXPROCS(0))
	}
	pcg := rand.NewPCG(hi, lo) // the state after the draws, encoded below as before

	newState, stateFlat, err := b.pool.getAny(b, k.stateShape)
	if err != nil {
		return nil, err
	}
	words := stateFlat.([]uint64)
	copy(words, state) // words past the first two are carried over, as the stock op does
	enc, err := pcg.MarshalBinary()
	if err != nil || len(enc) != 20 || string(enc[:4]) != "pcg:" {
		return nil, fmt.Errorf("engine: RNGBitGenerator: unexpected PCG state encoding (%d bytes, %v)", len(enc), err)
	}
	words[0] = binary.LittleEndian.Uint64(enc[4:12])
	words[1] = binary.LittleEndian.Uint64(enc[12:20])
	rngRuns.Add(1)
	return []compute.Buffer{newState, values}, nil
}

// fillRandomBytes writes the bytes of successive pcg.Uint64 values, low byte
// first, as the stock generator does (a last partial word gives its low
// bytes).
func fillRandomBytes(bytes []byte, pcg *rand.PCG) {
	i := 0
	for ; i+8 <= len(bytes); i += 8 {
		binary.LittleEndian.PutUint64(bytes[i:], pcg.Uint64())
	}
	if i < len(bytes) {
		bits := pcg.Uint64()
		for ; i < len(bytes); i++ {
			bytes[i] = byte(bits)
			bits >>= 8
		}
	}
}

// byteView is the memory of a buffer's flat slice (any fixed-size element
// type) as bytes, without a copy.
func byteView(flat any) ([]byte, error) {
	v := reflect.ValueOf(flat)
	if v.Kind() != reflect.Slice || v.Type().Elem().Kind() == reflect.Pointer {
		return nil, fmt.Errorf("engine: buffer storage %T is not a slice of values", flat)
	}
	if v.Len() == 0 {
		return nil, nil
	}
	size := int(v.Type().Elem().Size())
	return unsafe.Slice((*byte)(v.UnsafePointer()), v.Len()*size), nil
}
