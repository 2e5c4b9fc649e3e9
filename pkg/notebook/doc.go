// Package notebook is what a GoNB notebook needs that knows nothing of the
// application: the results folder and switches from the environment (so CI
// can run every notebook on the smoke preset), inline HTML and SVG charts,
// live progress, quantizer transfer functions and gradients and observers
// on real values for the tour, and one-line errors. Running and showing
// the reference tables, and the tour's trained model, are package
// github.com/mlsysrep/mlsysrep/quant/lab (library code never imports the
// application).
//
// Importing it makes github.com/janpfeifer/must report a failure as one
// line ("error: ...") on stderr and end the cell's program with exit status
// 1 (the cell fails, headless runs stop), instead of a panic's stack trace.
//
// Outside a notebook (tests, plain programs) the Show functions print a text
// rendering instead.
package notebook
