package engine

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
)

// buffer is a v1 buffer that reports engine v2 as its backend; inside the
// engine only the v1 buffers travel.
type buffer struct {
	compute.Buffer
	backend *Backend
}

func (b *Backend) wrap(inner compute.Buffer) compute.Buffer {
	if inner == nil {
		return nil
	}
	return &buffer{Buffer: inner, backend: b}
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
