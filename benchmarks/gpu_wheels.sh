#!/usr/bin/env bash
# Wheels that benchmarks/gpu.sh installs on a GPU machine that reaches no package registry.
# Its image (docs: the device notes, nvidia-h200 'cuda' image) has torch, torchvision, timm, numpy,
# pyyaml, matplotlib, tensorboard, einops, tqdm, OpenCV, scikit-learn, attrs; it lacks PyAV,
# decord and jsonschema (config validation). This package itself travels as source in the working
# tree (gpu.sh puts src/ on PYTHONPATH), so the code measured is the checkout's.
#
#   benchmarks/gpu_wheels.sh [PYTHON_VERSION]      (default 3.12, the H200 image's python3)
#
# Writes benchmarks/wheels/ (git-ignored, about 50 MiB: under the 64 MiB a device call carries).
set -euo pipefail
cd "$(dirname "$0")/.."
PYV="${1:-3.12}"
OUT=benchmarks/wheels
rm -rf "$OUT" && mkdir -p "$OUT"
# Versions pinned in envs/constraints.txt where they are pinned there; one version of each.
pin() { grep -i -E "^$1==" envs/constraints.txt | head -1 || true; }
PKGS=()
for name in av decord jsonschema jsonschema-specifications referencing rpds-py; do
  p="$(pin "$name")"
  PKGS+=("${p:-$name}")
done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PYV" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64 \
  -d "$OUT" "${PKGS[@]}"
ls -l "$OUT"
du -sh "$OUT"
