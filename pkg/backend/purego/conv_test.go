package purego

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// convCase is one ConvGeneral configuration, in channels-last layout unless
// channelsFirst is set.
type convCase struct {
	name                string
	batch, inC, outC    int
	spatial, kernel     []int
	strides             []int
	paddings            [][2]int
	inputDil, kernelDil []int
	groups, batchGroups int
	channelsFirst       bool
}

func (c convCase) axes() compute.ConvolveAxesConfig {
	d := len(c.spatial)
	var a compute.ConvolveAxesConfig
	for j := range d {
		a.KernelSpatial = append(a.KernelSpatial, j)
		if c.channelsFirst {
			a.InputSpatial = append(a.InputSpatial, 2+j)
			a.OutputSpatial = append(a.OutputSpatial, 2+j)
		} else {
			a.InputSpatial = append(a.InputSpatial, 1+j)
			a.OutputSpatial = append(a.OutputSpatial, 1+j)
		}
	}
	a.KernelInputChannels, a.KernelOutputChannels = d, d+1
	if c.channelsFirst {
		a.InputBatch, a.InputChannels = 0, 1
		a.OutputBatch, a.OutputChannels = 0, 1
	} else {
		a.InputBatch, a.InputChannels = 0, d+1
		a.OutputBatch, a.OutputChannels = 0, d+1
	}
	return a
}

