package train

import (
	"context"
	"iter"
	"math"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	gomlxtrain "github.com/gomlx/gomlx/ml/train"
	"github.com/mlsysrep/mlsysrep/pkg/nn"
)

// evalRows are eight 4-feature inputs whose logits the tests control: the
// models below map them to logits without any learned weight, so every
// prediction, and so the accuracy, is known exactly. No row's largest logit
// is tied under any model here, nor under batch-statistics batch norm
// (which a broken evaluation would use instead of the running statistics).
var evalRows = [][4]float32{
	{3, 1, 0, 0},
	{0, 2, 1, 0},
	{1, 0, 3, 0},
	{0, 0, 1, 2},
	{2, 1, 0, 0.5},
	{0.5, 3, 0, 1},
	{1, 1, 2.5, 0},
	{0, 1, 0, 3},
}

// rowData is a dataset of evalRows with given labels, in batches of the
// given sizes (uneven, so a mean of per-batch means is not the mean).
type rowData struct {
	labels  []int32
	batches []int
}

func (d *rowData) Name() string { return "rows" }

func (d *rowData) Iter() iter.Seq2[gomlxtrain.Batch, error] {
	return func(yield func(gomlxtrain.Batch, error) bool) {
		start := 0
		for _, n := range d.batches {
			x := make([]float32, 0, 4*n)
			for _, r := range evalRows[start : start+n] {
				x = append(x, r[:]...)
			}
			b := gomlxtrain.Batch{Inputs: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(x, n, 4)},
				Labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(append([]int32{}, d.labels[start:start+n]...), n, 1)}}
			start += n
			if !yield(b, nil) {
				return
			}
		}
	}
}

// inputLogits is a model whose logits are its inputs. Its one trainable
// variable enters multiplied by 0, so the trainer has something to update
// but no training step can change a prediction or the test loss.
func inputLogits(scope *model.Scope, x *graph.Node) *graph.Node {
	w := scope.VariableWithValue("w", float32(1)).NodeValue(x.Graph())
	return graph.Add(x, graph.MulScalar(w, 0))
}

// bnLogits is a batch norm of the inputs (scale 1, offset 0): in inference
// its logits are (x - running_mean) / sqrt(running_var + eps).
func bnLogits(scope *model.Scope, x *graph.Node) *graph.Node {
	return nn.BatchNorm(scope.In("bn"), x).Done()
}

// Running statistics far from evalRows' batch statistics, so that batch
// norm in inference and in training mode predict differently (5 and 6 of
// the 8 rows right with TestEvaluateExact's labels) and lose differently.
var (
	runningMean = []float32{1, 0, 0, -1.5}
	runningVar  = []float32{4, 1, 1, 1}
)

// hostMetrics is the expected mean cross-entropy and number of right
// predictions of logits(row) over evalRows, computed in float64.
func hostMetrics(labels []int32, logits func(r [4]float32) [4]float64) (loss float64, correct int) {
	for i, r := range evalRows {
		l := logits(r)
		best, mx := 0, l[0]
		for j := range l {
			if l[j] > mx {
				best, mx = j, l[j]
			}
		}
		sum := 0.0
		for j := range l {
			sum += math.Exp(l[j] - mx)
		}
		loss += mx + math.Log(sum) - l[labels[i]]
		if best == int(labels[i]) {
			correct++
		}
	}
	return loss / float64(len(evalRows)), correct
}

func identityLogits(r [4]float32) [4]float64 {
	return [4]float64{float64(r[0]), float64(r[1]), float64(r[2]), float64(r[3])}
}

func inferenceBNLogits(r [4]float32) [4]float64 {
	var l [4]float64
	for j := range l {
		l[j] = (float64(r[j]) - float64(runningMean[j])) / math.Sqrt(float64(runningVar[j])+1e-5)
	}
	return l
}

// TestEvaluateExact evaluates models whose predictions are known, in uneven
// batches: the accuracy must be exactly the share of right predictions (an
// accuracy reported as 1 - accuracy, or averaged per batch, fails) and the
// loss the mean cross-entropy over all images. The batch-norm model must be
// evaluated in inference mode, with its running statistics: the same rows
// normalized by their batch statistics (training mode) give 6 of 8 right
// and another loss.
func TestEvaluateExact(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fn      ModelFn
		setup   func(*model.Store) error
		labels  []int32
		logits  func([4]float32) [4]float64
		correct int
	}{
		{"input logits", inputLogits, nil, []int32{0, 1, 2, 0, 1, 2, 3, 0}, identityLogits, 3},
		{"batch norm with running statistics", bnLogits, func(s *model.Store) error {
			if _, err := s.RootScope().In("bn").CreateVariable("running_mean", tensors.FromValue(runningMean)); err != nil {
				return err
			}
			_, err := s.RootScope().In("bn").CreateVariable("running_var", tensors.FromValue(runningVar))
			return err
		}, []int32{0, 1, 2, 0, 1, 1, 2, 3}, inferenceBNLogits, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantLoss, correct := hostMetrics(tc.labels, tc.logits)
			if correct != tc.correct {
				t.Fatalf("test data: the host formula gives %d right predictions, the case says %d", correct, tc.correct)
			}
			store := model.NewStore()
			if tc.setup != nil {
				if err := tc.setup(store); err != nil {
					t.Fatal(err)
				}
			}
			l, acc, err := Evaluate(backend(t), store, tc.fn, &rowData{labels: tc.labels, batches: []int{5, 3}})
			if err != nil {
				t.Fatal(err)
			}
			if want := float64(tc.correct) / 8; acc != want {
				t.Errorf("accuracy %g, want exactly %d/8 = %g", acc, tc.correct, want)
			}
			if math.Abs(l-wantLoss) > 1e-5 {
				t.Errorf("loss %.7f, want the mean cross-entropy %.7f", l, wantLoss)
			}
		})
	}
}

// TestRunRecordsEvaluation: the loop records, after every epoch, the test
// loss and accuracy of the evaluation set (here fixed by the model: 3 of 8
// right whatever the training does).
func TestRunRecordsEvaluation(t *testing.T) {
	labels := []int32{0, 1, 2, 0, 1, 2, 3, 0}
	wantLoss, _ := hostMetrics(labels, identityLogits)
	store := model.NewStore()
	h, err := Run(context.Background(), Config{Backend: backend(t), Store: store, Model: inputLogits,
		Train: &rowData{labels: labels, batches: []int{4, 4}}, Eval: &rowData{labels: labels, batches: []int{5, 3}},
		Epochs: 2, Optimizer: SGD{Momentum: 0.9, WeightDecay: 5e-4}, Schedule: MultiStep{Base: 0.1}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range h.Epochs {
		if e.TestAccuracy != 3.0/8 || math.Abs(e.TestLoss-wantLoss) > 1e-5 {
			t.Errorf("epoch %d: test accuracy %g loss %.7f, want 3/8 = 0.375 and %.7f", e.Epoch, e.TestAccuracy, e.TestLoss, wantLoss)
		}
	}
}
