package torchcifar

import (
	"fmt"

	"github.com/mlsysrep/mlsysrep/models/mobilenetv2"
	"github.com/mlsysrep/mlsysrep/models/resnet"
)

// The networks this package maps, by the names the runner uses.
const (
	ResNet18    = "resnet18"
	MobileNetV2 = "mobilenetv2"
)

// Networks are the names Import and Export accept.
var Networks = []string{ResNet18, MobileNetV2}

// kind says how a tensor's layout changes between PyTorch and the models.
type kind int

const (
	vector    kind = iota // BN parameters and statistics, FC bias: unchanged
	conv                  // PyTorch [O, I, kh, kw] <-> the models' [kh, kw, I, O]
	depthwise             // PyTorch [C, 1, kh, kw] <-> the models' [kh, kw, C]
	dense                 // PyTorch [out, in] <-> the models' [in, out]
)

// entry is one tensor: its PyTorch name, the model variable's scope path,
// and the variable's shape in the model's layout.
type entry struct {
	torch, path string
	kind        kind
	shape       []int
}

// torchShape is the entry's shape in PyTorch's layout.
func (e entry) torchShape() []int {
	s := e.shape
	switch e.kind {
	case conv:
		return []int{s[3], s[2], s[0], s[1]}
	case depthwise:
		return []int{s[2], 1, s[0], s[1]}
	case dense:
		return []int{s[1], s[0]}
	}
	return s
}

// Geometry is what a state dict says about the network it holds: the
// width, ResNet's blocks per stage (0 for MobileNetV2) and the class count.
type Geometry struct {
	Network    string
	Width      float64
	Blocks     int
	NumClasses int
}

// String describes the network, e.g. "resnet18 at width 0.25 (10 classes)".
func (g Geometry) String() string {
	s := fmt.Sprintf("%s at width %g", g.Network, g.Width)
	switch {
	case g.Network == ResNet18 && g.Blocks == 1:
		s += ", 1 block per stage"
	case g.Network == ResNet18 && g.Blocks != 2:
		s += fmt.Sprintf(", %d blocks per stage", g.Blocks)
	}
	return s + fmt.Sprintf(" (%d classes)", g.NumClasses)
}

// layout lists every tensor of the network g describes, in the order a
// PyTorch module registers them.
func layout(g Geometry) ([]entry, error) {
	switch g.Network {
	case ResNet18:
		return resnetLayout(g), nil
	case MobileNetV2:
		return mobilenetLayout(g), nil
	}
	return nil, fmt.Errorf("torchcifar: unknown network %q (known: %v)", g.Network, Networks)
}

// convBN appends a conv (or depthwise conv) and its batch norm.
func convBN(es []entry, torchConv, torchBN, scope string, k kind, shape []int) []entry {
	es = append(es, entry{torchConv + ".weight", scope + "/conv/weights", k, shape})
	c := shape[len(shape)-1]
	for _, p := range [][2]string{{"weight", "scale"}, {"bias", "offset"}, {"running_mean", "running_mean"}, {"running_var", "running_var"}} {
		es = append(es, entry{torchBN + "." + p[0], scope + "/bn/" + p[1], vector, []int{c}})
	}
	return es
}

// fc appends the classifier.
func fc(es []entry, in, classes int) []entry {
	return append(es,
		entry{"linear.weight", "/fc/weights", dense, []int{in, classes}},
		entry{"linear.bias", "/fc/biases", vector, []int{classes}})
}

func resnetLayout(g Geometry) []entry {
	c := resnet.Config{Width: g.Width, BlocksPerStage: g.Blocks, NumClasses: g.NumClasses}
	in := c.Channels(0)
	es := convBN(nil, "conv1", "bn1", "/stem", conv, []int{3, 3, 3, in})
	for stage := range 4 {
		out := c.Channels(stage)
		for block := range g.Blocks {
			stride := 1
			if stage > 0 && block == 0 {
				stride = 2
			}
			t := fmt.Sprintf("layer%d.%d.", stage+1, block)
			s := fmt.Sprintf("/stage%d_block%d", stage+1, block)
			es = convBN(es, t+"conv1", t+"bn1", s+"/conv1", conv, []int{3, 3, in, out})
			es = convBN(es, t+"conv2", t+"bn2", s+"/conv2", conv, []int{3, 3, out, out})
			if stride != 1 || in != out {
				es = convBN(es, t+"shortcut.0", t+"shortcut.1", s+"/shortcut", conv, []int{1, 1, in, out})
			}
			in = out
		}
	}
	return fc(es, in, g.NumClasses)
}

func mobilenetLayout(g Geometry) []entry {
	c := mobilenetv2.Config{Width: g.Width, NumClasses: g.NumClasses}
	in := c.Channels(32)
	es := convBN(nil, "conv1", "bn1", "/stem", conv, []int{3, 3, 3, in})
	for i, b := range mobilenetv2.Blocks {
		hidden, out := c.Channels(b.In)*b.T, c.Channels(b.Out)
		t := fmt.Sprintf("layers.%d.", i)
		s := fmt.Sprintf("/block%d", i)
		es = convBN(es, t+"conv1", t+"bn1", s+"/expand", conv, []int{1, 1, in, hidden})
		es = convBN(es, t+"conv2", t+"bn2", s+"/depthwise", depthwise, []int{3, 3, hidden})
		es = convBN(es, t+"conv3", t+"bn3", s+"/project", conv, []int{1, 1, hidden, out})
		if b.Stride == 1 && in != out {
			es = convBN(es, t+"shortcut.0", t+"shortcut.1", s+"/shortcut", conv, []int{1, 1, in, out})
		}
		in = out
	}
	last := c.Channels(1280)
	es = convBN(es, "conv2", "bn2", "/last", conv, []int{1, 1, in, last})
	return fc(es, last, g.NumClasses)
}
