// Command mlsysrep is the project's runner:
//
//	mlsysrep run -table NAME|all -preset smoke|quick|paper [-cells a,b] [-data auto|local|synthetic] [-out results] [-list]
//	    runs the cells of the reference tables (quant/ptq, dorefa, pact, lsq),
//	    reusing complete records, resuming from checkpoints, and prints each
//	    table as Markdown with reference, ours and difference; a PTQ table
//	    given -fp-checkpoint FILE quantizes that PyTorch FP model instead of
//	    training one;
//	mlsysrep results [-preset quick] [-in results] [-seed 1] [-o RESULTS.md]
//	    renders the replication ledger (every CIFAR table from the saved
//	    records, with costs and provenance) without running anything;
//	mlsysrep demo [-preset smoke|quick|paper] [-model resnet18|mobilenetv2] [-epochs N] [-batch N] [-archives DIR] [-backend NAME]
//	    trains a PTQ table's FP model with the recipe the runner uses for it
//	    (recipe.TrainFP) and prints its test accuracy, with progress (epoch,
//	    step, loss, images/s, ETA); nothing is recorded;
//	mlsysrep export -table NAME [-cell CELL] [-preset quick] [-seed 1] [-out results] -o FILE.safetensors
//	    writes a trained model (a PTQ table's FP model, or a QAT cell's FP
//	    weights) as safetensors with pytorch-cifar's names, for PyTorch;
//	mlsysrep backend [-backend NAME]
//	    prints which compute engine would run, and why;
//	mlsysrep setup-xla [-plugins cpu,cuda] [-libdir DIR]
//	    downloads the XLA/PJRT plugins (needs internet; never done implicitly).
//
// Errors are printed as one line, exit status 1; bad usage exits with 2; a
// run stopped by Ctrl-C (or SIGTERM) stops after its current training step,
// keeps its last checkpoint, says so, and exits with 130 (a second Ctrl-C
// exits at once).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/mlsysrep/mlsysrep/pkg/backend"
)

// errUsage marks errors that should print the usage.
var errUsage = errors.New("usage")

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, errHelp) {
			return
		}
		if errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, err)
			fmt.Fprintln(os.Stderr, usage)
			os.Exit(2)
		}
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "mlsysrep: interrupted:", err)
			os.Exit(exitInterrupted)
		}
		fmt.Fprintln(os.Stderr, "mlsysrep:", err)
		os.Exit(1)
	}
}

const usage = `usage: mlsysrep <command> [flags]
commands:
  run        run a reference table's cells and print it: -table NAME|all -preset smoke|quick|paper [-cells ...] [-list]
  results    render the replication ledger (RESULTS.md) from saved records: [-preset quick] [-in results] [-o FILE]
  slurm      write (-submit: submit) a Slurm job array running a table's cells, and its report job: -table NAME [-preset quick]
  export     write a trained model as safetensors with pytorch-cifar's names: -table NAME [-cell C] [-preset quick] -o FILE
  demo       train a PTQ table's FP model with progress and print its test accuracy: [-preset smoke|quick|paper] [-model resnet18|mobilenetv2]
  backend    print which compute engine runs
  setup-xla  download the XLA/PJRT plugins (needs internet)
run "mlsysrep <command> -h" for a command's flags`

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: no command given", errUsage)
	}
	if _, err := startProfiler(); err != nil {
		return err
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "demo":
		return runDemo(rest)
	case "run":
		return runTables(rest)
	case "results":
		return runResults(rest)
	case "slurm":
		return runSlurm(rest)
	case "export":
		return runExport(rest)
	case "backend":
		fs := flag.NewFlagSet("backend", flag.ContinueOnError)
		name := fs.String("backend", "", "backend name (default: $GOMLX_BACKEND, else XLA if installed, else purego)")
		if err := parseFlags(fs, rest); err != nil {
			return err
		}
		_, line, err := backend.Select(*name)
		if err != nil {
			return err
		}
		fmt.Println(line)
		return nil
	case "setup-xla":
		fs := flag.NewFlagSet("setup-xla", flag.ContinueOnError)
		plugins := fs.String("plugins", "", "comma-separated plugins to install: cpu, cuda (default: what this machine can use)")
		libDir := fs.String("libdir", "", "library folder to install into, under go-xla/ (default ~/.local/lib; /usr/local/lib is also searched)")
		if err := parseFlags(fs, rest); err != nil {
			return err
		}
		var list []string
		if *plugins != "" {
			list = strings.Split(*plugins, ",")
		}
		return backend.InstallXLA(list, *libDir)
	case "-h", "-help", "--help", "help":
		fmt.Println(usage)
		return nil
	}
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}
