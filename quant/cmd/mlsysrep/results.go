package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mlsysrep/mlsysrep/pkg/report"
	"github.com/mlsysrep/mlsysrep/quant/recipe"
)

// ledgerCommand is the command line that regenerates RESULTS.md, as the
// ledger's header shows it.
const ledgerCommand = "go run ./quant/cmd/mlsysrep results -preset quick -in results -o RESULTS.md"

// runResults is "mlsysrep results": it renders the replication ledger (every
// CIFAR table from the records of a preset) to a file or stdout.
func runResults(args []string) error {
	fs := flag.NewFlagSet("results", flag.ContinueOnError)
	presetName := fs.String("preset", string(recipe.Quick), "preset whose records to render")
	in := fs.String("in", "results", "folder holding <preset>/<table>/*.json records")
	out := fs.String("o", "", "file to write (default: stdout), written atomically")
	tables := fs.String("tables", strings.Join(recipe.LedgerTables, ","), "tables to include")
	seed := fs.Uint64("seed", 1, "seed whose records to render")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	preset, err := parsePreset(*presetName)
	if err != nil {
		return err
	}
	names := strings.Split(*tables, ",")
	for _, n := range names {
		if _, err := recipe.Lookup(n); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	if _, err := os.Stat(filepath.Join(*in, string(preset))); err != nil {
		return fmt.Errorf("no records of preset %s under %s (run `mlsysrep run -preset %s` first): %w", preset, *in, preset, err)
	}
	cmd := fmt.Sprintf("go run ./quant/cmd/mlsysrep results -preset %s -in %s -o RESULTS.md", preset, *in)
	if *tables != strings.Join(recipe.LedgerTables, ",") {
		cmd += " -tables " + *tables
	}
	if *seed != 1 {
		cmd += fmt.Sprintf(" -seed %d", *seed)
	}
	text, err := recipe.Ledger(preset, *in, *seed, names, cmd)
	if err != nil {
		return err
	}
	if *out == "" {
		fmt.Print(text)
		return nil
	}
	return report.WriteFile(*out, []byte(text))
}
