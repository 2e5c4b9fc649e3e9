package mobilenetv2

import "github.com/mlsysrep/mlsysrep/pkg/nn"

// Summary builds the network once for one image (nothing is compiled or run)
// and returns its layers, output shapes, trainable parameters and quantizer
// sites; print it with its String method.
func (c Config) Summary() (*nn.Summary, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return nn.SummarizeImages(32, c.Build)
}
