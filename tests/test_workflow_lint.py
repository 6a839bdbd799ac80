"""The Snakemake workflow is lint-clean, and its conda environment file installs this repository."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def test_snakemake_lint_reports_nothing():
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Lints for" not in out, out


def test_conda_env_pip_paths_reach_the_repository():
    """conda runs pip in the directory of the file it reads: under Snakemake a copy in
    .snakemake/conda/, not envs/. Each pip path, with ${VAR} expanded as pip does (PWD = the
    directory Snakemake runs in, the repository root), must name the constraints file and the
    package from there."""
    spec = yaml.safe_load((REPO / "envs" / "motionmvm.yaml").read_text())
    assert "python=3.11" in spec["dependencies"]
    (pip,) = [d["pip"] for d in spec["dependencies"] if isinstance(d, dict)]
    pip_cwd = REPO / ".snakemake" / "conda"
    found = {}
    for line in pip:
        option, path = line.split(maxsplit=1)
        path = re.sub(r"\$\{([A-Z0-9_]+)\}", lambda m: {"PWD": str(REPO)}[m.group(1)], path)
        found[option] = (pip_cwd / path).resolve()  # an absolute path stays as it is
    assert found["-c"] == REPO / "envs" / "constraints.txt" and found["-c"].is_file()
    assert found["-e"] == REPO
    assert re.search(r'^name = "motionmvm"$', (found["-e"] / "pyproject.toml").read_text(), re.M)
