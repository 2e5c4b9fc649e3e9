package datasets

import (
	"math"
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
