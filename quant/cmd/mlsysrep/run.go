package main

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/mlsysrep/mlsysrep/pkg/backend"
	"github.com/mlsysrep/mlsysrep/quant/recipe"

	// Every reference table, registered.
	_ "github.com/mlsysrep/mlsysrep/quant/tables"
)

// runTables is "mlsysrep run": it runs the cells of one or all tables for a
// preset, reusing complete records, and prints each table in Markdown.
func runTables(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	table := fs.String("table", "", "table to run, or \"all\" (see -list)")
	presetName := fs.String("preset", string(recipe.Smoke), "smoke, quick or paper")
	cells := fs.String("cells", "", "comma-separated subset of the table's cells (default: all)")
	data := fs.String("data", "", "data source: auto (local copy, else download), local (local copy, else synthetic), synthetic; default: local for smoke, auto otherwise")
	out := fs.String("out", "results", "folder for records (and checkpoints under checkpoints/)")
	archives := fs.String("archives", "", "folder with already-downloaded archives (also searched: $MLSYSREP_ARCHIVES)")
	dataDir := fs.String("datadir", "", "writable data cache (default $MLSYSREP_DATA, else the user cache dir)")
	backendName := fs.String("backend", "", "compute backend (default: $GOMLX_BACKEND, else XLA if installed, else purego)")
	seed := fs.Uint64("seed", 1, "seed of initialization, data order and augmentation (records and checkpoints are kept per seed)")
	list := fs.Bool("list", false, "list the tables, presets and cells, and exit")
	reportOnly := fs.Bool("report", false, "print the tables from the records of -seed in -out, running nothing")
	shardFlag := fs.String("shard", "", "run only slice I of N of the selected cells (\"I/N\", or \"slurm\": from a job array's SLURM_ARRAY_TASK_ID, _MIN and _COUNT); tasks with the same -out share records")
	fpCheckpoint := fs.String("fp-checkpoint", "", "for a PTQ table: a PyTorch FP model (torch.save or safetensors file with pytorch-cifar's names) to quantize instead of training one; its width comes from the file, the records name it and its SHA-256")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *list {
		listTables(os.Stdout)
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
	if *fpCheckpoint != "" {
		if t, err := recipe.Lookup(*table); err != nil || !t.PTQ {
			return fmt.Errorf("%w: -fp-checkpoint is for one PTQ table (ptq-resnet18 or ptq-mobilenetv2), not -table %s", errUsage, *table)
		}
		if _, err := os.Stat(*fpCheckpoint); err != nil {
			return fmt.Errorf("%w: -fp-checkpoint: %v", errUsage, err)
		}
		if filepath.Clean(*out) == "results" {
			return fmt.Errorf("%w: -fp-checkpoint records an imported FP model: give it an -out of its own, not the ledger's results folder (its records would replace the trained model's)", errUsage)
		}
	}
	preset, err := parsePreset(*presetName)
	if err != nil {
		return err
	}
	source := *data
	if source == "" {
		source = recipe.DefaultSource(preset)
	}
	if !validSource(source) {
		return fmt.Errorf("%w: unknown -data %q (valid: auto, local, synthetic)", errUsage, source)
	}
	if *reportOnly {
		return printReport(tables, preset, *out, *seed)
	}
	var cellList []string
	if cellsSet(fs) {
		if *table == "all" {
			return fmt.Errorf("%w: -cells needs a single -table", errUsage)
		}
		var err error
		if cellList, err = parseCells(*table, *cells); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	shard, err := parseShard(*shardFlag, os.Getenv)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	be, line, err := backend.Select(*backendName)
	if err != nil {
		return err
	}
	fmt.Println(line)
	dirs := nonEmpty(*archives)
	ctx, stop := interruptContext(os.Stderr)
	defer stop()
	var results []*recipe.Result
	for _, name := range tables {
		cells := cellList
		if shard.n > 0 {
			t, _ := recipe.Lookup(name)
			selected := cells
			if selected == nil {
				selected = t.CellNames(preset)
			}
			if cells, err = recipe.Shard(t, selected, shard.i, shard.n); err != nil {
				return err
			}
			fmt.Printf("table %s, shard %d/%d: %d of %d cells\n", name, shard.i, shard.n, len(cells), len(selected))
			if len(cells) == 0 {
				continue
			}
		}
		res, err := recipe.Run(ctx, recipe.Options{Table: name, Preset: preset, Cells: cells,
			Data: recipe.DataOptions{Source: source, DataDir: *dataDir, ArchiveDirs: dirs, Progress: os.Stdout},
			Out:  *out, Backend: be, BackendName: backend.RecordName(be), Seed: *seed, Progress: os.Stdout,
			FPCheckpoint: *fpCheckpoint})
		if res != nil && len(res.Records) > 0 {
			fmt.Println()
			fmt.Println(res.Markdown())
			results = append(results, res)
		}
		if err != nil {
			return fmt.Errorf("table %s: %w%s", name, err, savedNote(res, *out))
		}
	}
	printRunSummary(os.Stdout, results, *out, preset)
	return nil
}

// printRunSummary ends a run with what a reader needs to trust its tables:
// the data copy each table's records were computed on, where the records
// are, and, when a table ran on synthetic images, how to get the real data.
func printRunSummary(w io.Writer, results []*recipe.Result, out string, preset recipe.Preset) {
	if len(results) == 0 {
		return
	}
	fmt.Fprintf(w, "Summary: records in %s\n", filepath.Join(out, string(preset)))
	synthetic := false
	for _, res := range results {
		copies := map[string]int{}
		for _, r := range res.Records {
			copies[r.Data]++
		}
		var parts []string
		for _, name := range slices.Sorted(maps.Keys(copies)) {
			cells := "1 cell"
			if copies[name] != 1 {
				cells = fmt.Sprintf("%d cells", copies[name])
			}
			parts = append(parts, fmt.Sprintf("%s (%s)", name, cells))
			synthetic = synthetic || strings.Contains(strings.ToLower(name), "synthetic")
		}
		fmt.Fprintf(w, "  %-16s %s\n", res.Table.Name, strings.Join(parts, ", "))
	}
	if synthetic {
		fmt.Fprintln(w, "Synthetic images stand in where no data copy was found: those accuracies say nothing about the methods.\n"+
			"For real data, put the CIFAR-10 archive (or the offline JPEG mirror cifar10-jpeg.tar.gz) in a folder and pass it\n"+
			"with -archives DIR or MLSYSREP_ARCHIVES=DIR, or use -data auto to download it (needs internet).")
	}
}

// validSource tells whether a -data value is one the runner knows.
func validSource(s string) bool { return s == "auto" || s == "local" || s == "synthetic" }

// cellsSet tells whether -cells was given at all (an empty value is then a
// mistake, not "every cell").
func cellsSet(fs *flag.FlagSet) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "cells" })
	return set
}

