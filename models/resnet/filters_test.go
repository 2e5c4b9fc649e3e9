package resnet

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/models/internal/modeltest"
	"github.com/mlsysrep/mlsysrep/pkg/prune"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
)

// TestPruneFiltersMatchesMaskedDense: the filter-pruned network gives the
// logits of the dense network whose removed channels are cut out (the
// second conv's weights on them zeroed), within 1e-5; it has the hand-counted
// parameters and FLOPs fewer; the kept filters are those with the largest
// L1 norms.
func TestPruneFiltersMatchesMaskedDense(t *testing.T) {
	fp := quant.Config{Method: quant.FP, WBits: 32, ABits: 32, GBits: 32}
	dense := Config{Width: 0.125, BlocksPerStage: 1, NumClasses: 10, Quant: fp}
	images, _ := modeltest.Images(3, 32, 10, 2)
	store := model.NewStore()
	store.SetRNGStateFromSeed(6)
	modeltest.Infer(t, store, dense.Build, images)
	values := modeltest.Values(t, store)
	modeltest.RandomizeBN(values, 3)

	small, smallValues, err := dense.PruneFilters(values, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(small.Inner, []int{4, 8, 16, 32}) {
		t.Fatalf("inner channels %v, want [4 8 16 32] (half of 8, 16, 32, 64)", small.Inner)
	}

	// The masked dense network: the second conv reads nothing from a
	// removed channel.
	masked := map[string]*tensors.Tensor{}
	for p, v := range values {
		masked[p] = v
	}
	for stage := range 4 {
		scope := "/stage" + string(rune('1'+stage)) + "_block0"
		norms, err := prune.FilterNorms(values[scope+"/conv1/conv/weights"])
		if err != nil {
			t.Fatal(err)
		}
		keep := prune.KeepFilters(norms, len(norms)/2)
		for _, k := range keep {
			for r := range norms {
				if !slices.Contains(keep, r) && norms[r] > norms[k] {
					t.Errorf("%s keeps filter %d (L1 %g) but removes the larger %d (%g)", scope, k, norms[k], r, norms[r])
				}
			}
		}
		w := values[scope+"/conv2/conv/weights"]
		data := tensors.MustCopyFlatData[float32](w)
		dims := w.Shape().Dimensions // [3, 3, in, out]
		for i := range data {
			if in := (i / dims[3]) % dims[2]; !slices.Contains(keep, in) {
				data[i] = 0
			}
		}
		masked[scope+"/conv2/conv/weights"] = tensors.FromFlatDataAndDimensions(data, dims...)
	}
	modeltest.SurgeryMatches(t, images, dense.Build, values, masked, small.Build, smallValues)

	// Hand-counted (blocks: in/out 8/8, 8/16, 16/32, 32/64 channels on
	// 32, 16, 8, 4 pixel maps; r = 4, 8, 16, 32 filters removed): each block
	// loses r*9*in + 2r + r*9*out parameters and 32x32.. maps * r*9*(in+out)
	// multiply-adds.
	ds, err := dense.Summary()
	if err != nil {
		t.Fatal(err)
	}
	ss, err := small.Summary()
	if err != nil {
		t.Fatal(err)
	}
	if d := ds.Params() - ss.Params(); d != 584+1744+6944+27712 {
		t.Errorf("the pruned network has %d parameters fewer, want 36984", d)
	}
	if d := dense.ForwardFLOPs() - small.ForwardFLOPs(); d != 2*(589824+3*442368) {
		t.Errorf("the pruned network has %.0f FLOPs fewer, want 3833856", d)
	}
}

// TestPruneFiltersErrors checks the refusals.
func TestPruneFiltersErrors(t *testing.T) {
	c := Config{Width: 0.125, BlocksPerStage: 1, NumClasses: 10, Quant: quant.Config{Method: quant.FP, WBits: 32, ABits: 32, GBits: 32}}
	if _, _, err := c.PruneFilters(map[string]*tensors.Tensor{}, 0.5); err == nil || !strings.Contains(err.Error(), "no variable /stage1_block0/conv1/conv/weights") {
		t.Errorf("no variables: %v", err)
	}
	for _, r := range []float64{-0.5, 1, math.NaN()} {
		if _, _, err := c.PruneFilters(map[string]*tensors.Tensor{}, r); err == nil {
			t.Errorf("ratio %g accepted", r)
		}
	}
	bad := c
	bad.Inner = []int{4, 8}
	if bad.Validate() == nil {
		t.Error("Inner of the wrong length accepted")
	}
}
