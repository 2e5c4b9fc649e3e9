package mobilenetv2

// ForwardFLOPs is the floating-point operation count (2 per multiply-add)
// of one image's forward pass through the convolutions (depthwise ones
// included) and the FC layer of a 32x32 input.
func (c Config) ForwardFLOPs() float64 {
	macs := 0.0
	size, in := 32, c.Channels(32)
	macs += float64(size * size * 3 * in * 9) // stem
	for i, b := range Blocks {
		hidden, out := c.hidden(i), c.Channels(b.Out)
		macs += float64(size * size * in * hidden) // expansion, before the stride
		size /= b.Stride
		macs += float64(size * size * hidden * 9)   // depthwise 3x3
		macs += float64(size * size * hidden * out) // projection
		if b.Stride == 1 && in != out {
			macs += float64(size * size * in * out) // shortcut conv
		}
		in = out
	}
	last := c.Channels(1280)
	macs += float64(size * size * in * last)
	macs += float64(last * c.NumClasses)
	return 2 * macs
}
