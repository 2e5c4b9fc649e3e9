// Package pkg_test holds the architecture test: the import rules of the
// project's shape (ARCHITECTURE.md in the shared folder, README
// Development), checked on every package's production imports.
package pkg_test

import (
	"errors"
	"go/build"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/mlsysrep/mlsysrep/"

// rule forbids packages under from (a path in the module, with its
// subpackages) to import packages under any of to, except those under one of
// unless.
type rule struct {
	from   string
	to     []string
	unless []string
	why    string
}

// rules are ARCHITECTURE.md's "no package imports one to its right".
var rules = []rule{
	{from: "pkg", to: []string{"quant", "models", "datasets"},
		why: "library code never imports the application"},
	{from: "pkg/quant", to: []string{"pkg", "quant", "models", "datasets"},
		why: "pkg/quant depends only on GoMLX"},
	{from: "pkg/backend", to: []string{"pkg/quant", "pkg/train", "pkg/report", "pkg/notebook", "pkg/nn"},
		why: "pkg/backend knows no quantization and no model"},
	{from: "pkg/report", to: []string{"pkg/train"},
		why: "pkg/report owns the record schema"},
	{from: "models", to: []string{"datasets", "pkg/train", "quant"},
		why: "models are graph functions, not training or data"},
	{from: "datasets", to: []string{"models", "quant", "pkg/quant", "pkg/train", "pkg/report", "pkg/notebook"},
		why: "datasets know nothing of models, training or tables"},
	{from: "quant/cmd", to: []string{"models", "datasets", "pkg/train"},
		why: "the runner reaches models, data and training only through the recipes"},
	{from: "quant/lab", to: []string{"models", "datasets", "pkg/train"},
		why: "the notebooks reach models, data and training only through the recipes"},
}

// knownViolations are the imports that break a rule today, each with the
// work that removes it. The test fails on any other violation, and on a
// listed one that is gone (delete it here). None today: issue 29 removed
// the last thirteen (pkg/notebook's table and FP-model glue moved to
// quant/lab; the demo trains through recipe.TrainFP).
var knownViolations = map[string]string{}

// under says whether path (in the module) is dir or below it.
func under(path, dir string) bool { return path == dir || strings.HasPrefix(path, dir+"/") }

// violations lists "from -> to" for every import of the project's own
// packages that a rule forbids, given each package's imports.
func violations(imports map[string][]string) map[string]string {
	found := map[string]string{}
	for pkg, imps := range imports {
		for _, r := range rules {
			if !under(pkg, r.from) {
				continue
			}
			for _, imp := range imps {
				if slices.ContainsFunc(r.unless, func(u string) bool { return under(imp, u) }) {
					continue
				}
				if slices.ContainsFunc(r.to, func(to string) bool { return under(imp, to) }) {
					found[pkg+" -> "+imp] = r.why
				}
			}
		}
	}
	return found
}

// projectImports reads every package of the module (go/build, with this
// toolchain's build tags): per package (a path in the module), the project
// packages its non-test files import. Reading the files here, rather than
// running go list, lets go test's cache see them: an edited import reruns
// the test.
func projectImports(t *testing.T) map[string][]string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	imports := map[string][]string{}
	err = filepath.WalkDir(root, func(dir string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if name := d.Name(); dir != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
			return filepath.SkipDir
		}
		p, err := build.Default.ImportDir(dir, 0)
		if err != nil {
			var none *build.NoGoError
			if errors.As(err, &none) {
				return nil
			}
			return err
		}
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(rel)
		imports[pkg] = nil
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, module) {
				imports[pkg] = append(imports[pkg], strings.TrimPrefix(imp, module))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return imports
}

// TestImportRules fails on an import a rule forbids that is not a known
// violation, and on a known violation that no longer exists.
func TestImportRules(t *testing.T) {
	imports := projectImports(t)
	if len(imports) < 20 {
		t.Fatalf("go list found %d packages; expected the whole module", len(imports))
	}
	found := violations(imports)
	for v, why := range found {
		if _, known := knownViolations[v]; !known {
			t.Errorf("forbidden import %s (%s)", v, why)
		}
	}
	for v, fix := range knownViolations {
		if _, still := found[v]; !still {
			t.Errorf("known violation %s is gone (%s): delete it from knownViolations", v, fix)
		}
	}
}

// TestViolationsFinds checks the rule matcher on a planted import graph.
func TestViolationsFinds(t *testing.T) {
	for _, tc := range []struct {
		imports map[string][]string
		want    []string
	}{
		{map[string][]string{"pkg/quant": {"pkg/train"}}, []string{"pkg/quant -> pkg/train"}},
		{map[string][]string{"pkg/backend/engine": {"pkg/backend/kernels", "pkg/quant"}}, []string{"pkg/backend/engine -> pkg/quant"}},
		{map[string][]string{"models/resnet": {"pkg/quant", "models/placement"}}, nil},
		{map[string][]string{"pkg/plot": {"quant/recipe"}}, []string{"pkg/plot -> quant/recipe"}},
		{map[string][]string{"quantx/y": {"models/resnet"}}, nil}, // "quant" is a folder, not a prefix
		{map[string][]string{"quant/cmd/mlsysrep": {"quant/recipe", "pkg/report"}}, nil},
	} {
		var got []string
		for v := range violations(tc.imports) {
			got = append(got, v)
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("violations(%v) = %v, want %v", tc.imports, got, tc.want)
		}
	}
}