// parseCells splits a -cells value and checks each name against the
// table's cells, suggesting the nearest one for a typo.
func parseCells(table, value string) ([]string, error) {
	t, err := recipe.Lookup(table)
	if err != nil {
		return nil, err
	}
	var valid []string
	known := map[string]bool{}
	for _, c := range append(t.Cells(), recipe.FPCells(t)...) {
		valid = append(valid, c.Name)
		known[c.Name] = true
	}
	names := strings.Split(value, ",")
	for _, n := range names {
		switch {
		case strings.TrimSpace(n) == "":
			return nil, fmt.Errorf("-cells %q names an empty cell; table %s's cells are: %s", value, table, strings.Join(valid, " "))
		case !known[n]:
			return nil, fmt.Errorf("table %s has no cell %q (did you mean %s?); its cells are: %s", table, n, nearest(n, valid), strings.Join(valid, " "))
		}
	}
	return names, nil
}

// printReport is "run -report": the tables from the saved records of a
// seed, running nothing.
func printReport(tables []string, preset recipe.Preset, out string, seed uint64) error {
	if fi, err := os.Stat(filepath.Join(out, string(preset))); err != nil || !fi.IsDir() {
		return fmt.Errorf("no records of preset %s under %s (folder %s missing): run the table first, or point -out at the records", preset, out, filepath.Join(out, string(preset)))
	}
	for _, name := range tables {
		res, err := recipe.LoadResult(name, preset, out, seed)
		if err != nil {
			return err
		}
		fmt.Println(res.Markdown())
	}
	return nil
}