func randomTensor(rng *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

// run computes the convolution and the gradients of sum(conv * v) with
// respect to input and kernel on the given backend.
func (c convCase) run(t *testing.T, backend compute.Backend) [][]float32 {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	inDims := append([]int{c.batch}, c.spatial...)
	if c.channelsFirst {
		inDims = append([]int{c.batch, c.inC}, c.spatial...)
	} else {
		inDims = append(inDims, c.inC)
	}
	groups := max(c.groups, 1)
	kDims := append(append([]int{}, c.kernel...), c.inC/groups, c.outC)
	x, k := randomTensor(rng, inDims...), randomTensor(rng, kDims...)
	exec, err := graph.NewExec(backend, func(x, k *graph.Node) []*graph.Node {
		y := graph.ConvGeneral(x, k, c.axes(), c.strides, c.paddings, c.inputDil, c.kernelDil, c.groups, c.batchGroups)
		// A fixed, non-uniform cotangent so that every output element matters.
		v := graph.Sin(graph.Iota(x.Graph(), y.Shape(), y.Rank()-1))
		v = graph.Add(v, graph.Cos(graph.Iota(x.Graph(), y.Shape(), 0)))
		grads := graph.Gradient(graph.ReduceAllSum(graph.Mul(y, v)), x, k)
		return []*graph.Node{y, grads[0], grads[1]}
	})
	if err != nil {
		t.Fatal(err)
	}
	outs, err := exec.Call(x, k)
	if err != nil {
		t.Fatalf("%s on %s: %v", c.name, backend.Name(), err)
	}
	var flat [][]float32
	for _, o := range outs {
		flat = append(flat, tensors.MustCopyFlatData[float32](o))
	}
	return flat
}

var convCases = []convCase{
	{name: "3x3/s1/same", batch: 2, inC: 3, outC: 5, spatial: []int{7, 7}, kernel: []int{3, 3}, paddings: [][2]int{{1, 1}, {1, 1}}},
	{name: "3x3/s2/pad1/odd", batch: 2, inC: 4, outC: 3, spatial: []int{9, 9}, kernel: []int{3, 3}, strides: []int{2, 2}, paddings: [][2]int{{1, 1}, {1, 1}}},
	{name: "3x3/s2/pad1/even", batch: 2, inC: 4, outC: 3, spatial: []int{8, 8}, kernel: []int{3, 3}, strides: []int{2, 2}, paddings: [][2]int{{1, 1}, {1, 1}}},
	{name: "5x5/valid", batch: 2, inC: 3, outC: 4, spatial: []int{8, 9}, kernel: []int{5, 5}},
	{name: "1x1/s2/shortcut", batch: 3, inC: 4, outC: 6, spatial: []int{8, 8}, kernel: []int{1, 1}, strides: []int{2, 2}},
	{name: "1x1/s1", batch: 3, inC: 5, outC: 7, spatial: []int{6, 5}, kernel: []int{1, 1}},
	{name: "1x1/s1/channels-first", batch: 2, inC: 4, outC: 3, spatial: []int{5, 6}, kernel: []int{1, 1}, channelsFirst: true},
	{name: "kernel-as-large-as-input", batch: 3, inC: 2, outC: 4, spatial: []int{5, 4}, kernel: []int{5, 4}},
	{name: "3x3/kernel-dilation2", batch: 2, inC: 3, outC: 2, spatial: []int{9, 9}, kernel: []int{3, 3}, kernelDil: []int{2, 2}, paddings: [][2]int{{2, 2}, {2, 2}}},
	{name: "3x3/input-dilation2", batch: 2, inC: 3, outC: 2, spatial: []int{5, 5}, kernel: []int{3, 3}, inputDil: []int{2, 2}, paddings: [][2]int{{1, 1}, {1, 1}}},
	{name: "3x2/asymmetric", batch: 2, inC: 2, outC: 3, spatial: []int{6, 7}, kernel: []int{3, 2}, strides: []int{1, 2}, paddings: [][2]int{{0, 2}, {0, 1}}},
	{name: "depthwise/3x3/s1", batch: 2, inC: 6, outC: 6, spatial: []int{7, 7}, kernel: []int{3, 3}, paddings: [][2]int{{1, 1}, {1, 1}}, groups: 6},
	{name: "depthwise/3x3/s2", batch: 2, inC: 4, outC: 4, spatial: []int{8, 8}, kernel: []int{3, 3}, strides: []int{2, 2}, paddings: [][2]int{{1, 1}, {1, 1}}, groups: 4},
	{name: "depthwise/multiplier2", batch: 2, inC: 3, outC: 6, spatial: []int{5, 5}, kernel: []int{3, 3}, paddings: [][2]int{{1, 1}, {1, 1}}, groups: 3},
	{name: "grouped/g2", batch: 2, inC: 4, outC: 6, spatial: []int{6, 6}, kernel: []int{3, 3}, paddings: [][2]int{{1, 1}, {1, 1}}, groups: 2},
	{name: "batch-groups/2", batch: 4, inC: 3, outC: 4, spatial: []int{6, 6}, kernel: []int{3, 3}, batchGroups: 2},
	{name: "batch1", batch: 1, inC: 3, outC: 4, spatial: []int{5, 5}, kernel: []int{3, 3}, paddings: [][2]int{{1, 1}, {1, 1}}},
	{name: "channels-first", batch: 2, inC: 3, outC: 4, spatial: []int{6, 5}, kernel: []int{3, 3}, strides: []int{2, 1}, paddings: [][2]int{{1, 1}, {1, 1}}, channelsFirst: true},
	{name: "1d", batch: 2, inC: 3, outC: 2, spatial: []int{11}, kernel: []int{4}, strides: []int{3}, paddings: [][2]int{{2, 1}}},
	{name: "3d", batch: 1, inC: 2, outC: 2, spatial: []int{4, 5, 3}, kernel: []int{2, 3, 2}, paddings: [][2]int{{0, 1}, {1, 1}, {0, 0}}},
}

// TestConvMatchesDirect compares values and gradients of every configuration
// against the Go backend's direct convolution.
func TestConvMatchesDirect(t *testing.T) {
	ours, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	direct := gobackend.GetBackend()
	for _, c := range convCases {
		t.Run(c.name, func(t *testing.T) {
			want := c.run(t, direct)
			before := loweredConvs.Load()
			got := c.run(t, ours)
			// Forward, gradient wrt input and wrt kernel: at least one each
			// (channel groups split the gradients into one per group).
			if n := loweredConvs.Load() - before; n < 3 {
				t.Errorf("only %d convolutions took the lowering", n)
			}
			for i, what := range []string{"output", "grad input", "grad kernel"} {
				if err := closeEnough(got[i], want[i], 1e-4); err != nil {
					t.Errorf("%s: %v", what, err)
				}
			}
		})
	}
}

// closeEnough compares with a tolerance relative to the largest magnitude.
func closeEnough(got, want []float32, tol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("length %d, want %d", len(got), len(want))
	}
	scale := 1.0
	for _, w := range want {
		scale = math.Max(scale, math.Abs(float64(w)))
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*scale || math.IsNaN(float64(got[i])) {
			return fmt.Errorf("element %d: got %g, want %g", i, got[i], want[i])
		}
	}
	return nil
}

