package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/mlsysrep/mlsysrep/quant/recipe"
)

// slurmJob is what "mlsysrep slurm" writes: a job array whose tasks run
// their -shard of a table into a shared folder, and a job, started once
// the array has finished, that prints the table and renders the ledger
// from the records.
type slurmJob struct {
	binary, table, out         string
	preset                     recipe.Preset
	tasks                      int
	partition, gpus, cpus, tim string
}

// arrayScript is the job array's script.
func (j slurmJob) arrayScript() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/bash\n#SBATCH --job-name=mlsysrep-%s-%s\n#SBATCH --array=0-%d\n", j.table, j.preset, j.tasks-1)
	fmt.Fprintf(&b, "#SBATCH --output=%s\n", filepath.Join(j.out, "slurm", "%x-%A_%a.out"))
	j.resources(&b)
	fmt.Fprintf(&b, "set -euo pipefail\n# Task I of the array runs slice I+1 of %d of the table's cells (-shard slurm);\n", j.tasks)
	b.WriteString("# the tasks share the records folder, and a cell two tasks reach is run once (cell locks).\n")
	fmt.Fprintf(&b, "exec %s run -table %s -preset %s -shard slurm -out %s\n", shellQuote(j.binary), j.table, j.preset, shellQuote(j.out))
	return b.String()
}

// reportScript is the script of the job that runs after the array.
func (j slurmJob) reportScript() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/bash\n#SBATCH --job-name=mlsysrep-%s-%s-report\n", j.table, j.preset)
	fmt.Fprintf(&b, "#SBATCH --output=%s\n", filepath.Join(j.out, "slurm", "%x-%j.out"))
	if j.partition != "" {
		fmt.Fprintf(&b, "#SBATCH --partition=%s\n", j.partition)
	}
	b.WriteString("set -euo pipefail\n# Once every task of the array has finished: the table from the records, and the ledger.\n")
	fmt.Fprintf(&b, "%s run -table %s -preset %s -report -out %s\n", shellQuote(j.binary), j.table, j.preset, shellQuote(j.out))
	fmt.Fprintf(&b, "exec %s results -preset %s -in %s -o %s\n", shellQuote(j.binary), j.preset, shellQuote(j.out),
		shellQuote(filepath.Join(j.out, "RESULTS-"+string(j.preset)+".md")))
	return b.String()
}

func (j slurmJob) resources(b *strings.Builder) {
	for _, r := range [][2]string{{"partition", j.partition}, {"gpus-per-task", j.gpus}, {"cpus-per-task", j.cpus}, {"time", j.tim}} {
		if r[1] != "" {
			fmt.Fprintf(b, "#SBATCH --%s=%s\n", r[0], r[1])
		}
	}
}

// shellQuote quotes s for a shell command line when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-:=,+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// runSlurm is "mlsysrep slurm": it writes (and with -submit submits) the job
// array and its report job for one table, and prints both scripts.
func runSlurm(args []string) error {
	fs := flag.NewFlagSet("slurm", flag.ContinueOnError)
	table := fs.String("table", "", "table to run (see mlsysrep run -list)")
	presetName := fs.String("preset", string(recipe.Quick), "smoke, quick or paper")
	out := fs.String("out", "results", "records folder the tasks share (on a filesystem every node mounts)")
	tasks := fs.Int("tasks", 0, "array tasks (default: one per unit of the table, see -shard in README)")
	partition := fs.String("partition", "", "Slurm partition (sbatch --partition)")
	gpus := fs.String("gpus-per-task", "", "GPUs per task (sbatch --gpus-per-task)")
	cpus := fs.String("cpus-per-task", "", "CPUs per task (sbatch --cpus-per-task)")
	tim := fs.String("time", "", "time limit per task (sbatch --time, e.g. 4:00:00)")
	binary := fs.String("binary", "", "the mlsysrep binary the tasks run (default: this one; build one with go build -o, a go run binary is deleted when it exits)")
	submit := fs.Bool("submit", false, "submit both jobs with sbatch (the report job after the array, --dependency=afterok)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	t, err := recipe.Lookup(*table)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	preset, err := parsePreset(*presetName)
	if err != nil {
		return err
	}
	units, err := recipe.ShardUnits(t, t.CellNames(preset))
	if err != nil {
		return err
	}
	if *tasks < 0 {
		return fmt.Errorf("%w: -tasks must be positive", errUsage)
	}
	if *tasks == 0 || *tasks > units {
		*tasks = units // more tasks than units would run nothing
	}
	bin := *binary
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return err
		}
		if strings.Contains(bin, string(filepath.Separator)+"go-build") {
			return fmt.Errorf("%w: this is a go run binary (%s), deleted when it exits: build one (go build -o mlsysrep ./quant/cmd/mlsysrep) and run that, or give -binary", errUsage, bin)
		}
	}
	absOut, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	j := slurmJob{binary: bin, table: t.Name, preset: preset, out: absOut, tasks: *tasks,
		partition: *partition, gpus: *gpus, cpus: *cpus, tim: *tim}
	dir := filepath.Join(absOut, "slurm")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	arrayPath := filepath.Join(dir, fmt.Sprintf("%s-%s-array.sh", t.Name, preset))
	reportPath := filepath.Join(dir, fmt.Sprintf("%s-%s-report.sh", t.Name, preset))
	for path, text := range map[string]string{arrayPath: j.arrayScript(), reportPath: j.reportScript()} {
		if err := os.WriteFile(path, []byte(text), 0o755); err != nil {
			return err
		}
	}
	fmt.Printf("# %s (%d tasks, %d units of table %s at preset %s):\n%s\n", arrayPath, j.tasks, units, t.Name, preset, j.arrayScript())
	fmt.Printf("# %s:\n%s\n", reportPath, j.reportScript())
	if !*submit {
		fmt.Printf("# to submit (or run this command again with -submit):\nid=$(sbatch --parsable %s) && sbatch --dependency=afterok:${id%%%%;*} %s\n",
			shellQuote(arrayPath), shellQuote(reportPath))
		return nil
	}
	id, err := sbatch(arrayPath)
	if err != nil {
		return err
	}
	rid, err := sbatch("--dependency=afterok:"+id, reportPath)
	if err != nil {
		return fmt.Errorf("the array is submitted as job %s, but its report job was not: %w", id, err)
	}
	fmt.Printf("submitted: array job %s, report job %s (after the array)\n", id, rid)
	return nil
}

// sbatch submits a script and returns the job id.
func sbatch(args ...string) (string, error) {
	cmd := exec.Command("sbatch", append([]string{"--parsable"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if errors.Is(err, exec.ErrNotFound) {
		return "", fmt.Errorf("sbatch is not on PATH: submit from a Slurm login node, or without -submit to only write the scripts")
	}
	if err != nil {
		return "", fmt.Errorf("sbatch %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	id, _, _ := strings.Cut(strings.TrimSpace(string(outb)), ";") // "id;cluster" on federated setups
	return id, nil
}
