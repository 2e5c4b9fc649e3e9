package torchcifar

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/mlsysrep/mlsysrep/pkg/torchfile"
)

// Model is an imported network: what it is and its variable values by
// scope path, in the models' layout, ready for a store (train.LoadValues).
type Model struct {
	Geometry
	Values map[string]*tensors.Tensor
}

// Detect names the network a state dict holds, from its keys: ResNet18's
// have "layer1.", MobileNetV2's "layers.".
func Detect(sd torchfile.StateDict) (string, error) {
	var resnet, mobilenet bool
	for name := range sd {
		resnet = resnet || strings.HasPrefix(name, "layer1.")
		mobilenet = mobilenet || strings.HasPrefix(name, "layers.")
	}
	switch {
	case resnet && !mobilenet:
		return ResNet18, nil
	case mobilenet && !resnet:
		return MobileNetV2, nil
	}
	return "", fmt.Errorf("torchcifar: the state dict is neither a pytorch-cifar ResNet18 (keys layer1.*) nor a MobileNetV2 (keys layers.*); its keys: %s",
		abbreviate(sd.Names(), 12))
}

// Import converts a pytorch-cifar state dict of the named network (ResNet18
// or MobileNetV2; "" detects it) into the model's variables, inferring its
// geometry from the tensors. Any key that is missing, unexpected (other
// than num_batches_tracked), mis-shaped or not floating point is an error
// that lists them all.
func Import(network string, sd torchfile.StateDict) (*Model, error) {
	found, err := Detect(sd)
	if err != nil {
		return nil, err
	}
	if network != "" && network != found {
		return nil, fmt.Errorf("torchcifar: the state dict holds a %s, not a %s", found, network)
	}
	g, es, err := infer(found, sd)
	if err != nil {
		return nil, err
	}
	m := &Model{Geometry: g, Values: make(map[string]*tensors.Tensor, len(es))}
	for _, e := range es {
		t := sd[e.torch]
		m.Values[e.path] = tensors.FromFlatDataAndDimensions(toModel(e, t.Data), e.shape...)
	}
	return m, nil
}

// infer finds the geometry whose layout the state dict fits: the width
// read from the FC's input size or from the stem's output channels (the
// first that fits every tensor), the blocks per stage from the ResNet
// layers' indices, the classes from the FC.
func infer(network string, sd torchfile.StateDict) (Geometry, []entry, error) {
	g := Geometry{Network: network, Width: 1, Blocks: 0, NumClasses: 10}
	last, stem := 1280, 32
	if network == ResNet18 {
		last, stem, g.Blocks = 512, 64, 0
		for name := range sd {
			var stage, block int
			if n, _ := fmt.Sscanf(name, "layer%d.%d.", &stage, &block); n == 2 && stage == 1 {
				g.Blocks = max(g.Blocks, block+1)
			}
		}
		if g.Blocks == 0 {
			g.Blocks = 2
		}
	}
	var widths []float64
	if t, ok := sd["linear.weight"]; ok && len(t.Shape) == 2 {
		g.NumClasses = t.Shape[0]
		widths = append(widths, float64(t.Shape[1])/float64(last))
	}
	if t, ok := sd["conv1.weight"]; ok && len(t.Shape) == 4 {
		widths = append(widths, float64(t.Shape[0])/float64(stem))
	}
	if len(widths) == 0 {
		widths = []float64{1}
	}
	var firstErr error
	var firstEntries []entry
	for i, w := range widths {
		g.Width = roundWidth(w)
		es, err := layout(g)
		if err == nil {
			err = check(g, es, sd)
		}
		if err == nil {
			return g, es, nil
		}
		if i == 0 {
			firstErr, firstEntries = err, es
		}
	}
	return g, firstEntries, firstErr
}

// roundWidth drops the float noise of a ratio of channel counts (0.25
// stays 0.25, 1/3 becomes 0.333333).
func roundWidth(w float64) float64 { return math.Round(w*1e6) / 1e6 }

// check lists every key of sd that does not fit the layout.
func check(g Geometry, es []entry, sd torchfile.StateDict) error {
	var missing, misfit []string
	expected := map[string]bool{}
	for _, e := range es {
		expected[e.torch] = true
		if bn, ok := strings.CutSuffix(e.torch, ".running_var"); ok {
			expected[bn+".num_batches_tracked"] = true // ignored
		}
		t, ok := sd[e.torch]
		switch {
		case !ok:
			missing = append(missing, e.torch)
		case !slices.Equal(t.Shape, e.torchShape()):
			misfit = append(misfit, fmt.Sprintf("%s is %v, expected %v", e.torch, t.Shape, e.torchShape()))
		case !strings.HasPrefix(t.DType, "float") && t.DType != "bfloat16":
			misfit = append(misfit, fmt.Sprintf("%s is %s, not floating point", e.torch, t.DType))
		}
	}
	var unexpected []string
	for name := range sd {
		if !expected[name] {
			unexpected = append(unexpected, name)
		}
	}
	if len(missing)+len(misfit)+len(unexpected) == 0 {
		return nil
	}
	slices.Sort(missing)
	slices.Sort(unexpected)
	var b strings.Builder
	fmt.Fprintf(&b, "torchcifar: the state dict does not fit a pytorch-cifar %s:", g)
	for _, l := range []struct {
		what  string
		names []string
	}{{"missing", missing}, {"unexpected", unexpected}, {"mis-shaped", misfit}} {
		if len(l.names) > 0 {
			fmt.Fprintf(&b, "\n  %s (%d): %s", l.what, len(l.names), strings.Join(l.names, ", "))
		}
	}
	return fmt.Errorf("%s", b.String())
}

