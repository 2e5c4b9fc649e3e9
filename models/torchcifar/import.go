package torchcifar

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/mlsysrep/mlsysrep/models/mobilenetv2"
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

// infer finds the geometry whose layout the state dict fits: the blocks
// per stage from the ResNet layers' indices, the classes from the FC, and
// the width from the channel counts (inferWidth).
func infer(network string, sd torchfile.StateDict) (Geometry, []entry, error) {
	g := Geometry{Network: network, Width: 1, Blocks: 0, NumClasses: 10}
	if network == ResNet18 {
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
	if t, ok := sd["linear.weight"]; ok && len(t.Shape) == 2 {
		g.NumClasses = t.Shape[0]
	}
	g.Width = inferWidth(network, sd)
	es, err := layout(g)
	if err == nil {
		err = check(g, es, sd)
	}
	return g, es, err
}

// inferWidth finds a width that gives every channel count the file shows
// (the stem's, each ResNet stage's or MobileNetV2 block's output, the last
// conv's, the FC's input) under the models' rule n = max(1, round(c *
// width)): each count allows the widths [(n - 1/2)/c, (n + 1/2)/c) (below
// 3/(2c) for n = 1), and the width is the simplest decimal in all of them
// (0.1, not 0.0996), or the exact ratio of the FC's input count to its
// reference when that fits (0.0625). Where they have nothing in common (a file of another
// architecture), the FC's ratio is returned and check lists the misfits.
func inferWidth(network string, sd torchfile.StateDict) float64 {
	var counts [][2]int // (channels in the file, reference channels)
	add := func(name string, axis, reference int) {
		if t, ok := sd[name]; ok && len(t.Shape) > axis {
			counts = append(counts, [2]int{t.Shape[axis], reference})
		}
	}
	fcRef := 1280
	if network == ResNet18 {
		fcRef = 512
		add("conv1.weight", 0, 64)
		for stage, c := range []int{64, 128, 256, 512} {
			add(fmt.Sprintf("layer%d.0.conv2.weight", stage+1), 0, c)
		}
	} else {
		add("conv1.weight", 0, 32)
		for i, b := range mobilenetv2.Blocks {
			add(fmt.Sprintf("layers.%d.conv3.weight", i), 0, b.Out)
		}
		add("conv2.weight", 0, 1280)
	}
	add("linear.weight", 1, fcRef)
	if len(counts) == 0 {
		return 1
	}
	lo, hi := 0.0, math.Inf(1)
	for _, nc := range counts {
		n, c := float64(nc[0]), float64(nc[1])
		if nc[0] > 1 {
			lo = max(lo, (n-0.5)/c)
		}
		hi = min(hi, (n+0.5)/c)
	}
	fits := func(w float64) bool {
		for _, nc := range counts {
			if max(1, int(float64(nc[1])*w+0.5)) != nc[0] {
				return false
			}
		}
		return true
	}
	last := counts[len(counts)-1] // the FC's input, the largest count
	if w := roundWidth(float64(last[0]) / float64(last[1])); fits(w) {
		return w // the exact ratio where it fits: 0.0625, 0.5
	}
	for digits := range 10 {
		scale := math.Pow(10, float64(digits))
		w := math.Ceil(lo*scale) / scale
		if w <= 0 {
			w = 1 / scale
		}
		if w < hi && fits(w) {
			return w
		}
	}
	if w := (lo + hi) / 2; lo < hi && fits(w) {
		return w
	}
	return roundWidth(float64(last[0]) / float64(last[1]))
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
