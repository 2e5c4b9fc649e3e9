package torchcifar

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/models/internal/modeltest"
	"github.com/mlsysrep/mlsysrep/models/mobilenetv2"
	"github.com/mlsysrep/mlsysrep/models/resnet"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
	"github.com/mlsysrep/mlsysrep/pkg/torchfile"
	"github.com/mlsysrep/mlsysrep/pkg/train"
)

// The fixtures are written by testdata/make_fixtures.py (PyTorch 1.13):
// tiny networks with random weights and BN statistics, and PyTorch's
// eval-mode logits on four random images.
const (
	resnetFixture    = "testdata/resnet18_w0.0625.pt" // {"net": {"module." + name: tensor}, "acc", "epoch"}
	mobilenetFixture = "testdata/mobilenetv2_w0.125.pt"
	mobilenetST      = "testdata/mobilenetv2_w0.125.safetensors"
	expectedFixture  = "testdata/expected.safetensors"
)

var fp = quant.Config{Method: quant.FP, WBits: 32, ABits: 32, GBits: 32}

// build is the FP model of a geometry.
func build(g Geometry) modeltest.Build {
	if g.Network == ResNet18 {
		return resnet.Config{Width: g.Width, BlocksPerStage: g.Blocks, NumClasses: g.NumClasses, Quant: fp}.Build
	}
	return mobilenetv2.Config{Width: g.Width, NumClasses: g.NumClasses, Quant: fp}.Build
}

func read(t *testing.T, path string) torchfile.StateDict {
	t.Helper()
	sd, err := torchfile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return sd
}

// TestLayoutIsTheModels checks that the variables Import fills are exactly
// the weights and BN statistics the models create, with the same shapes.
func TestLayoutIsTheModels(t *testing.T) {
	for _, g := range []Geometry{
		{Network: ResNet18, Width: 0.0625, Blocks: 2, NumClasses: 10},
		{Network: ResNet18, Width: 0.125, Blocks: 1, NumClasses: 7},
		{Network: MobileNetV2, Width: 0.125, NumClasses: 10},
		{Network: MobileNetV2, Width: 0.3, NumClasses: 10},
	} {
		t.Run(g.String(), func(t *testing.T) {
			store := model.NewStore()
			images, _ := modeltest.Images(1, 32, 10, 1)
			modeltest.Infer(t, store, build(g), images)
			es, err := layout(g)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string][]int{}
			for _, e := range es {
				want[e.path] = e.shape
			}
			got := map[string][]int{}
			for v := range store.IterVariables() {
				if strings.HasPrefix(v.Path(), "/stem") || strings.HasPrefix(v.Path(), "/stage") ||
					strings.HasPrefix(v.Path(), "/block") || strings.HasPrefix(v.Path(), "/last") || strings.HasPrefix(v.Path(), "/fc") {
					got[v.Path()] = v.Shape().Dimensions
				}
			}
			for p, s := range want {
				if !slices.Equal(got[p], s) {
					t.Errorf("%s: the model's shape is %v, the layout's %v", p, got[p], s)
				}
			}
			for p := range got {
				if _, ok := want[p]; !ok {
					t.Errorf("the model's variable %s is not in the layout", p)
				}
			}
		})
	}
}

// TestImportMatchesPyTorch runs the imported networks and compares their
// logits with PyTorch's on the same images.
func TestImportMatchesPyTorch(t *testing.T) {
	expected := read(t, expectedFixture)
	img := expected["images"]
	images := tensors.FromFlatDataAndDimensions(slices.Clone(img.Data), img.Shape...)
	for _, c := range []struct {
		file, logits string
		want         Geometry
	}{
		{resnetFixture, "resnet18_logits", Geometry{Network: ResNet18, Width: 0.0625, Blocks: 2, NumClasses: 10}},
		{mobilenetFixture, "mobilenetv2_logits", Geometry{Network: MobileNetV2, Width: 0.125, NumClasses: 10}},
		{mobilenetST, "mobilenetv2_logits", Geometry{Network: MobileNetV2, Width: 0.125, NumClasses: 10}},
	} {
		t.Run(filepath.Base(c.file), func(t *testing.T) {
			m, err := Import("", read(t, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if m.Geometry != c.want {
				t.Fatalf("inferred %s, want %s", m.Geometry, c.want)
			}
			store := model.NewStore()
			if err := train.LoadValues(store, m.Values); err != nil {
				t.Fatal(err)
			}
			got := modeltest.Infer(t, store, build(m.Geometry), images)
			want := expected[c.logits].Data
			scale := 0.0
			for _, v := range want {
				scale = max(scale, math.Abs(float64(v)))
			}
			if len(got) != len(want) {
				t.Fatalf("%d logits, PyTorch has %d", len(got), len(want))
			}
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); !(d <= 1e-4*max(scale, 1)) {
					t.Fatalf("logit %d = %g, PyTorch's %g (difference %g, largest logit %g)", i, got[i], want[i], d, scale)
				}
			}
		})
	}
}

