// Package datasets holds what every dataset of the project shares: the
// decoded image set (Images), where data is looked for and cached, verified
// downloads, the canonical image order of PROTOCOL section 6 and the CIFAR-10
// normalization. The loaders live in its sub-packages (cifar10, svhn,
// imagefolder) and the training input pipelines in pipeline.
package datasets

// CanonicalOrder returns the indices of a labeled split in canonical order:
// images grouped by class keeping each class's source order, then the classes
// interleaved round-robin (class 0's first image, class 1's first, ...). Every
// prefix of it is class balanced, so "the first N images" means order[:N].
func CanonicalOrder(labels []int32) []int {
	var byClass [][]int
	for i, l := range labels {
		for int(l) >= len(byClass) {
			byClass = append(byClass, nil)
		}
		byClass[l] = append(byClass[l], i)
	}
	order := make([]int, 0, len(labels))
	for round := 0; len(order) < len(labels); round++ {
		for _, idx := range byClass {
			if round < len(idx) {
				order = append(order, idx[round])
			}
		}
	}
	return order
}

// CIFAR-10 per-channel normalization of PROTOCOL section 2 (RGB, [0,1] scale).
var (
	CIFAR10Mean = [3]float32{0.4914, 0.4822, 0.4465}
	CIFAR10Std  = [3]float32{0.2023, 0.1994, 0.2010}
)

// Normalize converts interleaved RGB bytes to float32 (x/255 - mean) / std.
func Normalize(dst []float32, pixels []uint8, mean, std [3]float32) {
	for i, p := range pixels {
		c := i % 3
		dst[i] = (float32(p)/255 - mean[c]) / std[c]
	}
}
