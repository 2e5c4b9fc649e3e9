// Package lab is what the notebooks run and show of the application: a
// reference table's cells, run through the recipes or read from the
// runner's records (RunTable, LoadTable), its recipe, its table with the
// reading computed from the records, and its training curves (ShowRecipe,
// ShowTable, ShowCurves), and the tour's trained FP model (LoadOrTrainFP).
// It reaches models, data and training only through quant/recipe, as the
// runner does, so a notebook and the command line run the same code.
//
// The notebook-side helpers that know nothing of the application (display,
// progress, environment, the quantizer tour's transfer functions, one-line
// errors) are package github.com/mlsysrep/mlsysrep/pkg/notebook.
//
// A notebook cell imports both:
//
//	import (
//		"github.com/mlsysrep/mlsysrep/pkg/notebook"
//		"github.com/mlsysrep/mlsysrep/quant/lab"
//	)
//
//	%%
//	res := must.M1(lab.RunTable("pact"))
//	lab.ShowTable(res)
package lab
