package torchfile

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRead feeds Read arbitrary bytes as a file: any input gives tensors or
// an error, never a panic or a hang. The seeds are small files of each
// format (safetensors, torch.save zip with stored and compressed records,
// legacy), written by this package's writer and the tests' torch.save
// writer.
func FuzzRead(f *testing.F) {
	dir := f.TempDir()
	st := filepath.Join(dir, "seed.safetensors")
	sd := StateDict{"w": {DType: "float32", Shape: []int{2, 2}, Data: []float32{1, 2, 3, 4}},
		"bn.num_batches_tracked": {DType: "int64", Shape: []int{}, Data: []float32{7}}}
	if err := WriteSafetensors(st, sd, map[string]string{"k": "v"}); err != nil {
		f.Fatal(err)
	}
	root := pyDict{{"net", pyDict{{"module.w", pyTensor{storage: "0", class: "FloatStorage", raw: f32bytes(1, 2, 3),
		size: []int{3}, stride: []int{1}}}}}}
	huge := pyDict{{"v", pyTensor{storage: "0", class: "FloatStorage", raw: f32bytes(1), size: []int{1 << 30, 1 << 30}, stride: []int{0, 0}}}}
	for i, format := range append(torchFormats, "zip") {
		path := filepath.Join(dir, fmt.Sprintf("seed%d.%s", i, format))
		if i == len(torchFormats) {
			writeTorch(f, format, path, huge) // a crafted view must be refused, not allocated
		} else {
			writeTorch(f, format, path, root)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	data, err := os.ReadFile(filepath.Join(dir, "seed.safetensors"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		sd, err := Read(path)
		if err != nil {
			return
		}
		for name, tensor := range sd {
			n := 1
			for _, d := range tensor.Shape {
				n *= d
			}
			if n != len(tensor.Data) {
				t.Fatalf("%s: shape %v holds %d values, Data has %d", name, tensor.Shape, n, len(tensor.Data))
			}
		}
	})
}