// savedNote says which cells of a failed table run are kept on disk.
func savedNote(res *recipe.Result, out string) string {
	if res == nil {
		return ""
	}
	done := 0
	for _, r := range res.Records {
		if r.Complete {
			done++
		}
	}
	if done == 0 {
		return ""
	}
	return fmt.Sprintf(" (the %d cells finished before it have their records under %s)", done, out)
}

// listTables prints the presets, and each table with its cells wrapped to
// fit an 80-column terminal.
func listTables(w io.Writer) {
	fmt.Fprintln(w, "presets:", recipe.PresetNames())
	for _, name := range recipe.TableNames() {
		t, _ := recipe.Lookup(name)
		cells := t.Cells()
		fmt.Fprintf(w, "table %s (%d cells):\n", name, len(cells))
		line := " "
		for _, c := range cells {
			if len(line)+1+len(c.Name) > 79 {
				fmt.Fprintln(w, line)
				line = " "
			}
			line += " " + c.Name
		}
		fmt.Fprintln(w, line)
		for _, c := range recipe.FPCells(t) {
			fmt.Fprintf(w, "  %s: its FP model alone (trains or resumes it, calibrates nothing)\n", c.Name)
		}
	}
}

// shardSpec is the slice of the cells a task runs: slice i of n (n == 0: all).
type shardSpec struct{ i, n int }

// parseShard reads -shard: "" (every cell), "I/N", or "slurm", which takes
// I and N from a Slurm job array's environment (getenv):
// I = SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN + 1 (MIN defaults to 0)
// and N = SLURM_ARRAY_TASK_COUNT.
func parseShard(value string, getenv func(string) string) (shardSpec, error) {
	switch value {
	case "":
		return shardSpec{}, nil
	case "slurm":
		id, count := getenv("SLURM_ARRAY_TASK_ID"), getenv("SLURM_ARRAY_TASK_COUNT")
		if id == "" || count == "" {
			return shardSpec{}, fmt.Errorf("-shard slurm: not in a Slurm job array (SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT are unset); submit with sbatch --array, or give -shard I/N")
		}
		minID := getenv("SLURM_ARRAY_TASK_MIN")
		if minID == "" {
			minID = "0"
		}
		vals := make([]int, 3)
		for k, v := range []string{id, minID, count} {
			n, err := strconv.Atoi(v)
			if err != nil {
				return shardSpec{}, fmt.Errorf("-shard slurm: %q is not a number", v)
			}
			vals[k] = n
		}
		s := shardSpec{i: vals[0] - vals[1] + 1, n: vals[2]}
		if s.n < 1 || s.i < 1 || s.i > s.n {
			return shardSpec{}, fmt.Errorf("-shard slurm: task %d of an array from %d with %d tasks is not slice 1..N (arrays with steps are not supported)", vals[0], vals[1], vals[2])
		}
		return s, nil
	}
	var s shardSpec
	if _, err := fmt.Sscanf(value, "%d/%d", &s.i, &s.n); err != nil || fmt.Sprintf("%d/%d", s.i, s.n) != value || s.n < 1 || s.i < 1 || s.i > s.n {
		return shardSpec{}, fmt.Errorf("-shard %q: want I/N with 1 <= I <= N (e.g. 2/3), or slurm", value)
	}
	return s, nil
}

// parsePreset is recipe.ParsePreset for a flag: a bad name is a usage error.
func parsePreset(name string) (recipe.Preset, error) {
	p, err := recipe.ParsePreset(name)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errUsage, err)
	}
	return p, nil
}
