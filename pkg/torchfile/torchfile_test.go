package torchfile

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nlpodyssey/safetensors"
)

// fixtures is where models/torchcifar/testdata/make_fixtures.py writes.
const fixtures = "../../models/torchcifar/testdata"

// ----- Fixtures written by PyTorch -----

// value is one element a test expects: tensor name, index, value.
type value struct {
	name string
	idx  []int
	want float64 // as make_fixtures.py prints it (a float32 widened)
}

func TestReadFixtures(t *testing.T) {
	resnet := resnetShapes(0.0625)
	mobilenet := mobilenetShapes(0.125)
	resnetLogits0 := []float64{-0.1528467833995819, 0.07579980790615082, -0.3216175436973572, -0.20468834042549133,
		0.10570452362298965, 0.12491576373577118, 0.013445854187011719, 0.08479910343885422, 0.14808706939220428, 0.13672198355197906}
	mobilenetLogits3 := []float64{-0.138006329536438, -0.04489976912736893, 0.3597957491874695, -0.052987366914749146,
		-0.07932695746421814, -0.030192464590072632, 0.12184382230043411, 0.09803440421819687, -0.025808952748775482, -0.3205600082874298}
	mobilenetValues := []value{
		{"layers.16.conv2.weight", []int{119, 0, 2, 1}, 0.07443829625844955},
		{"layers.0.shortcut.1.running_mean", []int{1}, -0.03147951886057854},
		{"linear.bias", []int{9}, -0.07095064967870712},
		{"layers.5.bn3.num_batches_tracked", []int{}, 0},
	}
	var expectedValues []value
	for i := range 10 {
		expectedValues = append(expectedValues,
			value{"resnet18_logits", []int{0, i}, resnetLogits0[i]},
			value{"mobilenetv2_logits", []int{3, i}, mobilenetLogits3[i]})
	}
	expectedValues = append(expectedValues, value{"images", []int{1, 5, 7, 2}, -1.6186410188674927}) // NCHW [1, 2, 5, 7]

	for _, tc := range []struct {
		file   string
		shapes map[string][]int // every name the file must hold, and only those
		values []value
	}{
		{"resnet18_w0.0625.pt", resnet, []value{
			{"conv1.weight", []int{0, 0, 0, 0}, -0.0014408392598852515},
			{"conv1.weight", []int{3, 2, 2, 1}, -0.1449262499809265},
			{"layer2.0.shortcut.1.running_var", []int{7}, 1.0179013013839722},
			{"layer4.1.bn2.bias", []int{31}, 0.08740534633398056},
			{"linear.weight", []int{9, 31}, -0.02508557215332985},
			{"linear.bias", []int{0}, 0.08500391244888306},
			{"bn1.num_batches_tracked", []int{}, 0},
		}},
		{"mobilenetv2_w0.125.pt", mobilenet, mobilenetValues},
		{"mobilenetv2_w0.125.safetensors", mobilenet, mobilenetValues},
		{"expected.safetensors", map[string][]int{
			"images": {4, 32, 32, 3}, "resnet18_logits": {4, 10}, "mobilenetv2_logits": {4, 10},
		}, expectedValues},
	} {
		t.Run(tc.file, func(t *testing.T) {
			sd, err := Read(filepath.Join(fixtures, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			wantNames := slices.Sorted(func(yield func(string) bool) {
				for k := range tc.shapes {
					if !yield(k) {
						return
					}
				}
			})
			if got := sd.Names(); !slices.Equal(got, wantNames) {
				t.Fatalf("names:\n got %d %v\nwant %d %v", len(got), got, len(wantNames), wantNames)
			}
			for name, shape := range tc.shapes {
				tensor := sd[name]
				if !slices.Equal(tensor.Shape, shape) {
					t.Errorf("%s: shape %v, want %v", name, tensor.Shape, shape)
				}
				if len(tensor.Data) != numel(shape) {
					t.Errorf("%s: %d values, want %d", name, len(tensor.Data), numel(shape))
				}
				wantDType := "float32"
				if strings.HasSuffix(name, "num_batches_tracked") {
					wantDType = "int64"
				}
				if tensor.DType != wantDType {
					t.Errorf("%s: dtype %q, want %q", name, tensor.DType, wantDType)
				}
			}
			for _, v := range tc.values {
				if got := at(sd[v.name], v.idx...); got != float32(v.want) {
					t.Errorf("%s%v = %v, want %v", v.name, v.idx, got, float32(v.want))
				}
			}
		})
	}
}

// TestTorchAndSafetensorsAgree: the MobileNetV2 state dict saved by
// torch.save and by the script's safetensors writer reads the same.
func TestTorchAndSafetensorsAgree(t *testing.T) {
	pt := mustRead(t, filepath.Join(fixtures, "mobilenetv2_w0.125.pt"))
	st := mustRead(t, filepath.Join(fixtures, "mobilenetv2_w0.125.safetensors"))
	assertSameTensors(t, pt, st, true)
}

// TestCheckpointUnwrapping: the ResNet fixture is pytorch-cifar's checkpoint
// ({"net": ..., "acc": 12.5, "epoch": 3}) with DataParallel's "module."
// prefix; the same tensors as a bare state dict must read the same. The bare
// file and other wrappings are written here in torch.save's zip format.
func TestCheckpointUnwrapping(t *testing.T) {
	wrapped := mustRead(t, filepath.Join(fixtures, "resnet18_w0.0625.pt"))
	dir := t.TempDir()
	bare := stateDictPickle(wrapped, "")
	prefixed := stateDictPickle(wrapped, "module.")
	for _, tc := range []struct {
		name string
		root any
	}{
		{"bare OrderedDict", bare},
		{"bare dict", pyDict(bare)},
		{"prefixed", prefixed},
		{"net+prefix, acc and epoch", pyDict{{"net", prefixed}, {"acc", 12.5}, {"epoch", 3}}},
		{"state_dict with tensor metric and args object", pyDict{
			{"epoch", 90}, {"arch", "resnet18"}, {"state_dict", bare},
			{"best_acc1", pyTensor{storage: "acc", class: "FloatStorage", raw: f32bytes(71.5), size: []int{}, stride: []int{}}},
			{"args", pyObject{"argparse", "Namespace"}}, {"optimizer", pyDict{{"state", pyDict{}}}},
		}},
		{"model", pyDict{{"model", prefixed}, {"step", 7}}},
		{"model then state_dict", pyDict{{"model", pyDict{{"state_dict", bare}, {"version", 2}}}}},
		{"non-tensor entries skipped", append(pyOrderedDict{{"_version", 2}, {"note", "hello"}}, bare...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".pt")
			writeTorchZip(t, path, tc.root)
			assertSameTensors(t, mustRead(t, path), wrapped, true)
		})
	}

	// A prefix that not every name carries stays; it is removed once.
	one := func(x float32) Tensor { return Tensor{DType: "float32", Shape: []int{1}, Data: []float32{x}} }
	for _, tc := range []struct {
		name string
		sd   StateDict
		want StateDict
	}{
		{"partial prefix", StateDict{"module.a": one(1), "b": one(2)}, StateDict{"module.a": one(1), "b": one(2)}},
		{"prefix twice", StateDict{"module.module.x": one(1), "module.x": one(2)}, StateDict{"module.x": one(1), "x": one(2)}},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".pt")
		writeTorchZip(t, path, stateDictPickle(tc.sd, ""))
		assertSameTensors(t, mustRead(t, path), tc.want, true)
	}
}

