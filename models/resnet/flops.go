package resnet

// ForwardFLOPs is the floating-point operation count (2 per multiply-add) of
// one image's forward pass through the convolutions and the FC layer of a
// 32x32 input: the usual way to turn images/s into GFLOP/s. A training step
// costs about three times this (forward, gradient wrt inputs, wrt weights).
func (c Config) ForwardFLOPs() float64 {
	macs := 0.0
	conv := func(size, in, out, k int) { macs += float64(size * size * in * out * k * k) }
	size, in := 32, 3
	conv(size, in, c.Channels(0), 3) // stem
	in = c.Channels(0)
	for stage := range 4 {
		for block := range c.BlocksPerStage {
			out, inSize := c.Channels(stage), size
			mid := c.inner(stage*c.BlocksPerStage+block, stage)
			if stage > 0 && block == 0 {
				size /= 2
			}
			conv(size, in, mid, 3)  // conv1 (strided)
			conv(size, mid, out, 3) // conv2
			if inSize != size || in != out {
				conv(size, in, out, 1) // projection shortcut
			}
			in = out
		}
	}
	macs += float64(in * c.NumClasses)
	return 2 * macs
}
