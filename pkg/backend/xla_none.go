//go:build !cgo || noxla

package backend

import (
	"errors"

	"github.com/gomlx/compute"
)

// xlaBuiltIn: this binary was built without XLA support (noxla tag or no cgo).
const xlaBuiltIn = false

var errNoXLA = errors.New("this binary was built without XLA support (built with -tags noxla or CGO_ENABLED=0): " +
	"rebuild with cgo and without the noxla tag to use XLA")

func bestXLAPlugin() string { return "" }

func newXLA(string) (compute.Backend, error) { return nil, errNoXLA }

// InstallXLA is unavailable without XLA support.
func InstallXLA([]string, string) error { return errNoXLA }
