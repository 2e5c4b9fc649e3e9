#!/usr/bin/env bash
# GPU check: trains the full-precision CIFAR ResNet-18 for a few epochs with
# XLA on an NVIDIA GPU and prints images/s and test accuracy per epoch, at
# batch 128 and 256.
#
# Usage: docker/gpu-check.sh [PLUGIN] [ARCHIVES_DIR] [EPOCHS]
#   PLUGIN        "cuda" (installed by `mlsysrep setup-xla -plugins cuda`), or an
#                 absolute path to a PJRT plugin .so, e.g. the one inside the
#                 jax-cuda13-pjrt Python package (xla_cuda_plugin.so)
#   ARCHIVES_DIR  folder holding cifar10-jpeg.tar.gz (default $MLSYSREP_ARCHIVES)
#   EPOCHS        epochs per batch size (default 3)
# MLSYSREP is the runner to use (default: mlsysrep on PATH, else `go run`).
set -euo pipefail
plugin="${1:-cuda}"
archives="${2:-${MLSYSREP_ARCHIVES:-}}"
epochs="${3:-3}"
if [ -n "${MLSYSREP:-}" ]; then
  runner=("$MLSYSREP")
elif command -v mlsysrep >/dev/null; then
  runner=(mlsysrep)
else
  cd "$(dirname "$0")/.."
  runner=(env GOTOOLCHAIN=go1.27.3 GOEXPERIMENT=simd go run ./quant/cmd/mlsysrep)
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"${runner[@]}" backend -backend "xla:${plugin}"
for batch in 128 256; do
  echo "== FP ResNet-18, batch ${batch}, ${epochs} epochs"
  "${runner[@]}" demo -preset paper -backend "xla:${plugin}" -archives "${archives}" -batch "${batch}" -epochs "${epochs}"
done