// ----- Layouts and dtypes, in hand-made torch.save files -----

func TestReadStridedViews(t *testing.T) {
	iota24 := make([]float32, 24)
	for i := range iota24 {
		iota24[i] = float32(i)
	}
	raw := f32bytes(iota24...)
	view := func(offset int, size, stride []int) pyTensor {
		return pyTensor{storage: "0", class: "FloatStorage", raw: raw, offset: offset, size: size, stride: stride}
	}
	transposed := make([]float32, 0, 24) // a [6, 4] matrix read as its [4, 6] transpose
	for r := range 4 {
		for c := range 6 {
			transposed = append(transposed, float32(c*4+r))
		}
	}
	cases := []struct {
		name  string
		view  pyTensor
		shape []int
		want  []float32
	}{
		{"contiguous", view(0, []int{2, 3, 4}, []int{12, 4, 1}), []int{2, 3, 4}, iota24},
		{"transposed", view(0, []int{4, 6}, []int{1, 4}), []int{4, 6}, transposed},
		{"offset and step", view(5, []int{3}, []int{2}), []int{3}, []float32{5, 7, 9}},
		{"offset 3d permuted", view(1, []int{2, 2, 3}, []int{1, 12, 4}), []int{2, 2, 3},
			[]float32{1, 5, 9, 13, 17, 21, 2, 6, 10, 14, 18, 22}},
		{"scalar with offset", view(7, []int{}, []int{}), []int{}, []float32{7}},
		{"broadcast (stride 0)", view(1, []int{2, 3}, []int{0, 1}), []int{2, 3}, []float32{1, 2, 3, 1, 2, 3}},
		{"empty", view(0, []int{0, 3}, []int{3, 1}), []int{0, 3}, []float32{}},
		{"last element", view(23, []int{1, 1}, []int{1, 1}), []int{1, 1}, []float32{23}},
	}
	var root pyOrderedDict
	for _, c := range cases {
		root = append(root, pyItem{c.name, c.view})
	}
	for _, format := range torchFormats {
		t.Run(format, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "views.pt")
			writeTorch(t, format, path, root)
			sd := mustRead(t, path)
			for _, c := range cases {
				got := sd[c.name]
				if got.DType != "float32" || !slices.Equal(got.Shape, c.shape) || !slices.Equal(got.Data, c.want) {
					t.Errorf("%s: got %s %v %v, want float32 %v %v", c.name, got.DType, got.Shape, got.Data, c.shape, c.want)
				}
			}
		})
	}
}

