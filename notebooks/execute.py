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
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def rendered(path):
    """Returns (tables, svgs, errors) found in an executed notebook's outputs."""
    with open(path) as f:
        nb = json.load(f)
    tables = svgs = errors = 0
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                errors += 1
            html = out.get("data", {}).get("text/html", "")
            html = "".join(html) if isinstance(html, list) else html
            tables += html.count('class="mlsysrep-table"')
            svgs += html.count("<svg")
    return tables, svgs, errors


def main():
    out = os.environ.get("NOTEBOOKS_OUT", os.path.join(HERE, "_out"))
    os.makedirs(out, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("MLSYSREP_PRESET", "smoke")
    env["MLSYSREP_WIDGET_SECONDS"] = "0"  # sliders draw once, statically
    # A smoke cell takes seconds; other presets train for hours in one cell.
    timeout = "1800" if env["MLSYSREP_PRESET"] == "smoke" else "-1"
    names = sys.argv[1:] or sorted(os.path.basename(p)[:-6] for p in glob.glob(os.path.join(HERE, "*.ipynb")))
    failures, summary = [], []
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
        r = subprocess.run([PYTHON, "-m", "nbconvert", "--to", "notebook", "--execute", src, "--output-dir", out,
                            f"--ExecutePreprocessor.timeout={timeout}"], env=env, cwd=HERE)
        seconds = time.time() - start
        problem = None
        if r.returncode != 0:
            problem = f"nbconvert exited with {r.returncode} (a cell failed; see above)"
        else:
            executed = os.path.join(out, name + ".ipynb")
            tables, svgs, errors = rendered(executed)
            if errors:
                problem = f"{errors} cell error(s)"
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