// TestExportRoundTrip exports the imported networks as safetensors, reads
// them back and compares every tensor with the original file's, bit for bit.
func TestExportRoundTrip(t *testing.T) {
	for _, file := range []string{resnetFixture, mobilenetFixture} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			orig := read(t, file)
			m, err := Import("", orig)
			if err != nil {
				t.Fatal(err)
			}
			sd, err := Export(m.Geometry, m.Values)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "model.safetensors")
			if err := torchfile.WriteSafetensors(path, sd, map[string]string{"network": m.Network}); err != nil {
				t.Fatal(err)
			}
			back := read(t, path)
			if !slices.Equal(back.Names(), orig.Names()) {
				t.Fatalf("exported names differ from the file's:\n%v\n%v", back.Names(), orig.Names())
			}
			for name, o := range orig {
				b := back[name]
				if strings.HasSuffix(name, "num_batches_tracked") {
					if !slices.Equal(b.Shape, o.Shape) {
						t.Errorf("%s: shape %v, the file's %v", name, b.Shape, o.Shape)
					}
					continue
				}
				if !slices.Equal(b.Shape, o.Shape) || !slices.Equal(b.Data, o.Data) {
					t.Errorf("%s changed in the round trip (shape %v, the file's %v)", name, b.Shape, o.Shape)
				}
			}
			again, err := Import(m.Network, back)
			if err != nil {
				t.Fatal(err)
			}
			if again.Geometry != m.Geometry {
				t.Errorf("re-imported as %s, first %s", again.Geometry, m.Geometry)
			}
		})
	}
}

