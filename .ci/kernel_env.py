#!/usr/bin/env python3
"""Adds GOTOOLCHAIN and GOEXPERIMENT to the GoNB kernel's kernel.json (the
kernel must compile cells with Go 1.27.3 and the SIMD kernels). Idempotent."""
import json
import os

from jupyter_core.paths import jupyter_path

for kernels in jupyter_path("kernels"):
    path = os.path.join(kernels, "gonb", "kernel.json")
    if os.path.exists(path):
        break
else:
    raise SystemExit("GoNB kernel not installed (no gonb/kernel.json in %s): run `make setup-gonb`" % jupyter_path("kernels"))
with open(path) as f:
    spec = json.load(f)
spec.setdefault("env", {}).update({"GOTOOLCHAIN": "go1.27.3", "GOEXPERIMENT": "simd"})
with open(path, "w") as f:
    json.dump(spec, f, indent=2)
print(f"setup: GoNB kernel at {path} runs with GOTOOLCHAIN=go1.27.3 GOEXPERIMENT=simd")
