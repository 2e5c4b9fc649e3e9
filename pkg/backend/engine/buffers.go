package engine

import (
	"errors"
	"sync/atomic"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
)

// buffer is a v1 buffer that reports engine v2 as its backend; inside the
// engine only the v1 buffers travel.
type buffer struct {
	compute.Buffer
	backend *Backend
	// output marks a buffer an execution returned (wrapOutput): one the
	// engine made and alone refers to, parked for reuse when the caller
	// finalizes it (see Finalize).
	output   bool
	released atomic.Bool
}

func (b *Backend) wrap(inner compute.Buffer) compute.Buffer {
	if inner == nil {
		return nil
	}
	return &buffer{Buffer: inner, backend: b}
}

// wrapOutput wraps a buffer an execution returns to its caller.
func (b *Backend) wrapOutput(inner compute.Buffer) compute.Buffer {
	return &buffer{Buffer: inner, backend: b, output: true}
}

// errReleased is what a finalized output answers.
var errReleased = errors.New("engine: buffer already finalized")

// Finalize implements compute.Buffer. An output of an execution that the
// caller lets go is parked in the engine's pool (bufferPool) for the next
// output of its shape, as engine v1 pools the outputs it makes itself.
// Dropped instead, each such output is a fresh allocation, zeroed and
// faulted in, on the next call: a 3x3 convolution's 8 MB input gradient
// cost 1.9 ms of a 10 ms forward pass that way (2026-12-03). The caller's
// own buffers (BufferFromFlatData, NewSharedBuffer) are finalized as
// before. A second Finalize is an error, as engine v1's, and so is the
// Finalize of a buffer donated to an execution: the engine owns it then
// (it may be parked, or be an output), so it is left alone.
func (buf *buffer) Finalize() error {
	if buf.released.Swap(true) {
		return errReleased
	}
	if !buf.output {
		return buf.Buffer.Finalize()
	}
	buf.backend.pool.put(buf.Buffer)
	return nil
}

// Data implements compute.Buffer; a finalized or donated buffer has none
// (its storage may already hold another output).
func (buf *buffer) Data() (any, error) {
	if buf.released.Load() {
		return nil, errReleased
	}
	return buf.Buffer.Data()
}

// ToFlatData implements compute.Buffer, refused as Data is.
func (buf *buffer) ToFlatData(flat any) error {
	if buf.released.Load() {
		return errReleased
	}
	return buf.Buffer.ToFlatData(flat)
}

func unwrapBuffer(buf compute.Buffer) compute.Buffer {
	if w, ok := buf.(*buffer); ok {
		return w.Buffer
	}
	return buf
}

func (buf *buffer) Backend() compute.Backend { return buf.backend }

func (buf *buffer) CopyToDevice(deviceNum compute.DeviceNum) (compute.Buffer, error) {
	inner, err := buf.Buffer.CopyToDevice(deviceNum)
	return buf.backend.wrap(inner), err
}

// BufferFromFlatData implements compute.DataInterface.
func (b *Backend) BufferFromFlatData(deviceNum compute.DeviceNum, flat any, shape shapes.Shape) (compute.Buffer, error) {
	inner, err := b.inner.BufferFromFlatData(deviceNum, flat, shape)
	return b.wrap(inner), err
}

// HasSharedBuffers implements compute.DataInterface.
func (b *Backend) HasSharedBuffers() bool { return b.inner.HasSharedBuffers() }

// NewSharedBuffer implements compute.DataInterface.
func (b *Backend) NewSharedBuffer(deviceNum compute.DeviceNum, shape shapes.Shape) (compute.Buffer, any, error) {
	inner, flat, err := b.inner.NewSharedBuffer(deviceNum, shape)
	return b.wrap(inner), flat, err
}
