#!/usr/bin/env bash
# Install what is missing, then run the whole pipeline on the embedded default (profile `small`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
exec snakemake all --cores "${CORES:-2}" --rerun-incomplete --show-failed-logs "$@" --config profile="${PROFILE:-small}"