// abbreviate joins the first n names and says how many more there are.
func abbreviate(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// Export converts a model's variables (by scope path, as a store holds
// them; other variables such as optimizer state are left out) to a
// pytorch-cifar state dict of the network g describes. Every BN also gets
// num_batches_tracked (int64, 0: this project does not count them; PyTorch
// only reads it when a BN has no momentum) so that PyTorch's strict
// load_state_dict accepts the file. A missing or mis-shaped variable is an
// error that lists them all.
func Export(g Geometry, values map[string]*tensors.Tensor) (torchfile.StateDict, error) {
	es, err := layout(g)
	if err != nil {
		return nil, err
	}
	sd := torchfile.StateDict{}
	var problems []string
	for _, e := range es {
		t, ok := values[e.path]
		if !ok {
			problems = append(problems, e.path+" is missing")
			continue
		}
		if dims := t.Shape().Dimensions; !slices.Equal(dims, e.shape) || t.DType().String() != "Float32" {
			problems = append(problems, fmt.Sprintf("%s is %s, expected (Float32)%v", e.path, t.Shape(), e.shape))
			continue
		}
		data, err := tensors.CopyFlatData[float32](t)
		if err != nil {
			return nil, fmt.Errorf("torchcifar: %s: %w", e.path, err)
		}
		sd[e.torch] = torchfile.Tensor{DType: "float32", Shape: e.torchShape(), Data: toTorch(e, data)}
		if bn, ok := strings.CutSuffix(e.torch, ".running_var"); ok {
			sd[bn+".num_batches_tracked"] = torchfile.Tensor{DType: "int64", Shape: []int{}, Data: []float32{0}}
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, fmt.Errorf("torchcifar: the variables are not a %s: %s", g, strings.Join(problems, "; "))
	}
	return sd, nil
}

// Paths are the scope paths of the variables a network of geometry g
// imports and exports, sorted.
func Paths(g Geometry) ([]string, error) {
	es, err := layout(g)
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(es))
	for i, e := range es {
		paths[i] = e.path
	}
	slices.Sort(paths)
	return paths, nil
}

// toModel reorders a PyTorch tensor's data into the model's layout.
func toModel(e entry, src []float32) []float32 {
	return permute(e, src, true)
}

// toTorch reorders a model variable's data into PyTorch's layout.
func toTorch(e entry, src []float32) []float32 {
	return permute(e, src, false)
}

// permute moves data between the layouts. Depthwise and dense kernels are
// transposes of a [rows, cols] matrix (PyTorch's [C, kh*kw] and [out, in]);
// convolutions reorder four axes (permuteConv).
func permute(e entry, src []float32, toModelLayout bool) []float32 {
	var rows, cols int // the PyTorch layout as a [rows, cols] matrix
	s := e.shape
	switch e.kind {
	case vector:
		return slices.Clone(src)
	case conv:
		return permuteConv(s, src, toModelLayout)
	case depthwise:
		rows, cols = s[2], s[0]*s[1]
	case dense:
		rows, cols = s[1], s[0]
	}
	out := make([]float32, len(src))
	for r := range rows {
		for c := range cols {
			if toModelLayout {
				out[c*rows+r] = src[r*cols+c]
			} else {
				out[r*cols+c] = src[c*rows+r]
			}
		}
	}
	return out
}

// permuteConv moves a conv kernel between PyTorch's [O, I, kh, kw] and the
// model's [kh, kw, I, O]; s is the model's shape.
func permuteConv(s []int, src []float32, toModelLayout bool) []float32 {
	kh, kw, in, out := s[0], s[1], s[2], s[3]
	dst := make([]float32, len(src))
	for o := range out {
		for i := range in {
			for y := range kh {
				for x := range kw {
					t := ((o*in+i)*kh+y)*kw + x
					m := ((y*kw+x)*in+i)*out + o
					if toModelLayout {
						dst[m] = src[t]
					} else {
						dst[t] = src[m]
					}
				}
			}
		}
	}
	return dst
}
