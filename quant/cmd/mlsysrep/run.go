package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/mlsysrep/mlsysrep/pkg/backend"
	"github.com/mlsysrep/mlsysrep/quant/recipe"

	// The recipes register their tables.
	_ "github.com/mlsysrep/mlsysrep/quant/dorefa"
	_ "github.com/mlsysrep/mlsysrep/quant/lsq"
	_ "github.com/mlsysrep/mlsysrep/quant/pact"
	_ "github.com/mlsysrep/mlsysrep/quant/ptq"
)

// runTables is "mlsysrep run": it runs the cells of one or all tables for a
// preset, reusing complete records, and prints each table in Markdown.
func runTables(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	table := fs.String("table", "", "table to run, or \"all\" (see -list)")
	preset := fs.String("preset", recipe.Smoke, "smoke, quick or paper")
	cells := fs.String("cells", "", "comma-separated subset of the table's cells (default: all)")
	data := fs.String("data", "", "data source: auto (local copy, else download), local (local copy, else synthetic), synthetic; default: local for smoke, auto otherwise")
	out := fs.String("out", "results", "folder for records (and checkpoints under checkpoints/)")
	archives := fs.String("archives", "", "folder with already-downloaded archives (also searched: $MLSYSREP_ARCHIVES)")
	dataDir := fs.String("datadir", "", "writable data cache (default $MLSYSREP_DATA, else the user cache dir)")
	backendName := fs.String("backend", "", "compute backend (default: $GOMLX_BACKEND, else XLA if installed, else purego)")
	seed := fs.Uint64("seed", 1, "seed of initialization, data order and augmentation")
	list := fs.Bool("list", false, "list the tables, presets and cells, and exit")
	reportOnly := fs.Bool("report", false, "print the tables from the records in -out, running nothing")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *list {
		fmt.Println("presets:", strings.Join(recipe.Presets, ", "))
		for _, name := range recipe.TableNames() {
			t, _ := recipe.Lookup(name)
			var names []string
			for _, c := range t.Cells() {
				names = append(names, c.Name)
			}
			fmt.Printf("table %s: %s\n", name, strings.Join(names, " "))
		}
		return nil
	}
	tables := []string{*table}
	switch *table {
	case "":
		return fmt.Errorf("%w: -table is required (one of %s, or all)", errUsage, strings.Join(recipe.TableNames(), ", "))
	case "all":
		tables = recipe.TableNames()
	default:
		if _, err := recipe.Lookup(*table); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	validPreset := false
	for _, p := range recipe.Presets {
		validPreset = validPreset || p == *preset
	}
	if !validPreset {
		return fmt.Errorf("%w: unknown preset %q (valid: %s)", errUsage, *preset, strings.Join(recipe.Presets, ", "))
	}
	source := *data
	if source == "" {
		source = recipe.DefaultSource(*preset)
	}
	if *reportOnly {
		for _, name := range tables {
			res, err := recipe.LoadResult(name, *preset, *out)
			if err != nil {
				return err
			}
			fmt.Println(res.Markdown())
		}
		return nil
	}
	var cellList []string
	if *cells != "" {
		if *table == "all" {
			return fmt.Errorf("%w: -cells needs a single -table", errUsage)
		}
		cellList = strings.Split(*cells, ",")
	}
	be, line, err := backend.Select(*backendName)
	if err != nil {
		return err
	}
	fmt.Println(line)
	var dirs []string
	if *archives != "" {
		dirs = append(dirs, *archives)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	for _, name := range tables {
		res, err := recipe.Run(ctx, recipe.Options{Table: name, Preset: *preset, Cells: cellList,
			Data: recipe.DataOptions{Source: source, DataDir: *dataDir, ArchiveDirs: dirs, Progress: os.Stdout},
			Out:  *out, Backend: be, BackendName: backend.RecordName(be), Seed: *seed, Progress: os.Stdout})
		if res != nil {
			fmt.Println()
			fmt.Println(res.Markdown())
		}
		if err != nil {
			return fmt.Errorf("table %s: %w (finished cells are saved under %s; run again to resume)", name, err, *out)
		}
	}
	return nil
}
