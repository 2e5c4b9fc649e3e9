package quant_test

import (
	"fmt"

	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
)

// A PACT activation with 2 bits and its trainable alpha (initialized to 10),
// as in the README.
func ExamplePACTLayer() {
	store := model.NewStore()
	exec, err := model.NewExec(gobackend.GetBackend(), store, func(scope *model.Scope, x *graph.Node) *graph.Node {
		return quant.PACTLayer(scope.In("pact"), x).Bits(2).Done()
	})
	if err != nil {
		panic(err)
	}
	out, err := exec.Call([]float32{-1, 2, 5, 12})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%.3f\n", out[0].Value())
	// Output: [0.000 3.333 6.667 10.000]
}

// Cells are named by their quantization config.
func ExampleParseConfig() {
	c, err := quant.ParseConfig("dorefa:w2a2g6")
	fmt.Println(c.Method, c.WBits, c.ABits, c.GBits, c, err)
	_, err = quant.ParseConfig("pact:w9a4")
	fmt.Println(err)
	// Output:
	// dorefa 2 2 6 dorefa:w2a2g6 <nil>
	// quant: pact weights: bits must be 1..8 or 32, got 9
}
