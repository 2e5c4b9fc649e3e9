//go:build cgo && !noxla

package backend

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/go-xla/compute/xla"
	"github.com/gomlx/go-xla/installer"
	"github.com/gomlx/go-xla/pjrt"
)

// xlaBuiltIn: this binary can load XLA/PJRT plugins.
const xlaBuiltIn = true

// installHint says how to get a plugin, in every XLA error.
const installHint = "install the CPU plugin with `make setup-xla` (or `go run ./quant/cmd/mlsysrep setup-xla`), " +
	"or point " + pjrt.PJRTPluginPathsEnv + " at a folder holding pjrt_c_api_<name>_plugin.so, " +
	"or give an absolute path: GOMLX_BACKEND=xla:/abs/path/plugin.so"

// xlaPlugins lists installed plugins (standard go-xla locations and
// PJRT_PLUGIN_LIBRARY_PATH) without installing anything: go-xla's
// auto-installer is never linked in.
func xlaPlugins() map[string]string {
	return pjrt.AvailablePlugins()
}

// bestXLAPlugin is the plugin auto-selection prefers: a GPU one, else CPU.
func bestXLAPlugin() string {
	plugins := xlaPlugins()
	for _, preferred := range []string{"cuda", "cpu"} {
		if _, ok := plugins[preferred]; ok {
			return preferred
		}
	}
	return ""
}

func newXLA(config string) (compute.Backend, error) {
	plugin, _, _ := strings.Cut(config, ",")
	if plugin != "" && filepath.IsAbs(plugin) {
		return xla.New(config)
	}
	plugins := xlaPlugins()
	if len(plugins) == 0 {
		return nil, fmt.Errorf("XLA backend requested but no PJRT plugin is installed: %s", installHint)
	}
	if plugin == "" {
		plugin = bestXLAPlugin()
		if plugin == "" {
			plugin = sortedKeys(plugins)[0]
		}
		config = plugin + config
	}
	if _, ok := plugins[plugin]; !ok {
		return nil, fmt.Errorf("XLA plugin %q is not installed (installed: %s): %s",
			plugin, strings.Join(sortedKeys(plugins), ", "), installHint)
	}
	return xla.New(config)
}

// InstallXLA downloads and installs XLA/PJRT plugins into libDir/go-xla
// (libDir "" means go-xla's default, ~/.local/lib on Linux; /usr/local/lib is
// the other standard place). plugins lists "cpu" and/or "cuda"; none means
// what this machine can use (CPU, and CUDA where an NVIDIA GPU is present).
// "cuda" installs the CUDA plugin even without a GPU (for images built on
// machines without one). It needs internet access; it only runs when asked.
func InstallXLA(plugins []string, libDir string) error {
	if len(plugins) == 0 {
		return installer.AutoInstall(libDir, true, installer.Normal)
	}
	if libDir == "" {
		var err error
		if libDir, err = installer.DefaultHomeLibPath(); err != nil {
			return err
		}
	}
	for _, p := range plugins {
		var err error
		switch p {
		case "cpu":
			err = installer.AutoInstallPlugin("cpu", libDir, true, installer.Normal)
		case "cuda":
			err = installer.CudaInstall("cuda13", "latest", filepath.Join(libDir, "go-xla"), true, installer.Normal)
		default:
			err = fmt.Errorf("unknown XLA plugin %q: valid plugins are cpu, cuda", p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
