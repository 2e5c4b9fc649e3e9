package nn

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/support/exceptions"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// Row is one entry of a model summary: a layer or a quantizer site.
type Row struct {
	Scope  string // the layer's scope path
	Kind   string // conv, dwconv, dense, bn, or a quantizer kind (see the Quantizer* constants)
	Detail string // e.g. "3x3/64 s2", "pact:4 bits"
	Output []int  // output dimensions
	Params int    // trainable parameters created here
	// MACs are the layer's multiply-adds per example (convolutions, depthwise
	// convolutions and dense layers; 0 for other rows).
	MACs int
}

// Quantizer kinds recorded in summaries.
const (
	QuantizerWeight     = "quant-weight"
	QuantizerActivation = "quant-activation"
	QuantizerGradient   = "quant-gradient"
)

// Summary lists what a model placed, in graph-building order.
type Summary struct {
	Rows []Row
	// Store is the store Summarize built the model in: its variables are the
	// model's (freshly initialized).
	Store *model.Store
}

// summaryParam is the scope hyperparameter holding the active *Summary.
const summaryParam = "nn_summary"

// Record adds a row to the summary being collected, if any.
func Record(scope *model.Scope, kind, detail string, out *graph.Node, params int) {
	RecordLayer(scope, kind, detail, out, params, 0)
}

// RecordLayer is Record for a layer that multiplies: macs are its
// multiply-adds per example.
func RecordLayer(scope *model.Scope, kind, detail string, out *graph.Node, params, macs int) {
	s, ok := model.GetParamOr[any](scope, summaryParam, nil).(*Summary)
	if !ok || s == nil {
		return
	}
	var dims []int
	if out != nil {
		dims = slices.Clone(out.Shape().Dimensions)
	}
	s.Rows = append(s.Rows, Row{Scope: scope.Scope(), Kind: kind, Detail: detail, Output: dims, Params: params, MACs: macs})
}

// Summarize builds the model once on a placeholder input of the given shape,
// in a fresh store on the given backend (nothing is compiled or run), and
// returns the summary of what it placed. A panic while building is returned
// as an error.
func Summarize(backend compute.Backend, input shapes.Shape, build func(scope *model.Scope, x *graph.Node) *graph.Node) (s *Summary, err error) {
	store := model.NewStore()
	s = &Summary{Store: store}
	store.RootScope().SetParam(summaryParam, s)
	err = exceptions.TryCatch[error](func() {
		g := graph.NewGraph(backend, "summary")
		out := build(store.RootScope(), graph.Parameter(g, "input", input))
		Record(store.RootScope().In("output"), "output", "", out, 0)
	})
	return s, err
}

// SummarizeImages is Summarize on GoMLX's Go backend (graphs are only
// built, never compiled) for one size x size RGB image: the one call behind
// every model's Summary method.
func SummarizeImages(size int, build func(scope *model.Scope, x *graph.Node) *graph.Node) (*Summary, error) {
	return Summarize(gobackend.GetBackend(), shapes.Make(dtypes.Float32, 1, size, size, 3), build)
}

// Count returns the number of rows of a kind.
func (s *Summary) Count(kind string) int {
	n := 0
	for _, r := range s.Rows {
		if r.Kind == kind {
			n++
		}
	}
	return n
}

// MACs is the total of the layers' multiply-adds per example (twice that
// is the forward FLOPs).
func (s *Summary) MACs() int {
	n := 0
	for _, r := range s.Rows {
		n += r.MACs
	}
	return n
}

// Params is the total of trainable parameters recorded (weights, biases, BN
// scale and offset; not running statistics nor quantizer parameters).
func (s *Summary) Params() int {
	n := 0
	for _, r := range s.Rows {
		if !strings.HasPrefix(r.Kind, "quant-") {
			n += r.Params
		}
	}
	return n
}

// String formats the summary as an aligned table.
func (s *Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-44s %-16s %-18s %-18s %10s\n", "scope", "kind", "detail", "output", "params")
	for _, r := range s.Rows {
		fmt.Fprintf(&b, "%-44s %-16s %-18s %-18s %10d\n", r.Scope, r.Kind, r.Detail, fmt.Sprint(r.Output), r.Params)
	}
	fmt.Fprintf(&b, "trainable parameters: %d; weight quantizers: %d, activation quantizers: %d, gradient quantizers: %d\n",
		s.Params(), s.Count(QuantizerWeight), s.Count(QuantizerActivation), s.Count(QuantizerGradient))
	return b.String()
}