func TestReadDTypes(t *testing.T) {
	le := binary.LittleEndian
	u16 := func(xs ...uint16) []byte {
		var b []byte
		for _, x := range xs {
			b = le.AppendUint16(b, x)
		}
		return b
	}
	var f64, i64, i32 []byte
	for _, x := range []float64{1.5, -1e-3, 1e40} {
		f64 = le.AppendUint64(f64, math.Float64bits(x))
	}
	for _, x := range []int64{-3, 0, 1 << 40} {
		i64 = le.AppendUint64(i64, uint64(x))
	}
	for _, x := range []int32{-7, 123456} {
		i32 = le.AppendUint32(i32, uint32(x))
	}
	cases := []struct {
		class, dtype string
		raw          []byte
		want         []float32
	}{
		{"FloatStorage", "float32", f32bytes(-0.25, 3), []float32{-0.25, 3}},
		{"HalfStorage", "float16", u16(0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x83ff, 0x8000, 0xfc00, 0x7e00),
			[]float32{1, -2, 0.5, 65504, 0x1p-24, -0x3ffp-24, negZero, float32(math.Inf(-1)), math.Float32frombits(0x7fc00000)}},
		{"BFloat16Storage", "bfloat16", u16(0x3f80, 0xc040, 0x4049), []float32{1, -3, 3.140625}},
		{"DoubleStorage", "float64", f64, []float32{1.5, -1e-3, float32(math.Inf(1))}},
		{"LongStorage", "int64", i64, []float32{-3, 0, 1 << 40}},
		{"IntStorage", "int32", i32, []float32{-7, 123456}},
		{"ShortStorage", "int16", u16(0xffff, 300), []float32{-1, 300}},
		{"CharStorage", "int8", []byte{0x80, 5}, []float32{-128, 5}},
		{"ByteStorage", "uint8", []byte{255, 0, 7}, []float32{255, 0, 7}},
		{"BoolStorage", "bool", []byte{1, 0, 1}, []float32{1, 0, 1}},
	}
	var root pyOrderedDict
	for i, c := range cases {
		n := len(c.want)
		root = append(root, pyItem{c.dtype, pyTensor{storage: fmt.Sprint(i), class: c.class, raw: c.raw, size: []int{n}, stride: []int{1}}})
	}
	for _, format := range torchFormats {
		t.Run(format, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "dtypes.pt")
			writeTorch(t, format, path, root)
			sd := mustRead(t, path)
			for _, c := range cases {
				got := sd[c.dtype]
				if got.DType != c.dtype || !sameBits(got.Data, c.want) {
					t.Errorf("%s: got %s %v, want %s %v", c.class, got.DType, got.Data, c.dtype, c.want)
				}
			}
		})
	}
}

// TestReadParameters: tensors pickled as nn.Parameter (torch.save of
// named_parameters, or of a module's __dict__) read as their data.
func TestReadParameters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "param.pt")
	writeTorchZip(t, path, pyDict{{"w", pyTensor{storage: "0", class: "FloatStorage", raw: f32bytes(1, 2), size: []int{2}, stride: []int{1}, parameter: true}}})
	if got := mustRead(t, path)["w"]; !slices.Equal(got.Data, []float32{1, 2}) {
		t.Errorf("parameter: got %v, want [1 2]", got)
	}
}

// ----- Writing -----

func TestWriteSafetensorsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	special := []float32{float32(math.NaN()), float32(math.Inf(-1)), float32(math.Copysign(0, -1)),
		math.SmallestNonzeroFloat32, math.MaxFloat32, 1.0 / 3}
	sd := StateDict{
		"layer1.0.conv1.weight":  {DType: "float32", Shape: []int{2, 1, 1, 3}, Data: special},
		"bn.num_batches_tracked": {DType: "int64", Shape: []int{}, Data: []float32{12345}},
		"half":                   {DType: "float16", Shape: []int{2}, Data: []float32{0.5, -2}},
		"empty":                  {DType: "float32", Shape: []int{0, 4}, Data: []float32{}},
	}
	meta := map[string]string{"format": "pt", "source": "torchfile test"}
	path := filepath.Join(dir, "rt.safetensors")
	if err := WriteSafetensors(path, sd, meta); err != nil {
		t.Fatal(err)
	}
	got := mustRead(t, path)
	assertSameTensors(t, got, sd, false)
	for name, tensor := range got {
		want := "float32" // int64 is kept, every other dtype is written as float32
		if sd[name].DType == "int64" {
			want = "int64"
		}
		if tensor.DType != want {
			t.Errorf("%s: dtype %q, want %s", name, tensor.DType, want)
		}
	}

	buf, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, m, err := safetensors.ReadMetadata(buf)
	if err != nil {
		t.Fatal(err)
	}
	if gotMeta := m.Metadata(); len(gotMeta) != len(meta) || gotMeta["format"] != "pt" || gotMeta["source"] != "torchfile test" {
		t.Errorf("metadata %v, want %v", gotMeta, meta)
	}
	if n := binary.LittleEndian.Uint64(buf); n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}

	// Writing again gives the same bytes (sorted, deterministic), over the old file.
	if err := WriteSafetensors(path, sd, meta); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(again, buf) {
		t.Error("a second write of the same state dict gave different bytes")
	}

	// A whole fixture survives the round trip bit for bit.
	resnet := mustRead(t, filepath.Join(fixtures, "resnet18_w0.0625.pt"))
	rpath := filepath.Join(dir, "resnet.safetensors")
	if err := WriteSafetensors(rpath, resnet, nil); err != nil {
		t.Fatal(err)
	}
	assertSameTensors(t, mustRead(t, rpath), resnet, false)

	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("the folder holds %d files, want 2 (no temporary files left)", len(entries))
	}
}

func TestWriteSafetensorsErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keep.safetensors")
	good := StateDict{"a": {Shape: []int{2}, Data: []float32{1, 2}}}
	if err := WriteSafetensors(path, good, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		path string
		sd   StateDict
		want string
	}{
		{"length mismatch", path, StateDict{"a": {Shape: []int{2, 2}, Data: []float32{1, 2}}}, `tensor "a": shape [2 2] holds 4 values, Data has 2`},
		{"negative dim", path, StateDict{"a": {Shape: []int{-1}, Data: nil}}, "negative dimension"},
		{"reserved name", path, StateDict{"__metadata__": {Shape: []int{1}, Data: []float32{1}}}, "invalid tensor name"},
		{"missing folder", filepath.Join(dir, "no", "x.safetensors"), good, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := WriteSafetensors(tc.path, tc.sd, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
				t.Fatalf("error %v, want one naming %s and saying %q", err, tc.path, tc.want)
			}
		})
	}
	assertSameTensors(t, mustRead(t, path), good, false) // the failed writes left the old file alone
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the folder holds %d files, want 1", len(entries))
	}
}

