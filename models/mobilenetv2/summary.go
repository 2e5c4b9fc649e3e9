package mobilenetv2

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/shapes"
	"github.com/mlsysrep/mlsysrep/pkg/nn"
)

// Summary builds the network once for a batch of one image (nothing is
// compiled or run) and returns its layers, output shapes, trainable
// parameters and quantizer sites; print it with its String method.
func (c Config) Summary() (*nn.Summary, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return nn.Summarize(gobackend.GetBackend(), shapes.Make(dtypes.Float32, 1, 32, 32, 3), c.Build)
}
