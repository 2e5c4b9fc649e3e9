package recipe

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/mlsysrep/mlsysrep/datasets/pipeline"
	"github.com/mlsysrep/mlsysrep/pkg/prune"
	"github.com/mlsysrep/mlsysrep/pkg/quant"
	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/pkg/train"
)

// What a pruning cell measures besides its accuracy: its counts, its
// inference speed, and (unstructured cells) its per-layer sparsity and
// weight magnitudes.

// measurePruned counts a pruned model's sparsity, weights and
// multiply-adds and times its inference on the test images.
func (r *runner) measurePruned(ctx context.Context, c Cell, net cifarNet, store *model.Store, testL *pipeline.Loader, fp *fpBase) (*report.Pruned, error) {
	var st prune.Stats
	if c.Prune.Method == Unstructured {
		var err error
		if st, err = prune.Count(store); err != nil {
			return nil, err
		}
	}
	s, err := net.summary()
	if err != nil {
		return nil, err
	}
	acc, err := prune.Account(s, st)
	if err != nil {
		return nil, err
	}
	weights, nonzero, macs, live := acc.Totals()
	speed, err := r.inferenceSpeed(ctx, store, net.fn(), testL)
	if err != nil {
		return nil, err
	}
	p := &report.Pruned{Method: string(c.Prune.Method), Target: c.Prune.Target, Sparsity: st.Sparsity(),
		Weights: weights, NonzeroWeights: nonzero, Params: s.Params(), MACs: macs, LiveMACs: live,
		DenseAccuracy: fp.accuracy, InferImagesPerS: speed}
	if c.Prune.Method == Unstructured && c.Quant.Method == quant.FP {
		if p.Layers, p.Magnitudes, err = pruneDetail(st, fp.store); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// inferenceSpeed times inference over the test images, in the evaluation's
// batches and input pipeline, after one untimed pass over a batch builds the
// graph.
func (r *runner) inferenceSpeed(ctx context.Context, store *model.Store, fn train.ModelFn, testL *pipeline.Loader) (float64, error) {
	n := min(testL.Images.N, 16*testL.Batch)
	loader := func(images int) *pipeline.Loader {
		return &pipeline.Loader{Images: testL.Images.FirstN(images), Batch: testL.Batch, Last: testL.Last, Transform: testL.Transform}
	}
	if _, _, err := train.EvaluateContext(ctx, r.opts.Backend, store, fn, loader(min(n, testL.Batch))); err != nil {
		return 0, err
	}
	timed := loader(n)
	start := time.Now()
	if _, _, err := train.EvaluateContext(ctx, r.opts.Backend, store, fn, timed); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// magnitudeBins is the bins of a record's magnitude histogram.
const magnitudeBins = 60

// pruneDetail is an unstructured cell's per-layer counts and its masked
// weights' magnitudes, in the FP model (fp) and after fine-tuning (st: the
// cell's masks and weights).
func pruneDetail(st prune.Stats, fp *model.Store) ([]report.PrunedLayer, *report.Magnitudes, error) {
	var layers []report.PrunedLayer
	var dense, kept []float64
	threshold, hi := 0.0, 0.0
	for _, l := range st {
		layers = append(layers, report.PrunedLayer{Scope: l.Scope, Weights: l.Weights, Zero: l.Zero})
		fv := fp.GetVariable(l.Variable.Path())
		if fv == nil {
			return nil, nil, fmt.Errorf("the FP model has no %s", l.Variable.Path())
		}
		before, err := flatFloats(fv)
		if err != nil {
			return nil, nil, err
		}
		after, err := flatFloats(l.Variable)
		if err != nil {
			return nil, nil, err
		}
		if len(before) != len(l.Mask) || len(after) != len(l.Mask) {
			return nil, nil, fmt.Errorf("%s: %d FP weights, %d weights, %d mask entries", l.Scope, len(before), len(after), len(l.Mask))
		}
		for i, k := range l.Mask {
			b := math.Abs(float64(before[i]))
			dense, hi = append(dense, b), max(hi, b)
			if k == 0 {
				threshold = max(threshold, b)
			} else {
				kept = append(kept, math.Abs(float64(after[i])))
			}
		}
	}
	if len(dense) == 0 {
		return layers, nil, nil
	}
	m := &report.Magnitudes{Threshold: threshold, Edges: make([]float64, magnitudeBins+1)}
	for i := range m.Edges {
		m.Edges[i] = hi * float64(i) / magnitudeBins
	}
	m.Dense, m.Kept = binned(dense, hi), binned(kept, hi)
	return layers, m, nil
}

// binned counts values in [0, hi] into magnitudeBins equal bins (larger
// values in the last).
func binned(values []float64, hi float64) []int {
	out := make([]int, magnitudeBins)
	for _, v := range values {
		i := magnitudeBins - 1
		if hi > 0 {
			i = min(int(v/hi*magnitudeBins), magnitudeBins-1)
		}
		out[i]++
	}
	return out
}

// flatFloats is a float32 variable's values.
func flatFloats(v *model.Variable) ([]float32, error) {
	t, err := v.Value()
	if err != nil {
		return nil, err
	}
	return tensors.CopyFlatData[float32](t)
}