// TestSliceAsCrop compares unit-stride slices (lowered to a Gather of runs,
// or to a cropping Pad where the runs are short) and
// strided ones with the Go backend's.
func TestSliceAsCrop(t *testing.T) {
	ours, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	all := graph.AxisRange()
	for _, spec := range [][]graph.SliceAxisSpec{
		{graph.AxisRange(1, 3), all, graph.AxisRange(2, 5), all}, // gathered runs of 3x20
		{all, graph.AxisRange(1, 3), graph.AxisRange(1, 5), all}, // a depthwise tap view
		{graph.AxisRange(1, 3), all, all, all},                   // a single run
		{all, graph.AxisRange(1, 3), all, graph.AxisRange(2, 7)}, // runs of 5: the Pad crop
		{graph.AxisElem(0), graph.AxisRange(0, 3).Stride(2), all, all},
		{graph.AxisRange(0, 4), graph.AxisRange(0, 3), graph.AxisRange(0, 6), all},
	} {
		var results [][]float32
		for _, b := range []compute.Backend{gobackend.GetBackend(), ours} {
			x := randomTensor(rand.New(rand.NewPCG(9, 9)), 4, 3, 6, 20)
			exec, err := graph.NewExec(b, func(x *graph.Node) []*graph.Node {
				y := graph.Slice(x, spec...)
				return []*graph.Node{y, graph.Gradient(graph.ReduceAllSum(graph.Mul(y, y)), x)[0]}
			})
			if err != nil {
				t.Fatal(err)
			}
			outs, err := exec.Call(x)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range outs {
				results = append(results, tensors.MustCopyFlatData[float32](o))
			}
		}
		for i := range 2 {
			if err := closeEnough(results[2+i], results[i], 0); err != nil {
				t.Errorf("slice %v output %d: %v", spec, i, err)
			}
		}
	}
}

// TestBroadcastBinaryOps checks the tiled and the materialized broadcasts
// (safeBinary) give the Go backend's values, gradients included: per-channel
// operands on either side whose row count divides into tiles ({4,6,24}: 24
// rows of 24 tile by 2; {8,12}: by 4; {1,72} on the left), per-channel ones
// that do not ({3,5,24}: 15 rows), and other broadcasts.
func TestBroadcastBinaryOps(t *testing.T) {
	ours, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	for _, dims := range [][2][]int{
		{{3, 5, 24}, {1, 1, 24}}, {{7, 10}, {7, 1}}, {{1, 9}, {4, 9}}, {{6, 32}, {1, 32}},
		{{4, 6, 24}, {1, 1, 24}}, {{8, 12}, {1, 12}}, {{1, 72}, {6, 72}}, {{2, 1, 12}, {2, 4, 12}},
	} {
		var results [][]float32
		for _, b := range []compute.Backend{gobackend.GetBackend(), ours} {
			rng := rand.New(rand.NewPCG(4, 4))
			x, y := randomTensor(rng, dims[0]...), randomTensor(rng, dims[1]...)
			exec, err := graph.NewExec(b, func(x, y *graph.Node) []*graph.Node {
				s := graph.Add(graph.Mul(graph.Sub(x, y), graph.Max(x, y)), graph.Div(graph.Min(x, y), graph.AddScalar(graph.Abs(y), 1)))
				return append([]*graph.Node{s}, graph.Gradient(graph.ReduceAllSum(s), x, y)...)
			})
			if err != nil {
				t.Fatal(err)
			}
			outs, err := exec.Call(x, y)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range outs {
				results = append(results, tensors.MustCopyFlatData[float32](o))
			}
		}
		for i := range 3 {
			if err := closeEnough(results[3+i], results[i], 1e-6); err != nil {
				t.Errorf("%v output %d: %v", dims, i, err)
			}
		}
	}
}
