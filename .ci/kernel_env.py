#!/usr/bin/env python3
"""Adds GOTOOLCHAIN and GOEXPERIMENT to the GoNB kernel's kernel.json (the
kernel must compile cells with Go 1.27.3 and the SIMD kernels). Idempotent."""
import json
import os
import subprocess

out = subprocess.run(["jupyter", "kernelspec", "list", "--json"], capture_output=True, text=True, check=True)
specs = json.loads(out.stdout)["kernelspecs"]
if "gonb" not in specs:
    raise SystemExit("GoNB kernel not installed: run `make setup-gonb`")
path = os.path.join(specs["gonb"]["resource_dir"], "kernel.json")
with open(path) as f:
    spec = json.load(f)
env = spec.setdefault("env", {})
env.update({"GOTOOLCHAIN": "go1.27.3", "GOEXPERIMENT": "simd"})
with open(path, "w") as f:
    json.dump(spec, f, indent=2)
print(f"setup: GoNB kernel at {path} runs with GOTOOLCHAIN=go1.27.3 GOEXPERIMENT=simd")
