#!/usr/bin/env bash
# Idempotent install: a virtual environment in .venv with the package (editable) and pinned deps.
# Reruns are quick: pip skips what is already satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# Debian tools some steps call: bsdtar extracts the .rar archives of UCF101 / HMDB51.
if ! command -v bsdtar >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get install -y -qq libarchive-tools >/dev/null 2>&1 \
   || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq libarchive-tools >/dev/null 2>&1)) \
   || echo "setup: could not install libarchive-tools (bsdtar); .rar extraction will say so" >&2
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.motionmvm-installed
want=$(cat pyproject.toml envs/constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/pip install --quiet --upgrade pip >/dev/null
  .venv/bin/pip install --quiet -c envs/constraints.txt -e ".[test]"
  echo "$want" > "$stamp"
fi
