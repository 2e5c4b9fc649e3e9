// Package report turns experiment records into tables: the JSON record of a
// table cell (what ran, on what, how long, and how close to the reference it
// came), its atomic storage, and the Markdown rendering of a reference table
// with "ours (reference, difference)" in each cell. The runner and the
// notebooks both call it, so they print the same tables.
package report

import (
	"fmt"
	"strings"
)

// Recipe is how a cell was trained (or calibrated).
type Recipe struct {
	Epochs      int     `json:"epochs"`
	Batch       int     `json:"batch"`
	LR          float64 `json:"lr"`
	Schedule    string  `json:"schedule"`
	Momentum    float64 `json:"momentum"`
	WeightDecay float64 `json:"weight_decay"`
	ClipNorm    float64 `json:"clip_norm,omitempty"`
	TrainImages int     `json:"train_images"`
	TestImages  int     `json:"test_images"`
	Calibration int     `json:"calibration_images,omitempty"` // PTQ
	Observer    string  `json:"observer,omitempty"`           // PTQ
	Init        string  `json:"init"`
	// FPModel names the FP model a PTQ table quantizes when it was not
	// trained by the recipe but imported (the runner's -fp-checkpoint): the
	// file's name and SHA-256; empty when the recipe trained it. In the
	// pruning table it names the weights a cell starts from: their cell,
	// recipe digest and training curve digest.
	FPModel string `json:"fp_model,omitempty"`
	// Pruning says how a pruning table's cell pruned its network (the
	// method, the target and its schedule); empty elsewhere.
	Pruning string `json:"pruning,omitempty"`
	// PruneRampEpochs is the epochs over which a gradual pruning raises the
	// sparsity (0: none, or one-shot).
	PruneRampEpochs int `json:"prune_ramp_epochs,omitempty"`
}

// WithFPModel is the recipe with FPModel set to id (see FPModel).
func (r Recipe) WithFPModel(id string) Recipe {
	r.FPModel = id
	return r
}

// Epoch is one epoch of a cell's training curve. Its fields are those of
// pkg/train's Epoch, which the recipes convert (train.Epoch and Epoch
// convert to each other while they keep the same fields): the record
// schema is report's own, so this package needs nothing of training.
type Epoch struct {
	Epoch int     `json:"epoch"` // 1-based
	LR    float64 `json:"lr"`
	// TrainLoss is the mean of the minimized objective over the epoch's
	// batches (cross-entropy plus any regularization term).
	TrainLoss float64 `json:"train_loss"`
	// TestLoss is the mean cross-entropy on the evaluation set, alone.
	TestLoss     float64 `json:"test_loss"`
	TestAccuracy float64 `json:"test_accuracy"`
	Images       int     `json:"images"`
	Seconds      float64 `json:"seconds"`
	// CPUSteal is the share of the machine's CPU time the hypervisor gave to
	// other guests during the epoch's training (0 to 1; nil where the host
	// does not account it, and in records from before it was measured).
	CPUSteal *float64 `json:"cpu_steal,omitempty"`
}

// Record is the result of one table cell (PROTOCOL section 7).
type Record struct {
	Table       string   `json:"table"`
	Cell        string   `json:"cell"` // model/quant config, e.g. "resnet18/pact:w4a4"
	Preset      string   `json:"preset"`
	Model       string   `json:"model"`
	ModelSize   string   `json:"model_size"` // e.g. "width 0.25, 701466 parameters"
	Data        string   `json:"data"`       // which copy, e.g. "CIFAR-10 (JPEG q75 mirror)"
	Backend     string   `json:"backend"`
	Seed        uint64   `json:"seed"`
	Recipe      Recipe   `json:"recipe"`
	EpochsRun   int      `json:"epochs_run"`
	Curve       []Epoch  `json:"curve,omitempty"`
	Final       float64  `json:"final_accuracy"` // percent
	Best        float64  `json:"best_accuracy"`  // percent
	WallSeconds float64  `json:"wall_seconds"`
	ImagesPerS  float64  `json:"images_per_second"`
	Commit      string   `json:"commit"`
	Dirty       bool     `json:"dirty"`
	Reference   *float64 `json:"reference,omitempty"` // percent; nil: none or "not converged"
	RefText     string   `json:"reference_text"`      // as the reference table prints it
	Difference  *float64 `json:"difference,omitempty"`
	Complete    bool     `json:"complete"`
	Note        string   `json:"note,omitempty"`
	// Pruned is what a pruning table's cell measured besides its accuracy
	// (nil in every other table).
	Pruned *Pruned `json:"pruned,omitempty"`
}

// SetReference fills the reference columns from the reference table's text
// ("93.84", "not converged").
func (r *Record) SetReference(text string) {
	r.RefText = text
	r.Reference, r.Difference = nil, nil
	var v float64
	if _, err := fmt.Sscanf(text, "%g", &v); err == nil {
		d := r.Final - v
		r.Reference, r.Difference = &v, &d
	}
}

// SafeName is a cell's name as a file or folder name ("resnet18/pact:w4a4"
// -> "resnet18__pact_w4a4"): records and checkpoints are named by it.
func SafeName(cell string) string {
	return strings.NewReplacer("/", "__", ":", "_", "+", "-").Replace(cell)
}

// Seconds is the record's wall time. A record whose wall time was lost on a
// resume (a bug fixed in commit a2974f2: only the last resumed run was
// counted) reports the sum of its epochs' training seconds instead, with
// estimated = true.
func (r *Record) Seconds() (seconds float64, estimated bool) {
	epochs := 0.0
	for _, e := range r.Curve {
		epochs += e.Seconds
	}
	if r.WallSeconds < epochs {
		return epochs, true
	}
	return r.WallSeconds, false
}
