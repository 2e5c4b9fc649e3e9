#!/usr/bin/env python3
"""Executes the notebooks headless, as CI does (`make notebooks`).

Each notebook runs with `/usr/bin/python3 -m nbconvert --execute` on the GoNB
kernel; the run fails if a cell errors, or if a notebook did not render what
it is for (a reference table notebook: its HTML table; every notebook: an SVG
chart). Each notebook is first validated against the nbformat 4 schema. The executed notebooks and an HTML export of each go to the output
folder (default notebooks/_out), with summary.txt listing the time each took.

Environment: MLSYSREP_PRESET (default here: smoke), MLSYSREP_RESULTS (default:
results/ at the checkout's root), NOTEBOOKS_OUT (the output folder).
Arguments: notebook names to run (default: all).
"""
import glob
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def rendered(path):
    """Returns (tables, svgs, errors) found in an executed notebook's outputs:
    errors lists, per failed cell, its number and the cell's own `error: ...`
    lines (what must.M printed to stderr), else the kernel's error value."""
    with open(path) as f:
        nb = json.load(f)
    tables = svgs = 0
    errors = []
    code_cells = 0
    for cell in nb["cells"]:
        if cell.get("cell_type") == "code":
            code_cells += 1
        failed, lines = False, []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                failed = True
                if not lines:
                    lines = [f"{out.get('ename', 'error')}: {out.get('evalue', '')}".strip()]
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                text = out.get("text", "")
                text = "".join(text) if isinstance(text, list) else text
                said = [l for l in text.splitlines() if l.startswith("error:")]
                if said:
                    lines = said
            html = out.get("data", {}).get("text/html", "")
            html = "".join(html) if isinstance(html, list) else html
            tables += html.count('class="mlsysrep-table"')
            svgs += html.count("<svg")
        if failed:
            errors.append(f"code cell {code_cells}: " + " / ".join(lines))
    return tables, svgs, errors


# GoNB v0.11.5 logs three test messages at start-up when given a log file,
# and, through a nil *os.File passed as an io.Writer, also when it is not:
# the ERROR one reaches stderr as "E... main.go:191] [id] Error message",
# once per notebook. It says nothing; every other line is passed on.
SPURIOUS = re.compile(r"^E\d{4} .*main\.go:\d+\] .*Error message\s*$")


def run_filtered(cmd, env, cwd):
    """Runs cmd with its stderr passed through line by line, minus GoNB's
    spurious start-up line; returns the exit status."""
    p = subprocess.Popen(cmd, env=env, cwd=cwd, stderr=subprocess.PIPE, text=True, errors="replace")
    for line in p.stderr:
        if not SPURIOUS.match(line):
            sys.stderr.write(line)
            sys.stderr.flush()
    return p.wait()


def main():
    out = os.path.abspath(os.environ.get("NOTEBOOKS_OUT", os.path.join(HERE, "_out")))
    os.makedirs(out, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("MLSYSREP_PRESET", "smoke")
    env["MLSYSREP_WIDGET_SECONDS"] = "0"  # sliders draw once, statically
    # A smoke cell takes seconds; other presets train for hours in one cell.
    timeout = "1800" if env["MLSYSREP_PRESET"] == "smoke" else "-1"
    names = sys.argv[1:] or sorted(os.path.basename(p)[:-6] for p in glob.glob(os.path.join(HERE, "*.ipynb")))
    failures, summary = [], []
    print("compiling: GoNB builds each cell as a Go program; the first build of a fresh machine takes a few minutes",
          flush=True)
    for name in names:
        src = os.path.join(HERE, name + ".ipynb")
        start = time.time()
        try:  # the nbformat 4 schema (the Go test checks the rest offline)
            import nbformat
            nbformat.validate(nbformat.read(src, as_version=4))
        except Exception as e:  # noqa: BLE001 - any failure is reported as this notebook's
            failures.append(name)
            summary.append(f"{name}: not a valid nbformat 4 notebook: {e}")
            print(summary[-1], flush=True)
            continue
        print(f"== {name} (preset {env['MLSYSREP_PRESET']})", flush=True)
        executed = os.path.join(out, name + ".ipynb")
        for old in (executed, os.path.join(out, name + ".html")):  # no stale export survives a failed run
            if os.path.exists(old):
                os.remove(old)
        # --allow-errors: the executed notebook is written even when a cell
        # fails, so that the cell's own error line can be shown below.
        returncode = run_filtered([PYTHON, "-m", "nbconvert", "--to", "notebook", "--execute", "--allow-errors", src,
                                   "--output-dir", out, f"--ExecutePreprocessor.timeout={timeout}"], env, HERE)
        seconds = time.time() - start
        problem = None
        if returncode != 0 or not os.path.exists(executed):
            problem = f"nbconvert exited with {returncode} (see its messages above)"
        else:
            tables, svgs, errors = rendered(executed)
            if errors:
                problem = f"{len(errors)} cell(s) failed: " + "; ".join(errors)
            elif not name.startswith("00-") and tables == 0:
                problem = "no reference table was rendered"
            elif svgs == 0:
                problem = "no chart was rendered"
            subprocess.run([PYTHON, "-m", "nbconvert", "--to", "html", executed, "--output-dir", out],
                           env=env, check=True, capture_output=True)
        line = f"{name}: {seconds:.0f} s, " + (problem or "ok")
        print(line, flush=True)
        summary.append(line)
        if problem:
            failures.append(name)
    with open(os.path.join(out, "summary.txt"), "w") as f:
        f.write(f"preset {env['MLSYSREP_PRESET']}\n" + "\n".join(summary) + "\n")
    print("\n".join(summary))
    if failures:
        sys.exit(f"notebooks failed: {', '.join(failures)}")
    print(f"all {len(names)} notebooks ran; executed copies and HTML in {out}")


if __name__ == "__main__":
    main()
