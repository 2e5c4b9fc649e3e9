// Command mutants is the project's mutation check: it plants small,
// plausible bugs one at a time in a scratch copy of the repository, runs the
// tests that should notice each, and reports which bugs survive (no test
// failed). It is a tool for judging the tests, not a test: it takes minutes
// and is run by hand (make mutants), not by make test.
//
// The bugs are listed in mutants.txt (embedded; -list reads another file),
// one block per bug, blocks separated by blank lines:
//
//	name: accuracy computed as 1 - accuracy
//	file: pkg/train/evaluate.go
//	find: return correct / total
//	replace: return 1 - correct/total
//	test: ./pkg/train/
//
// find must occur exactly once in file (the tool says so when it does not:
// the code moved and the list needs updating). test lists the packages to
// run, separated by spaces; a line "run: TestName" narrows them with -run.
// Lines starting with # are comments.
package main

import (
	_ "embed"
	"flag"
	"fmt"
	"os"
)

//go:embed mutants.txt
var builtinList string

func main() {
	list := flag.String("list", "", "file of bugs to plant (default: the built-in mutants.txt)")
	only := flag.String("only", "", "plant only the bugs whose name contains this text")
	timeout := flag.Duration("timeout", 0, "per-bug test timeout (default 10m)")
	strict := flag.Bool("strict", false, "exit with status 1 when a bug survives")
	flag.Parse()
	if err := run(*list, *only, *timeout, *strict); err != nil {
		fmt.Fprintln(os.Stderr, "mutants:", err)
		os.Exit(1)
	}
}
