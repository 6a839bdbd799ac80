#!/usr/bin/env bash
# Install what is missing, then run the test suite (extra arguments go to pytest). The order is
# random (pytest-randomly); the last line names the seed: pass --randomly-seed=N to repeat an order,
# -p no:randomly for file order.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -q "$@"
