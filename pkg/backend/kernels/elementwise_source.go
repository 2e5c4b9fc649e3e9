package kernels

// A program input need not be a tensor in memory. A Source gives its
// values tile by tile as the program reads them: random bits drawn in the
// tile (package engine's generator) or a uint32 tensor converted in the
// tile. A MobileNetV2 DoReFa step draws one uint32 tensor of gradient
// noise per quantized layer; stored, converted to float32 in a second
// tensor and read back, each cost four passes over memory of the
// gradient's size that the program's one pass does not need.

// Source gives the values of one program input, in order of elements.
type Source interface {
	// Fill writes the input's elements at, at+1, ..., at+len(dst)-1 into
	// dst. A runner calls it with consecutive ranges, tile after tile of
	// its own range: a source may keep its place in a stream between calls.
	Fill(dst []float32, at int)
}

// Uint32Source is a uint32 tensor read as float32(v) (rounded to nearest,
// ties to even: the Go backend's ConvertDType).
type Uint32Source []uint32

// Fill implements Source.
func (s Uint32Source) Fill(dst []float32, at int) {
	for i, v := range s[at : at+len(dst)] {
		dst[i] = float32(v)
	}
}

// RunSources is Run with some inputs given by sources: newSources is
// called once per worker and returns, per input, nil for an input read from
// inputs (as Run reads it) or that worker's Source of its values (inputs
// then holds nil there). A source input is a full tensor: neither a scalar,
// nor spread, nor normalized.
func (p *Program) RunSources(out []float32, inputs [][]float32, newSources func() []Source, workers int) {
	splitUnits(p.Size, tileSize, workers, func(_, lo, hi int) {
		r := p.RunnerWith(inputs, newSources())
		r.Run(out[lo:hi], lo, hi)
		r.Release()
	})
}
