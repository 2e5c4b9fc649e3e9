package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// outcome is what planting one bug did.
type outcome struct {
	m       mutant
	caught  bool
	err     error  // the bug could not be planted, or the tests did not run
	failing string // first failing test, when caught
	took    time.Duration
}

func run(listFile, only string, timeout time.Duration, strict bool) error {
	text := builtinList
	if listFile != "" {
		b, err := os.ReadFile(listFile)
		if err != nil {
			return err
		}
		text = string(b)
	}
	all, err := parseList(text)
	if err != nil {
		return err
	}
	var chosen []mutant
	for _, m := range all {
		if strings.Contains(m.name, only) {
			chosen = append(chosen, m)
		}
	}
	if len(chosen) == 0 {
		return fmt.Errorf("no bug in the list matches %q", only)
	}
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	// The copy sits next to the checkout, so that paths the tests take
	// relative to it (the offline data in ../shared/data) resolve the same.
	scratch, err := os.MkdirTemp(filepath.Dir(root), "mlsysrep-mutants-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	fmt.Printf("mutants: copying %s to %s\n", root, scratch)
	if err := copyTracked(root, scratch); err != nil {
		return err
	}
	// Every test must pass before any bug is planted, or its failure would
	// be credited to the bugs.
	var pkgs []string
	seen := map[string]bool{}
	for _, m := range chosen {
		for _, p := range m.packages {
			if !seen[p] {
				seen[p] = true
				pkgs = append(pkgs, p)
			}
		}
	}
	fmt.Printf("mutants: the tests of %d packages without a planted bug ... ", len(pkgs))
	if out, err := goTest(scratch, pkgs, "", timeout); err != nil {
		fmt.Println("FAILED")
		return fmt.Errorf("the tests fail without any planted bug (%v):\n%s", err, out)
	}
	fmt.Println("pass")
	var results []outcome
	survived := 0
	for i, m := range chosen {
		fmt.Printf("mutants: [%d/%d] %s ... ", i+1, len(chosen), m.name)
		o := plant(scratch, m, timeout)
		switch {
		case o.err != nil:
			fmt.Printf("NOT RUN: %v\n", o.err)
		case o.caught:
			fmt.Printf("caught by %s (%s)\n", o.failing, o.took.Round(time.Second))
		default:
			survived++
			fmt.Printf("SURVIVED (%s)\n", o.took.Round(time.Second))
		}
		results = append(results, o)
	}
	report(results)
	notRun := 0
	for _, o := range results {
		if o.err != nil {
			notRun++
		}
	}
	if notRun > 0 {
		return fmt.Errorf("%d of %d bugs could not be planted or tested (see above)", notRun, len(results))
	}
	if strict && survived > 0 {
		return fmt.Errorf("%d of %d bugs survived", survived, len(results))
	}
	return nil
}

// plant applies one bug in the scratch copy, runs its tests and restores
// the file.
func plant(scratch string, m mutant, timeout time.Duration) outcome {
	o := outcome{m: m}
	path := filepath.Join(scratch, filepath.FromSlash(m.file))
	orig, err := os.ReadFile(path)
	if err != nil {
		o.err = err
		return o
	}
	if n := bytes.Count(orig, []byte(m.find)); n != 1 {
		o.err = fmt.Errorf("%s: the text to replace occurs %d times, want once (has the code moved?)", m.file, n)
		return o
	}
	mutated := bytes.Replace(orig, []byte(m.find), []byte(m.replace), 1)
	if err := os.WriteFile(path, mutated, 0o644); err != nil {
		o.err = err
		return o
	}
	defer os.WriteFile(path, orig, 0o644)

	start := time.Now()
	out, err := goTest(scratch, m.packages, m.run, timeout)
	o.took = time.Since(start)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return o // survived
	case errors.As(err, &exit):
		o.caught = true
		o.failing = firstFailure(out)
		return o
	default:
		o.err = err
		return o
	}
}

// goTest runs go test on the packages in dir (with -run when run is set)
// and returns its output; the error is an *exec.ExitError when tests failed.
func goTest(dir string, packages []string, run string, timeout time.Duration) (string, error) {
	args := []string{"test", "-count=1", "-p", "1", "-failfast"}
	if run != "" {
		args = append(args, "-run", run)
	}
	args = append(args, packages...)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		return out.String(), fmt.Errorf("tests ran past %s", timeout)
	}
	return out.String(), err
}

var failLine = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)`)

// firstFailure names the first failing test in go test's output, or says
// the build failed.
func firstFailure(out string) string {
	if m := failLine.FindStringSubmatch(out); m != nil {
		return m[1]
	}
	if strings.Contains(out, "[build failed]") || strings.Contains(out, "[setup failed]") {
		return "the build (the planted bug does not compile: fix the list)"
	}
	return "a failing package"
}

// report prints the summary table.
func report(results []outcome) {
	caught, survived := 0, 0
	fmt.Println("\n| bug | result | test | seconds |")
	fmt.Println("|---|---|---|---|")
	for _, o := range results {
		result, test := "survived", ""
		switch {
		case o.err != nil:
			result, test = "not run", o.err.Error()
		case o.caught:
			result, test = "caught", o.failing
			caught++
		default:
			survived++
		}
		fmt.Printf("| %s | %s | %s | %.0f |\n", o.m.name, result, test, o.took.Seconds())
	}
	fmt.Printf("\n%d caught, %d survived, %d not run, of %d planted bugs\n", caught, survived, len(results)-caught-survived, len(results))
}

// repoRoot is the top of the git checkout holding the working directory.
func repoRoot() (string, error) {
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return "", fmt.Errorf("not inside a git checkout: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// copyTracked copies the files git knows (tracked, and untracked ones not
// ignored) into dst: the working tree as it is, without build outputs,
// results or virtual environments.
func copyTracked(root, dst string) error {
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("git ls-files: %w", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		src := filepath.Join(root, name)
		info, err := os.Lstat(src)
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the working tree
		}
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(target, data, info.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

// readFile reads a file of the checkout by its slash-separated path.
func readFile(root, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
	return string(b), err
}
