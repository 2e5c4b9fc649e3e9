package mobilenetv2

import (
	"fmt"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/models/internal/modeltest"
	"github.com/mlsysrep/mlsysrep/pkg/prune"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
)

// TestPruneFiltersMatchesMaskedDense: cutting half of every block's
// expansion channels gives the logits of the dense network whose
// projections read nothing from the removed channels, within 1e-5, and the
// counts of parameters and FLOPs drop by what the removed channels held.
func TestPruneFiltersMatchesMaskedDense(t *testing.T) {
	fp := quant.Config{Method: quant.FP, WBits: 32, ABits: 32, GBits: 32}
	dense := Config{Width: 0.25, NumClasses: 10, Quant: fp}
	images, _ := modeltest.Images(2, 32, 10, 4)
	store := model.NewStore()
	store.SetRNGStateFromSeed(8)
	modeltest.Infer(t, store, dense.Build, images)
	values := modeltest.Values(t, store)
	modeltest.RandomizeBN(values, 5)

	small, smallValues, err := dense.PruneFilters(values, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	masked := map[string]*tensors.Tensor{}
	for p, v := range values {
		masked[p] = v
	}
	removedParams, removedMACs := 0, 0.0
	size, in := 32, dense.Channels(32)
	for i, b := range Blocks {
		scope := fmt.Sprintf("/block%d", i)
		norms, err := prune.FilterNorms(values[scope+"/expand/conv/weights"])
		if err != nil {
			t.Fatal(err)
		}
		keep := prune.KeepFilters(norms, len(norms)-len(norms)/2)
		if small.Hidden[i] != len(keep) {
			t.Fatalf("block %d keeps %d channels, want %d", i, small.Hidden[i], len(keep))
		}
		w := values[scope+"/project/conv/weights"] // [1, 1, hidden, out]
		data := tensors.MustCopyFlatData[float32](w)
		dims := w.Shape().Dimensions
		for j := range data {
			if !slices.Contains(keep, (j/dims[3])%dims[2]) {
				data[j] = 0
			}
		}
		masked[scope+"/project/conv/weights"] = tensors.FromFlatDataAndDimensions(data, dims...)
		// Each removed channel held in weights in the expansion, 9 in the
		// depthwise kernel, out in the projection and 2 x 2 BN parameters.
		r, out := len(norms)-len(keep), dense.Channels(b.Out)
		removedParams += r * (in + 9 + out + 4)
		removedMACs += float64(size*size*in*r) + float64(size*size*r*(9+out)/(b.Stride*b.Stride))
		size /= b.Stride
		in = out
	}
	modeltest.SurgeryMatches(t, images, dense.Build, values, masked, small.Build, smallValues)

	ds, err := dense.Summary()
	if err != nil {
		t.Fatal(err)
	}
	ss, err := small.Summary()
	if err != nil {
		t.Fatal(err)
	}
	if d := ds.Params() - ss.Params(); d != removedParams {
		t.Errorf("the pruned network has %d parameters fewer, want %d", d, removedParams)
	}
	if d := dense.ForwardFLOPs() - small.ForwardFLOPs(); d != 2*removedMACs {
		t.Errorf("the pruned network has %.0f FLOPs fewer, want %.0f", d, 2*removedMACs)
	}
}

// TestForwardFLOPs checks the count at width 1 against a total computed by
// hand from PROTOCOL section 3b's table (stem, 17 blocks, last conv, FC).
func TestForwardFLOPs(t *testing.T) {
	c := Config{Width: 1, NumClasses: 10}
	// Per block: (input map)^2*in*hidden + (output map)^2*hidden*(9+out)
	// [+ (map)^2*in*out for a stride-1 block whose channels change].
	macs := 32*32*3*32*9 +
		(32*32*32*32 + 32*32*32*(9+16) + 32*32*32*16) + // block 0: t=1, shortcut 32->16
		(32*32*16*96 + 32*32*96*(9+24) + 32*32*16*24) + (32*32*24*144 + 32*32*144*(9+24)) +
		(32*32*24*144 + 16*16*144*(9+32)) + 2*(16*16*32*192+16*16*192*(9+32)) +
		(16*16*32*192 + 8*8*192*(9+64)) + 3*(8*8*64*384+8*8*384*(9+64)) +
		(8*8*64*384 + 8*8*384*(9+96) + 8*8*64*96) + 2*(8*8*96*576+8*8*576*(9+96)) +
		(8*8*96*576 + 4*4*576*(9+160)) + 2*(4*4*160*960+4*4*960*(9+160)) +
		(4*4*160*960 + 4*4*960*(9+320) + 4*4*160*320) +
		4*4*320*1280 + 1280*10
	if got := c.ForwardFLOPs(); got != 2*float64(macs) {
		t.Errorf("ForwardFLOPs = %.0f, want %d", got, 2*macs)
	}
}
