package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// errHelp is returned when -h printed a command's help: exit status 0.
var errHelp = errors.New("help printed")

// helpOut is where a command's help goes (tests capture it).
var helpOut io.Writer = os.Stdout

// commandHelp is each command's synopsis and examples, printed above its
// flags by "mlsysrep <command> -h".
var commandHelp = map[string]string{
	"run": `usage: mlsysrep run -table NAME|all [-preset smoke|quick|paper] [flags]

Runs the cells of reference tables, reusing complete records and resuming
interrupted cells from their checkpoints, and prints each table.

examples:
  mlsysrep run -list                                   # tables, presets and cells
  mlsysrep run -table pact -preset quick -cells resnet18/pact:w4a4
  mlsysrep run -table all -preset smoke                # every table in minutes (synthetic data without a local copy)
  mlsysrep run -table lsq -preset quick -report        # print the table from saved records only
  mlsysrep run -table pact -preset quick -shard 2/3     # this task's third of the cells (-shard slurm in a job array)
  mlsysrep run -table ptq-resnet18 -preset paper -fp-checkpoint ckpt.pth -out results-imported   # quantize a PyTorch FP model`,
	"export": `usage: mlsysrep export -table NAME [-cell CELL] [-preset quick] [-seed 1] [-out results] -o FILE

Writes a trained model's full-precision weights (a PTQ table's FP model, or
a QAT cell's weights without its quantizers' parameters) as a safetensors
file with pytorch-cifar's names, from the cell's final checkpoint, so that
PyTorch loads it with load_state_dict(strict=True) into pytorch-cifar's
ResNet18 or MobileNetV2 built at the same width.

examples:
  mlsysrep export -table ptq-resnet18 -preset quick -o resnet18-fp.safetensors
  mlsysrep export -table pact -cell resnet18/pact:w4a4 -preset quick -o pact-w4a4-fp-weights.safetensors`,
	"results": `usage: mlsysrep results [-preset quick] [-in results] [-o FILE] [flags]

Renders the replication ledger from saved records; runs nothing.

examples:
  mlsysrep results -preset quick -in results -o RESULTS.md
  mlsysrep results -tables pact,lsq                    # to the terminal`,
	"slurm": `usage: mlsysrep slurm -table NAME [-preset quick] [-out DIR] [-tasks N] [flags]

Writes a Slurm job array whose tasks run their -shard of the table into the
shared -out folder, and a job that prints the table and renders the ledger
once the array has finished; prints both scripts; -submit submits them.

examples:
  mlsysrep slurm -table pact -preset quick -out /shared/results -partition gpu -gpus-per-task 1
  mlsysrep slurm -table lsq -preset paper -out /shared/results -time 12:00:00 -submit`,
	"demo": `usage: mlsysrep demo [-preset smoke|quick|paper] [-model resnet18|mobilenetv2] [flags]

Trains a PTQ table's full-precision model (CIFAR ResNet-18 or MobileNetV2)
with progress and prints its test accuracy: the recipe the runner trains
that table's FP model with at the preset (smoke: seconds; quick: the first
10,000 training images; paper: PROTOCOL section 5, hours), unless -epochs or
-batch override it. Nothing is recorded or checkpointed.

examples:
  mlsysrep demo -preset smoke
  mlsysrep demo -preset quick -epochs 3 -archives ../shared/data
  mlsysrep demo -preset paper -epochs 3 -batch 256 -backend xla:cuda`,
	"backend": `usage: mlsysrep backend [-backend NAME]

Prints which compute engine would run, and why.

examples:
  mlsysrep backend
  mlsysrep backend -backend purego:v1`,
	"setup-xla": `usage: mlsysrep setup-xla [-plugins cpu,cuda] [-libdir DIR]

Downloads the XLA/PJRT plugins (needs internet; never done implicitly).

examples:
  mlsysrep setup-xla
  mlsysrep setup-xla -plugins cuda -libdir /usr/local/lib`,
}

// parseFlags parses a command's flags. -h prints the command's help (its
// synopsis, examples and flags) on standard output and returns errHelp;
// a bad flag is a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard) // the flag package's own messages: ours follow
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(helpOut, commandHelp[fs.Name()])
		fmt.Fprintln(helpOut, "\nflags:")
		fs.SetOutput(helpOut)
		fs.PrintDefaults()
		return errHelp
	}
	if err != nil {
		return fmt.Errorf("%w: %v (mlsysrep %s -h lists the flags)", errUsage, err, fs.Name())
	}
	return nil
}
