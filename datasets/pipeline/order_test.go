package pipeline

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
)

// indexTransform outputs one pixel holding the image's index (testImages
// stores it in every pixel's third byte), so a batch shows the order the
// loader read the images in, unmixed with any augmentation.
type indexTransform struct{}

func (indexTransform) OutputSize() int { return 1 }

func (indexTransform) Apply(_ *rand.Rand, src []uint8, _, _ int, dst []float32) {
	dst[0], dst[1], dst[2] = float32(src[2]), 0, 0
}

// epochOrder runs one epoch of l and returns the image indices in the
// order the batches delivered them.
func epochOrder(t *testing.T, l *Loader) []int {
	t.Helper()
	var order []int
	for b, err := range l.Iter() {
		if err != nil {
			t.Fatal(err)
		}
		px := tensors.MustCopyFlatData[float32](b.Inputs[0])
		for i := 0; i < len(px); i += 3 {
			order = append(order, int(px[i]))
		}
	}
	return order
}

// TestShuffleOrderPerEpoch: the training order is a new permutation every
// epoch, the same one for the same seed and epoch (so a resumed run replays
// it), another for another seed, and the file order without shuffling.
// TestLoader compares augmented pixels, which differ between epochs even
// when the order does not: an order ignoring the epoch passed it.
func TestShuffleOrderPerEpoch(t *testing.T) {
	const n, epochs = 20, 3
	mk := func(seed uint64, shuffle bool) *Loader {
		return &Loader{Images: testImages(n), Batch: 6, Shuffle: shuffle, Seed: seed, Last: Keep, Transform: indexTransform{}, Workers: 2}
	}
	identity := make([]int, n)
	for i := range identity {
		identity[i] = i
	}
	a, again, other := mk(42, true), mk(42, true), mk(43, true)
	var orders [][]int
	for e := range epochs {
		o := epochOrder(t, a)
		if sorted := slices.Sorted(slices.Values(o)); !slices.Equal(sorted, identity) {
			t.Fatalf("epoch %d: order %v is not a permutation of the %d images", e, o, n)
		}
		if slices.Equal(o, identity) {
			t.Errorf("epoch %d: not shuffled: %v", e, o)
		}
		for p, prev := range orders {
			if slices.Equal(o, prev) {
				t.Errorf("epochs %d and %d have the same order %v", p, e, o)
			}
		}
		if o2 := epochOrder(t, again); !slices.Equal(o, o2) {
			t.Errorf("epoch %d, same seed: orders %v and %v", e, o, o2)
		}
		if o3 := epochOrder(t, other); slices.Equal(o, o3) {
			t.Errorf("epoch %d: seeds 42 and 43 give the same order %v", e, o)
		}
		orders = append(orders, o)
	}
	a.SetEpoch(1) // a resume after one epoch
	if o := epochOrder(t, a); !slices.Equal(o, orders[1]) {
		t.Errorf("SetEpoch(1) replays %v, want epoch 1's %v", o, orders[1])
	}
	if o := epochOrder(t, mk(42, false)); !slices.Equal(o, identity) {
		t.Errorf("without shuffling: %v, want %v", o, identity)
	}
}
