package notebooks

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// notebook is the part of nbformat 4 the checks read.
type notebook struct {
	NBFormat int `json:"nbformat"`
	Metadata struct {
		KernelSpec struct {
			Name string `json:"name"`
		} `json:"kernelspec"`
	} `json:"metadata"`
	Cells []struct {
		CellType       string          `json:"cell_type"`
		Source         json.RawMessage `json:"source"`
		Outputs        []any           `json:"outputs"`
		ExecutionCount *int            `json:"execution_count"`
	} `json:"cells"`
}

// source joins a cell's source (a string or a list of lines).
func source(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var lines []string
	_ = json.Unmarshal(raw, &lines)
	return strings.Join(lines, "")
}

// The notebooks the project ships: the tour and one per reference table.
var want = []string{"00-quantizers-tour", "ptq-resnet18", "ptq-mobilenetv2", "dorefa", "dorefa-svhn", "pact", "lsq", "pruning"}

var (
	importBlock = regexp.MustCompile(`(?s)(?:^|\n)import \((.*?)\)`)
	importLine  = regexp.MustCompile(`(?m)^import (?:[\w.]+ )?"([^"]+)"`)
	quoted      = regexp.MustCompile(`"([^"]+)"`)
)

// imports lists the packages a cell imports.
func imports(code string) []string {
	var out []string
	for _, m := range importBlock.FindAllStringSubmatch(code, -1) {
		for _, q := range quoted.FindAllStringSubmatch(m[1], -1) {
			out = append(out, q[1])
		}
	}
	for _, m := range importLine.FindAllStringSubmatch(code, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestImportsParser(t *testing.T) {
	got := imports("import (\n\t\"fmt\"\n\tm \"math\"\n)\nimport \"os\"\n%%\nfmt.Println(`import \"x\"`)")
	if !slices.Equal(got, []string{"fmt", "math", "os"}) {
		t.Errorf("imports: %v", got)
	}
}

// projectDeps is every package the project's own packages build with.
func projectDeps(t *testing.T) map[string]bool {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "../...").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		deps[p] = true
	}
	return deps
}

// TestNotebooks checks every notebook is valid nbformat 4, runs on the GoNB
// kernel, is stored without outputs, starts with the setup cell, and imports
// only the project's packages and packages they already depend on.
func TestNotebooks(t *testing.T) {
	files, _ := filepath.Glob("*.ipynb")
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(f, ".ipynb"))
	}
	slices.Sort(names)
	w := slices.Clone(want)
	slices.Sort(w)
	if !slices.Equal(names, w) {
		t.Errorf("notebooks %v, want %v", names, w)
	}
	deps := projectDeps(t)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var nb notebook
		if err := json.Unmarshal(b, &nb); err != nil {
			t.Errorf("%s: not JSON: %v", f, err)
			continue
		}
		if nb.NBFormat != 4 {
			t.Errorf("%s: nbformat %d, want 4", f, nb.NBFormat)
		}
		if nb.Metadata.KernelSpec.Name != "gonb" {
			t.Errorf("%s: kernel %q, want gonb", f, nb.Metadata.KernelSpec.Name)
		}
		firstCode := true
		for i, c := range nb.Cells {
			switch c.CellType {
			case "markdown":
			case "code":
				if len(c.Outputs) > 0 || c.ExecutionCount != nil {
					t.Errorf("%s cell %d: stored outputs; commit notebooks clean (`make notebooks-clean`)", f, i)
				}
				code := source(c.Source)
				if firstCode && !strings.Contains(code, "gonb_setup.sh") {
					t.Errorf("%s: the first code cell must run gonb_setup.sh", f)
				}
				firstCode = false
				for _, imp := range imports(code) {
					std := !strings.Contains(strings.Split(imp, "/")[0], ".")
					if !std && !deps[imp] {
						t.Errorf("%s cell %d imports %s, which is neither the project's nor one of its dependencies", f, i, imp)
					}
				}
			default:
				t.Errorf("%s cell %d: cell type %q", f, i, c.CellType)
			}
		}
	}
}

// TestExecuteReportsCellError checks that execute.py's reading of an
// executed notebook names the failed cell and its own `error: ...` line
// (what must.M prints), not only the kernel's generic error value.
func TestExecuteReportsCellError(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3: execute.py cannot run here either")
	}
	executed := filepath.Join(t.TempDir(), "x.ipynb")
	nb := `{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
	  {"cell_type": "markdown", "source": "# title", "metadata": {}},
	  {"cell_type": "code", "source": "ok", "metadata": {}, "outputs": [
	    {"output_type": "display_data", "data": {"text/html": "<svg></svg>"}, "metadata": {}}]},
	  {"cell_type": "code", "source": "fails", "metadata": {}, "outputs": [
	    {"output_type": "stream", "name": "stderr", "text": ["compiling\n", "error: no such table \"x\"\n"]},
	    {"output_type": "error", "ename": "ERROR", "evalue": "exit status 1", "traceback": []}]}]}`
	if err := os.WriteFile(executed, []byte(nb), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "-c", "import sys, execute; t, s, e = execute.rendered(sys.argv[1]); print(t, s); print(*e, sep='\\n')", executed)
	cmd.Dir = "."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := "0 1\ncode cell 2: error: no such table \"x\"\n"
	if string(out) != want {
		t.Errorf("execute.rendered printed %q, want %q", out, want)
	}
}

// TestExecuteDropsOnlyGoNBsStartupLine: execute.py drops the one
// meaningless line GoNB logs to stderr at start-up, and nothing else.
func TestExecuteDropsOnlyGoNBsStartupLine(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3: execute.py cannot run here either")
	}
	script := `import execute
for line, dropped in [
    ("E1202 13:02:05.642489   20600 main.go:191] \x1b[7;39;32m[a2a317b0]\x1b[0m Error message\n", True),
    ("E1202 13:02:05.642489   20600 kernel.go:88] failed to compile cell\n", False),
    ("error: no such table\n", False),
    ("Error message\n", False),
]:
    assert bool(execute.SPURIOUS.match(line)) == dropped, line
print("ok")`
	cmd := exec.Command(python, "-c", script)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("%v: %s", err, out)
	}
}
