package purego

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
)

// GoMLX tensors remember the backend that made their buffers and refuse to mix
// backends, so buffers are wrapped to report the engine as their backend, and
// unwrapped before the Go backend sees them.

type buffer struct {
	compute.Buffer
	backend *Backend
}

func (b *Backend) wrapBuffer(inner compute.Buffer) compute.Buffer {
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
	return buf.backend.wrapBuffer(inner), err
}

// BufferFromFlatData implements compute.DataInterface.
func (b *Backend) BufferFromFlatData(deviceNum compute.DeviceNum, flat any, shape shapes.Shape) (compute.Buffer, error) {
	inner, err := b.Backend.BufferFromFlatData(deviceNum, flat, shape)
	return b.wrapBuffer(inner), err
}

// NewSharedBuffer implements compute.DataInterface.
func (b *Backend) NewSharedBuffer(deviceNum compute.DeviceNum, shape shapes.Shape) (compute.Buffer, any, error) {
	inner, flat, err := b.Backend.NewSharedBuffer(deviceNum, shape)
	return b.wrapBuffer(inner), flat, err
}

// executable unwraps input buffers and wraps output buffers of a compiled graph.
type executable struct {
	compute.Executable
	backend *Backend
}

func (e *executable) Execute(inputs []compute.Buffer, donate []bool, defaultDevice compute.DeviceNum) ([]compute.Buffer, error) {
	innerInputs := make([]compute.Buffer, len(inputs))
	for i, in := range inputs {
		innerInputs[i] = unwrapBuffer(in)
	}
	outputs, err := e.Executable.Execute(innerInputs, donate, defaultDevice)
	for i, out := range outputs {
		outputs[i] = e.backend.wrapBuffer(out)
	}
	return outputs, err
}
