// Package notebook is the glue between the project's packages and its GoNB
// notebooks: which preset and results folder a notebook uses (from the
// environment, so CI can run every notebook on the smoke preset), running a
// reference table through the recipes or rendering it from the runner's
// saved records, live progress, the tables and training curves as inline
// HTML/SVG, quantizer transfer functions and gradients for the tour, and
// one-line errors.
//
// Importing it makes github.com/janpfeifer/must report a failure as one
// line ("error: ...") on stderr and end the cell's program with exit status
// 1 (the cell fails, headless runs stop), instead of a panic's stack trace.
//
// Outside a notebook (tests, plain programs) the Show functions print a text
// rendering instead.
package notebook