// TestImportErrors checks that every malformed state dict gives an error
// naming what is wrong, and all of it.
func TestImportErrors(t *testing.T) {
	orig := read(t, resnetFixture)
	edit := func(f func(sd torchfile.StateDict)) torchfile.StateDict {
		sd := torchfile.StateDict{}
		for k, v := range orig {
			sd[k] = v
		}
		f(sd)
		return sd
	}
	for _, c := range []struct {
		name    string
		network string
		sd      torchfile.StateDict
		want    []string
	}{
		{"missing", "", edit(func(sd torchfile.StateDict) {
			delete(sd, "layer2.0.shortcut.0.weight")
			delete(sd, "bn1.running_var")
		}), []string{"missing (2): bn1.running_var, layer2.0.shortcut.0.weight"}},
		{"unexpected", "", edit(func(sd torchfile.StateDict) {
			sd["layer1.0.conv3.weight"] = sd["layer1.0.conv2.weight"]
			sd["fc.weight"] = sd["linear.weight"]
		}), []string{"unexpected (2): fc.weight, layer1.0.conv3.weight"}},
		{"mis-shaped", "", edit(func(sd torchfile.StateDict) {
			w := sd["layer3.1.conv2.weight"]
			sd["layer3.1.conv2.weight"] = torchfile.Tensor{DType: w.DType, Shape: []int{w.Shape[0], w.Shape[1], 1, 9}, Data: w.Data}
		}), []string{"mis-shaped (1): layer3.1.conv2.weight is [16 16 1 9], expected [16 16 3 3]"}},
		{"integer weights", "", edit(func(sd torchfile.StateDict) {
			w := sd["linear.bias"]
			sd["linear.bias"] = torchfile.Tensor{DType: "int64", Shape: w.Shape, Data: w.Data}
		}), []string{"linear.bias is int64, not floating point"}},
		{"all at once", "", edit(func(sd torchfile.StateDict) {
			delete(sd, "layer4.1.bn2.weight")
			sd["extra"] = sd["bn1.weight"]
		}), []string{"missing (1): layer4.1.bn2.weight", "unexpected (1): extra"}},
		{"wrong network", MobileNetV2, orig, []string{"holds a resnet18, not a mobilenetv2"}},
		{"not a pytorch-cifar model", "", torchfile.StateDict{"features.0.weight": orig["conv1.weight"]},
			[]string{"neither a pytorch-cifar ResNet18", "features.0.weight"}},
		{"unknown network", "vgg16", orig, []string{"holds a resnet18, not a vgg16"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Import(c.network, c.sd)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestExportErrors checks that a store that is not the network is refused
// with every problem named.
func TestExportErrors(t *testing.T) {
	m, err := Import("", read(t, mobilenetFixture))
	if err != nil {
		t.Fatal(err)
	}
	delete(m.Values, "/block3/project/conv/weights")
	m.Values["/fc/biases"] = tensors.FromFlatDataAndDimensions(make([]float32, 9), 9)
	_, err = Export(m.Geometry, m.Values)
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{"/block3/project/conv/weights is missing", "/fc/biases is (Float32)[9]"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the error does not say %q:\n%v", w, err)
		}
	}
}

// TestLayoutConversions checks each layout change on a hand-made tensor.
func TestLayoutConversions(t *testing.T) {
	// A conv with O=2, I=3, a 2x3 kernel: PyTorch element [o][i][y][x] =
	// 1000o + 100i + 10y + x.
	e := entry{kind: conv, shape: []int{2, 3, 3, 2}}
	var src []float32
	for o := range 2 {
		for i := range 3 {
			for y := range 2 {
				for x := range 3 {
					src = append(src, float32(1000*o+100*i+10*y+x))
				}
			}
		}
	}
	got := toModel(e, src)
	// Model [y][x][i][o]: element (y=1, x=2, i=0, o=1) is at
	// ((1*3+2)*3+0)*2+1 = 31; (y=0, x=1, i=2, o=0) at ((0*3+1)*3+2)*2 = 10.
	if got[31] != 1012 || got[10] != 201 || got[0] != 0 || got[1] != 1000 {
		t.Errorf("conv to the model's layout: %v", got)
	}
	if back := toTorch(e, got); !slices.Equal(back, src) {
		t.Errorf("conv round trip: %v, want %v", back, src)
	}
	// Dense [out=2, in=3] -> [in, out].
	d := entry{kind: dense, shape: []int{3, 2}}
	if got := toModel(d, []float32{1, 2, 3, 4, 5, 6}); !slices.Equal(got, []float32{1, 4, 2, 5, 3, 6}) {
		t.Errorf("dense: %v", got)
	}
	// Depthwise [C=2, 1, 1, 2] -> [1, 2, C].
	w := entry{kind: depthwise, shape: []int{1, 2, 2}}
	if got := toModel(w, []float32{1, 2, 3, 4}); !slices.Equal(got, []float32{1, 3, 2, 4}) {
		t.Errorf("depthwise: %v", got)
	}
}

// TestWidthRoundTrip exports networks of many widths (zero weights: only
// the shapes matter here) and imports them back: every width must be
// inferred as one that gives the same shapes, the simplest decimal where
// the exact ratio does not fit (ResNet-18 at 0.1 has 51 FC inputs; 51/512
// would give stage 3 25 channels instead of 26).
func TestWidthRoundTrip(t *testing.T) {
	for _, network := range Networks {
		for _, w := range []float64{0.03, 0.0625, 0.1, 0.12, 0.15, 0.17, 0.19, 0.22, 0.25, 0.27, 0.3, 0.35, 0.4, 0.5, 0.6, 0.75, 1, 1.3} {
			g := Geometry{Network: network, Width: w, NumClasses: 10}
			if network == ResNet18 {
				g.Blocks = 2
			}
			es, err := layout(g)
			if err != nil {
				t.Fatal(err)
			}
			values := map[string]*tensors.Tensor{}
			for _, e := range es {
				n := 1
				for _, d := range e.shape {
					n *= d
				}
				values[e.path] = tensors.FromFlatDataAndDimensions(make([]float32, n), e.shape...)
			}
			sd, err := Export(g, values)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Import(network, sd)
			if err != nil {
				t.Errorf("%s: %v", g, err)
				continue
			}
			back, err := layout(m.Geometry)
			if err != nil {
				t.Fatal(err)
			}
			for i := range es {
				if !slices.Equal(es[i].shape, back[i].shape) {
					t.Errorf("%s imported as width %g: %s is %v, was %v", g, m.Width, es[i].path, back[i].shape, es[i].shape)
					break
				}
			}
			if w == 0.1 && m.Width != 0.1 {
				t.Errorf("%s imported as width %g, want the simplest decimal 0.1", g, m.Width)
			}
		}
	}
}
