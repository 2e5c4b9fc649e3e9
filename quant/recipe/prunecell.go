package recipe

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mlsysrep/mlsysrep/pkg/quant"
)

// PruneMethod is how a pruning cell prunes.
type PruneMethod string

// The pruning methods of the pruning table.
const (
	// Dense prunes nothing: the control row, fine-tuned like the others.
	Dense PruneMethod = "dense"
	// Unstructured zeroes the smallest-magnitude weights of the masked
	// layers, with one global threshold (pkg/prune).
	Unstructured PruneMethod = "unstructured"
	// Filters removes the lowest-L1 filters inside every block (Li et al.,
	// 2017): a smaller dense network.
	Filters PruneMethod = "filters"
)

// Pruning is a pruning cell's method and target: the fraction of the masked
// weights (unstructured) or of each block's inner filters (filters).
type Pruning struct {
	Method PruneMethod
	Target float64
}

// pruningCell parses the config of a pruning cell after "prune:": "dense",
// "u<percent>" (unstructured), "f<percent>" (filters), each optionally
// followed by "+<quantization>" ("u70+ptq:w4a4", "f50+lsq:w4a4"): the
// pruned model quantized afterwards, Deep Compression's order. Only
// quantizers that keep a zero weight zero are accepted (PTQ, LSQ); DoReFa's
// and PACT's weight quantizer maps 0 to a nonzero level.
func pruningCell(c Cell, config string) (Cell, error) {
	spec, q, combined := strings.Cut(config, "+")
	bad := func(format string, args ...any) (Cell, error) {
		return Cell{}, fmt.Errorf("cell %q: %s (want prune:dense, prune:u<percent> or prune:f<percent>, optionally +ptq:wXaY or +lsq:wXaY)",
			c.Name, fmt.Sprintf(format, args...))
	}
	if c.Model == SVHNModelA {
		return bad("the pruning table prunes the CIFAR networks only")
	}
	switch {
	case spec == "dense":
		c.Prune = Pruning{Method: Dense}
	case len(spec) > 1 && (spec[0] == 'u' || spec[0] == 'f'):
		pct, err := strconv.Atoi(spec[1:])
		if err != nil || pct < 1 || pct > 99 || strconv.Itoa(pct) != spec[1:] {
			return bad("%q is not a whole percentage from 1 to 99", spec[1:])
		}
		c.Prune = Pruning{Method: Unstructured, Target: float64(pct) / 100}
		if spec[0] == 'f' {
			c.Prune.Method = Filters
		}
	default:
		return bad("unknown pruning %q", spec)
	}
	c.Quant = fpConfig
	if !combined {
		return c, nil
	}
	if c.Prune.Method == Dense {
		return bad("the dense row is not quantized here (the PTQ and QAT tables are)")
	}
	qc, err := quant.ParseConfig(q)
	if err != nil {
		return Cell{}, fmt.Errorf("cell %q: %w", c.Name, err)
	}
	if qc.Method != quant.PTQ && qc.Method != quant.LSQM {
		return bad("%s after pruning: only ptq and lsq keep a pruned weight at zero", qc.Method)
	}
	c.Quant = qc
	return c, nil
}

// Pruned tells whether the cell is a pruning table's.
func (c Cell) Pruned() bool { return c.Prune.Method != "" }

// PrunedBase is the name of the pruned cell a quantized pruning cell
// starts from ("resnet18/prune:u70" for "resnet18/prune:u70+ptq:w4a4"); the
// cell's own name otherwise.
func (c Cell) PrunedBase() string {
	base, _, _ := strings.Cut(c.Name, "+")
	return base
}
