// Package notebooks holds the project's GoNB notebooks (*.ipynb: the
// quantizer tour and one notebook per reference table) and the test that
// keeps them valid and clean. execute.py runs them headless (make
// notebooks); gonb_setup.sh is their first cell's setup.
package notebooks
