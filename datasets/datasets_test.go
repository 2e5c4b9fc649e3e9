package datasets

import (
	"math"
	"os"
	"slices"
	"testing"
)

func TestCanonicalOrder(t *testing.T) {
	for _, tc := range []struct {
		labels []int32
		want   []int
	}{
		{[]int32{0, 0, 1, 1, 2}, []int{0, 2, 4, 1, 3}},
		{[]int32{2, 1, 0, 2, 1, 0}, []int{2, 1, 0, 5, 4, 3}},
		{[]int32{1, 1, 1}, []int{0, 1, 2}},
		{nil, []int{}},
	} {
		if got := CanonicalOrder(tc.labels); !slices.Equal(got, tc.want) {
			t.Errorf("CanonicalOrder(%v) = %v, want %v", tc.labels, got, tc.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	dst := make([]float32, 3)
	Normalize(dst, []uint8{0, 255, 51}, CIFAR10Mean, CIFAR10Std)
	want := []float64{-0.4914 / 0.2023, (1 - 0.4822) / 0.1994, (0.2 - 0.4465) / 0.2010}
	for i := range want {
		if math.Abs(float64(dst[i])-want[i]) > 1e-5 {
			t.Errorf("channel %d: %g, want %g", i, dst[i], want[i])
		}
	}
}

func TestSubsets(t *testing.T) {
	im := &Images{N: 6, Height: 1, Width: 1, Classes: []string{"a", "b"}, Source: "s",
		Pixels: []uint8{0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5}, Labels: []int32{0, 0, 0, 1, 1, 0}}
	if err := im.Check(); err != nil {
		t.Fatal(err)
	}
	first := im.FirstN(4) // canonical order: 0 3 1 4 2 5
	if !slices.Equal(first.Labels, []int32{0, 1, 0, 1}) || first.Image(1)[0] != 3 || first.Source != "s, first 4 in canonical order" {
		t.Errorf("FirstN: labels %v, image 1 %v, source %q", first.Labels, first.Image(1), first.Source)
	}
	per := im.PerClass(1)
	if per.N != 2 || !slices.Equal(per.Labels, []int32{0, 1}) {
		t.Errorf("PerClass(1): %v", per.Labels)
	}
	bad := *im
	bad.Labels = []int32{0, 0, 0, 1, 1, 7}
	if err := bad.Check(); err == nil {
		t.Error("label 7 of 2 classes accepted")
	}
}

func TestDirs(t *testing.T) {
	d := t.TempDir()
	t.Setenv(EnvData, d+"/cache")
	got, err := DataDir("")
	if err != nil || got != d+"/cache" {
		t.Errorf("DataDir = %q, %v", got, err)
	}
	if got, _ := DataDir(d + "/explicit"); got != d+"/explicit" {
		t.Errorf("explicit DataDir = %q", got)
	}
	t.Setenv(EnvArchives, d+"/a:"+d+"/b")
	dirs := ArchiveDirs(d + "/first")
	if !slices.Equal(dirs, []string{d + "/first", d + "/a", d + "/b"}) {
		t.Errorf("ArchiveDirs = %v", dirs)
	}
	os.MkdirAll(d+"/b", 0o755)
	os.WriteFile(d+"/b/x.tar.gz", []byte("x"), 0o644)
	if p, ok := FindFile("x.tar.gz", dirs); !ok || p != d+"/b/x.tar.gz" {
		t.Errorf("FindFile = %q, %v", p, ok)
	}
}
