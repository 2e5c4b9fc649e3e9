// Package tables registers every reference table with quant/recipe: each
// method's package (quant/<method>) registers its own tables when it is
// imported, and this package imports them all, so that the runner and the
// notebooks (quant/lab) know every table by importing one package. A new
// method's recipe package is added here, once.
package tables

import (
	// The methods' recipe packages, each registering its tables.
	_ "github.com/mlsysrep/mlsysrep/quant/dorefa"
	_ "github.com/mlsysrep/mlsysrep/quant/lsq"
	_ "github.com/mlsysrep/mlsysrep/quant/pact"
	_ "github.com/mlsysrep/mlsysrep/quant/pruning"
	_ "github.com/mlsysrep/mlsysrep/quant/ptq"
)