// ----- Malformed inputs -----

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	st, err := os.ReadFile(filepath.Join(fixtures, "mobilenetv2_w0.125.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	pt, err := os.ReadFile(filepath.Join(fixtures, "mobilenetv2_w0.125.pt"))
	if err != nil {
		t.Fatal(err)
	}
	badHeader := []byte("{this is not json}      ")
	notJSON := binary.LittleEndian.AppendUint64(nil, uint64(len(badHeader)))
	notJSON = append(notJSON, badHeader...)
	var zipNoPickle bytes.Buffer
	zw := zip.NewWriter(&zipNoPickle)
	w, _ := zw.Create("archive/other.txt")
	_, _ = w.Write([]byte("x"))
	_ = zw.Close()
	torchFile := func(name string, root any) string {
		path := filepath.Join(dir, name)
		writeTorchZip(t, path, root)
		return path
	}
	legacyPath := filepath.Join(dir, "legacy.pt")
	writeTorchLegacy(t, legacyPath, pyDict{{"w", pyTensor{storage: "0", class: "FloatStorage", raw: f32bytes(1, 2, 3, 4), size: []int{4}, stride: []int{1}}}})
	legacy, err := os.ReadFile(legacyPath)
	if err != nil {
		t.Fatal(err)
	}
	complexTensor := pyTensor{storage: "0", class: "ComplexFloatStorage", raw: make([]byte, 16), size: []int{2}, stride: []int{1}}

	for _, tc := range []struct {
		name string
		path string
		want []string // substrings of the error, besides the path
	}{
		{"missing file", filepath.Join(dir, "missing.pt"), []string{"no such file"}},
		{"directory", dir, []string{"is a directory"}},
		{"empty file", file("empty.pt", nil), []string{"not a torch.save or safetensors file", "0 bytes"}},
		{"text file", file("notes.safetensors", []byte("hello, this is not a weight file\n")), []string{"not a torch.save or safetensors file", `"hello, this is n"`}},
		{"truncated safetensors data", file("cut.safetensors", st[:len(st)/2]), []string{"invalid safetensors file", "truncated or padded"}},
		{"truncated safetensors header", file("cuthead.safetensors", st[:100]), []string{"truncated safetensors file"}},
		{"safetensors header not JSON", file("badjson.safetensors", notJSON), []string{"invalid safetensors file", "invalid header"}},
		{"truncated torch zip", file("cut.pt", pt[:len(pt)/2]), []string{"torch.save zip format"}},
		{"truncated legacy file", file("cut_legacy.pt", legacy[:len(legacy)-5]), []string{"torch.save legacy format", `storage "0" (16 bytes): unexpected EOF`}},
		{"zip without data.pkl", file("other.zip", zipNoPickle.Bytes()), []string{"data.pkl not found"}},
		{"unknown wrapper", torchFile("wrapper.pt", pyDict{{"acc", 12.5}, {"epoch", 3}, {"optimizer", pyDict{}}}),
			[]string{"found a dict with keys [acc epoch optimizer], no tensors"}},
		{"wrapper without tensors", torchFile("emptynet.pt", pyDict{{"net", pyOrderedDict{{"x", 1}}}, {"acc", 1.0}}),
			[]string{`under "net": found an OrderedDict with keys [x], no tensors`}},
		{"empty dict", torchFile("emptydict.pt", pyDict{}), []string{"found an empty dict, no tensors"}},
		{"a list", torchFile("list.pt", pyList{1, 2}), []string{"found a list of 2 items, not a dict of tensors"}},
		{"a whole model", torchFile("model.pt", pyObject{"models.resnet", "ResNet"}), []string{"found a models.resnet.ResNet object", "state_dict()"}},
		{"unsupported dtype", torchFile("complex.pt", pyDict{{"ok", pyTensor{storage: "1", class: "FloatStorage", raw: f32bytes(1), size: []int{1}, stride: []int{1}}}, {"c", complexTensor}}),
			[]string{`tensor "c": unsupported dtype: storage torch.ComplexFloatStorage`}},
		{"view past the storage", torchFile("past.pt", pyDict{{"v", pyTensor{storage: "0", class: "FloatStorage", raw: f32bytes(1, 2, 3, 4), offset: 1, size: []int{2, 2}, stride: []int{2, 1}}}}),
			[]string{`tensor "v": the view (offset 1, size [2 2], stride [2 1]) reaches element 4 of a storage of 4`}},
		{"a huge view of one value", torchFile("huge.pt", pyDict{{"v", pyTensor{storage: "0", class: "FloatStorage", raw: f32bytes(1), size: []int{1 << 30, 1 << 30}, stride: []int{0, 0}}}}),
			[]string{`tensor "v": a view of size [1073741824 1073741824] holds more than 268435456 elements`}},
		{"a stride far past the storage", torchFile("far.pt", pyDict{{"v", pyTensor{storage: "0", class: "FloatStorage", raw: f32bytes(1, 2), size: []int{2}, stride: []int{1 << 20}}}}),
			[]string{`tensor "v": the view`, "of a storage of 2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sd, err := Read(tc.path)
			if err == nil {
				t.Fatalf("no error; read %d tensors", len(sd))
			}
			for _, want := range append(tc.want, tc.path) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

// ----- Helpers -----

func mustRead(t *testing.T, path string) StateDict {
	t.Helper()
	sd, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return sd
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// at returns t's element at idx (C order).
func at(t Tensor, idx ...int) float32 {
	if len(idx) != len(t.Shape) {
		return float32(math.NaN())
	}
	flat := 0
	for i, d := range t.Shape {
		flat = flat*d + idx[i]
	}
	return t.Data[flat]
}

// assertSameTensors checks that got and want hold the same names, shapes and
// bit-identical values (and dtypes if withDType).
func assertSameTensors(t *testing.T, got, want StateDict, withDType bool) {
	t.Helper()
	if g, w := got.Names(), want.Names(); !slices.Equal(g, w) {
		t.Fatalf("names:\n got %v\nwant %v", g, w)
	}
	for name, w := range want {
		g := got[name]
		if !slices.Equal(g.Shape, w.Shape) || len(g.Data) != len(w.Data) || (withDType && g.DType != w.DType) {
			t.Errorf("%s: got %s %v (%d values), want %s %v (%d values)", name, g.DType, g.Shape, len(g.Data), w.DType, w.Shape, len(w.Data))
			continue
		}
		for i := range w.Data {
			if math.Float32bits(g.Data[i]) != math.Float32bits(w.Data[i]) {
				t.Errorf("%s[%d] = %v, want %v", name, i, g.Data[i], w.Data[i])
				break
			}
		}
	}
}

var negZero = float32(math.Copysign(0, -1))

// sameBits says whether a and b hold the same float32 bit patterns.
func sameBits(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

func f32bytes(xs ...float32) []byte {
	var b []byte
	for _, x := range xs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// scaled is the Go models' width rule (Config.Channels).
func scaled(c int, width float64) int { return max(1, int(float64(c)*width+0.5)) }

// bnShapes adds the five entries of a BatchNorm2d of n channels.
func bnShapes(m map[string][]int, prefix string, n int) {
	for _, s := range []string{"weight", "bias", "running_mean", "running_var"} {
		m[prefix+"."+s] = []int{n}
	}
	m[prefix+".num_batches_tracked"] = []int{}
}

// resnetShapes is the state dict of kuangliu/pytorch-cifar's ResNet18 at a width.
func resnetShapes(width float64) map[string][]int {
	m := map[string][]int{}
	in := scaled(64, width)
	m["conv1.weight"] = []int{in, 3, 3, 3}
	bnShapes(m, "bn1", in)
	for l, ref := range []int{64, 128, 256, 512} {
		out := scaled(ref, width)
		for b := range 2 {
			stride := 1
			if l > 0 && b == 0 {
				stride = 2
			}
			p := fmt.Sprintf("layer%d.%d", l+1, b)
			m[p+".conv1.weight"] = []int{out, in, 3, 3}
			bnShapes(m, p+".bn1", out)
			m[p+".conv2.weight"] = []int{out, out, 3, 3}
			bnShapes(m, p+".bn2", out)
			if stride != 1 || in != out {
				m[p+".shortcut.0.weight"] = []int{out, in, 1, 1}
				bnShapes(m, p+".shortcut.1", out)
			}
			in = out
		}
	}
	m["linear.weight"] = []int{10, in}
	m["linear.bias"] = []int{10}
	return m
}

// mobilenetShapes is the state dict of pytorch-cifar's MobileNetV2 with the
// shortcut of PROTOCOL section 3b, at a width (hidden = scaled(in) * t).
func mobilenetShapes(width float64) map[string][]int {
	blocks := [][4]int{
		{32, 16, 1, 1}, {16, 24, 6, 1}, {24, 24, 6, 1}, {24, 32, 6, 2}, {32, 32, 6, 1}, {32, 32, 6, 1},
		{32, 64, 6, 2}, {64, 64, 6, 1}, {64, 64, 6, 1}, {64, 64, 6, 1}, {64, 96, 6, 1}, {96, 96, 6, 1},
		{96, 96, 6, 1}, {96, 160, 6, 2}, {160, 160, 6, 1}, {160, 160, 6, 1}, {160, 320, 6, 1},
	}
	m := map[string][]int{}
	stem := scaled(32, width)
	m["conv1.weight"] = []int{stem, 3, 3, 3}
	bnShapes(m, "bn1", stem)
	for i, b := range blocks {
		in, out, stride := scaled(b[0], width), scaled(b[1], width), b[3]
		hidden := in * b[2]
		p := fmt.Sprintf("layers.%d", i)
		m[p+".conv1.weight"] = []int{hidden, in, 1, 1}
		bnShapes(m, p+".bn1", hidden)
		m[p+".conv2.weight"] = []int{hidden, 1, 3, 3}
		bnShapes(m, p+".bn2", hidden)
		m[p+".conv3.weight"] = []int{out, hidden, 1, 1}
		bnShapes(m, p+".bn3", out)
		if stride == 1 && in != out {
			m[p+".shortcut.0.weight"] = []int{out, in, 1, 1}
			bnShapes(m, p+".shortcut.1", out)
		}
	}
	last := scaled(1280, width)
	m["conv2.weight"] = []int{last, scaled(320, width), 1, 1}
	bnShapes(m, "bn2", last)
	m["linear.weight"] = []int{10, last}
	m["linear.bias"] = []int{10}
	return m
}

// ----- A minimal torch.save writer (pickle protocol 2), for the tests -----

// Python values the writer knows. Dict keys are strings.
type (
	pyItem struct {
		key   string
		value any
	}
	pyDict        []pyItem
	pyOrderedDict []pyItem
	pyList        []any
	// pyObject is an instance of a class (cls.__new__() then an empty __setstate__).
	pyObject struct{ module, name string }
	// pyTensor is torch._utils._rebuild_tensor_v2 of a view of a storage.
	pyTensor struct {
		storage, class string // storage key and torch.<class>
		raw            []byte // the whole storage's bytes
		offset         int
		size, stride   []int
		parameter      bool // wrapped in torch._utils._rebuild_parameter
	}
)

// stateDictPickle turns a StateDict into the OrderedDict that
// torch.save(model.state_dict()) pickles, names prefixed, one storage per
// tensor; float32 and int64 only.
func stateDictPickle(sd StateDict, prefix string) pyOrderedDict {
	var od pyOrderedDict
	for i, name := range sd.Names() {
		tensor := sd[name]
		var raw []byte
		class := "FloatStorage"
		switch tensor.DType {
		case "float32":
			raw = f32bytes(tensor.Data...)
		case "int64":
			class = "LongStorage"
			for _, x := range tensor.Data {
				raw = binary.LittleEndian.AppendUint64(raw, uint64(int64(x)))
			}
		default:
			panic("stateDictPickle: dtype " + tensor.DType)
		}
		stride := make([]int, len(tensor.Shape))
		step := 1
		for d := len(tensor.Shape) - 1; d >= 0; d-- {
			stride[d] = step
			step *= tensor.Shape[d]
		}
		od = append(od, pyItem{prefix + name, pyTensor{storage: fmt.Sprint(i), class: class, raw: raw, size: tensor.Shape, stride: stride}})
	}
	return od
}

// pickler writes pickle opcodes; storages collects the tensors' storages.
type pickler struct {
	bytes.Buffer
	legacy   bool
	storages []pyTensor // first tensor of each storage key, in order
}

func (p *pickler) global(module, name string) {
	p.WriteString("c" + module + "\n" + name + "\n")
}

func (p *pickler) str(s string) {
	p.WriteByte('X')
	_ = binary.Write(p, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
}

func (p *pickler) int(n int) {
	p.WriteByte('J')
	_ = binary.Write(p, binary.LittleEndian, int32(n))
}

func (p *pickler) ints(ns []int) {
	p.WriteByte('(')
	for _, n := range ns {
		p.int(n)
	}
	p.WriteByte('t')
}

func (p *pickler) items(items []pyItem) {
	if len(items) == 0 {
		return
	}
	p.WriteByte('(')
	for _, it := range items {
		p.str(it.key)
		p.value(it.value)
	}
	p.WriteByte('u') // SETITEMS
}

func (p *pickler) emptyOrderedDict() {
	p.global("collections", "OrderedDict")
	p.WriteString(")R")
}

func (p *pickler) value(v any) {
	switch v := v.(type) {
	case nil:
		p.WriteByte('N')
	case bool:
		if v {
			p.WriteByte(0x88)
		} else {
			p.WriteByte(0x89)
		}
	case int:
		p.int(v)
	case float64:
		p.WriteByte('G')
		_ = binary.Write(p, binary.BigEndian, math.Float64bits(v))
	case string:
		p.str(v)
	case pyDict:
		p.WriteByte('}')
		p.items(v)
	case pyOrderedDict:
		p.emptyOrderedDict()
		p.items(v)
	case pyList:
		p.WriteString("](")
		for _, x := range v {
			p.value(x)
		}
		p.WriteByte('e') // APPENDS
	case pyObject:
		p.global(v.module, v.name)
		p.WriteString(")\x81}b") // EMPTY_TUPLE NEWOBJ EMPTY_DICT BUILD
	case pyTensor:
		if v.parameter {
			p.global("torch._utils", "_rebuild_parameter")
			p.WriteByte('(')
		}
		p.global("torch._utils", "_rebuild_tensor_v2")
		p.WriteByte('(')
		p.persistentStorage(v)
		p.int(v.offset)
		p.ints(v.size)
		p.ints(v.stride)
		p.WriteByte(0x89) // requires_grad False
		p.emptyOrderedDict()
		p.WriteString("tR")
		if v.parameter {
			p.WriteByte(0x88)
			p.emptyOrderedDict()
			p.WriteString("tR")
		}
	default:
		panic(fmt.Sprintf("pickler: %T", v))
	}
}

// persistentStorage writes torch's persistent id of the tensor's storage:
// ('storage', torch.<class>, key, 'cpu', numel[, view metadata]).
func (p *pickler) persistentStorage(v pyTensor) {
	if !slices.ContainsFunc(p.storages, func(s pyTensor) bool { return s.storage == v.storage }) {
		p.storages = append(p.storages, v)
	}
	p.WriteByte('(')
	p.str("storage")
	p.global("torch", v.class)
	p.str(v.storage)
	p.str("cpu")
	p.int(len(v.raw) / elementSize(v.class))
	if p.legacy {
		p.WriteByte('N')
	}
	p.WriteString("tQ") // TUPLE BINPERSID
}

func elementSize(class string) int {
	switch class {
	case "DoubleStorage", "LongStorage", "ComplexFloatStorage":
		return 8
	case "FloatStorage", "IntStorage":
		return 4
	case "HalfStorage", "BFloat16Storage", "ShortStorage":
		return 2
	}
	return 1
}

// pickleOf is root as a complete pickle, and the storages it refers to.
func pickleOf(root any, legacy bool) ([]byte, []pyTensor) {
	p := &pickler{legacy: legacy}
	p.WriteString("\x80\x02")
	p.value(root)
	p.WriteByte('.')
	return p.Bytes(), p.storages
}

// torchFormats are the torch.save formats the tests write: the zip format
// as torch.save writes it (records stored), the same with compressed records
// (a checkpoint zipped again by some tool), and the legacy format.
var torchFormats = []string{"zip", "zip-deflate", "legacy"}

func writeTorch(t testing.TB, format, path string, root any) {
	t.Helper()
	switch format {
	case "legacy":
		writeTorchLegacy(t, path, root)
	case "zip-deflate":
		writeTorchZipMethod(t, path, root, zip.Deflate)
	default:
		writeTorchZip(t, path, root)
	}
}

// writeTorchZip writes root as torch.save's zip format (PyTorch >= 1.6).
func writeTorchZip(t testing.TB, path string, root any) {
	t.Helper()
	writeTorchZipMethod(t, path, root, zip.Store)
}

func writeTorchZipMethod(t testing.TB, path string, root any, method uint16) {
	t.Helper()
	data, storages := pickleOf(root, false)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, b []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "archive/" + name, Method: method})
		if err == nil {
			_, err = w.Write(b)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	add("data.pkl", data)
	for _, s := range storages {
		add("data/"+s.storage, s.raw)
	}
	add("version", []byte("3\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeTorchLegacy writes root as torch.save's legacy format
// (_use_new_zipfile_serialization=False): magic number, protocol version and
// system info pickles, the object's pickle, the storage keys' pickle, then
// each storage as its element count (8 bytes) and its bytes.
func writeTorchLegacy(t testing.TB, path string, root any) {
	t.Helper()
	var buf bytes.Buffer
	buf.Write(legacyMagic)
	buf.WriteString(".\x80\x02J\xe9\x03\x00\x00.") // 1001
	buf.WriteString("\x80\x02}.")                  // system info: {}
	data, storages := pickleOf(root, true)
	buf.Write(data)
	buf.WriteString("\x80\x02](")
	for _, s := range storages {
		buf.WriteByte('X')
		_ = binary.Write(&buf, binary.LittleEndian, uint32(len(s.storage)))
		buf.WriteString(s.storage)
	}
	buf.WriteString("e.")
	for _, s := range storages {
		_ = binary.Write(&buf, binary.LittleEndian, uint64(len(s.raw)/elementSize(s.class)))
		buf.Write(s.raw)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
