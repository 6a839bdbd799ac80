#!/usr/bin/env bash
# One command for the GPU figures of docs/benchmarks.md (issue 13 item 5); under 8 minutes on one
# H200 with 16 CPU cores. Prints every figure with the GPU's name, the CPU, core count and date.
#
#   benchmarks/gpu.sh            on the GPU machine (installs benchmarks/wheels/ first, if present)
#   benchmarks/gpu.sh --dry      every part on the CPU with tiny sizes (CI: tests/test_gpu_benchmark.py)
#
# The GPU machine reaches no package registry: build the wheels here first with
# `benchmarks/gpu_wheels.sh` (PyAV, decord, jsonschema; carried in the working tree, < 64 MiB).
# This package runs from the working tree's src/ (PYTHONPATH), so the code measured is the checkout's.
# Extra arguments go to benchmarks/gpu.py (e.g. --parts steps flow, --workers 16).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if [[ "${1:-}" != "--dry" ]] && compgen -G "benchmarks/wheels/*.whl" > /dev/null; then
  SITE="${TMPDIR:-/tmp}/motionmvm-gpu-site"
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
    benchmarks/wheels/*.whl
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD/src:$PWD/benchmarks${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 TORCH_LOGS="-dynamo"   # figures, not graph-break warnings
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
exec "$PY" benchmarks/gpu.py "$@"
