package backend

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/mlsysrep/mlsysrep/pkg/backend/engine"
	"github.com/mlsysrep/mlsysrep/pkg/backend/kernels"
)

func TestSelect(t *testing.T) {
	for _, tc := range []struct {
		name     string
		wantName string
		wantErr  string
	}{
		{name: "purego", wantName: "purego"},
		{name: "purego:v1", wantName: "purego"},
		{name: "purego:v2", wantName: "purego"},
		{name: "purego:v2-nonative", wantName: "purego"},
		{name: "purego:v3", wantErr: `purego: unknown configuration "v3"`},
		{name: "go", wantName: "Go Backend"},
		{name: "tpu-please", wantErr: `unknown backend "tpu-please": valid names are purego, purego:v1, purego:v2, purego:v2-nonative, go`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, line, err := Select(tc.name)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.Name() != tc.wantName {
				t.Errorf("Name() = %q, want %q", b.Name(), tc.wantName)
			}
			if !strings.HasPrefix(line, "backend: "+tc.name+" (requested)") || strings.Contains(line, "\n") {
				t.Errorf("description line = %q", line)
			}
		})
	}
}

func TestSelectFromEnv(t *testing.T) {
	t.Setenv(EnvVar, "go")
	b, line, err := Select("")
	if err != nil {
		t.Fatal(err)
	}
	if b.Name() != "Go Backend" || !strings.Contains(line, "from GOMLX_BACKEND") {
		t.Errorf("got %q, %q", b.Name(), line)
	}
}

// TestSelectXLAWithoutPlugin runs Select("xla") in a child process whose
// plugin search path is an empty folder: it must fail fast with an error that
// says how to install a plugin, not crash, hang or download.
func TestSelectXLAWithoutPlugin(t *testing.T) {
	if os.Getenv("MLSYSREP_XLA_CHILD") == "1" {
		_, _, err := Select("")
		if err != nil {
			os.Stdout.WriteString("auto error: " + err.Error() + "\n")
		}
		b, _, _ := Select("")
		os.Stdout.WriteString("auto chose: " + b.Name() + "\n")
		for _, name := range []string{"xla", "xla:cuda"} {
			_, _, err := Select(name)
			os.Stdout.WriteString(name + " error: " + errString(err) + "\n")
		}
		return
	}
	empty := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSelectXLAWithoutPlugin$")
	cmd.Env = append(os.Environ(), "MLSYSREP_XLA_CHILD=1", "PJRT_PLUGIN_LIBRARY_PATH="+empty, "GOMLX_BACKEND=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	text := string(out)
	if !strings.Contains(text, "auto chose: purego") {
		t.Errorf("auto-selection without plugins should pick purego:\n%s", text)
	}
	if xlaBuiltIn {
		for _, want := range []string{
			"xla error: XLA backend requested but no PJRT plugin is installed: install the CPU plugin with `make setup-xla`",
			"xla:cuda error: XLA backend requested but no PJRT plugin is installed",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("missing %q in:\n%s", want, text)
			}
		}
	} else if !strings.Contains(text, "xla error: this binary was built without XLA support") {
		t.Errorf("missing no-XLA error in:\n%s", text)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestSIMDWarning(t *testing.T) {
	w := simdWarning()
	if simdBuilt && w != "" {
		t.Errorf("SIMD build warns: %q", w)
	}
	if !simdBuilt && strings.Contains(w, "GOEXPERIMENT=simd") != (runtimeIsAMD64()) {
		t.Errorf("warning %q does not match the architecture", w)
	}
}

func TestRecordName(t *testing.T) {
	t.Setenv(engine.OffEnvVar, "BatchNormGradient")
	for name, want := range map[string]string{
		"purego":             "purego:v2 (mlsysrep engine v2, " + kernels.Path() + " kernels, off: BatchNormGradient)",
		"purego:v1":          "purego:v1 (mlsysrep engine v1)",
		"purego:v2":          "purego:v2 (mlsysrep engine v2, " + kernels.Path() + " kernels, off: BatchNormGradient)",
		"purego:v2-nonative": "purego:v2-nonative (mlsysrep engine v2, native kernels off)",
		"go":                 "Go Backend",
	} {
		b, _, err := Select(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := RecordName(b); got != want {
			t.Errorf("RecordName(%s) = %q, want %q", name, got, want)
		}
	}
}
