"""The Snakemake rule for real datasets: `motionmvm prepare` with the declared outputs."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.workflow_dir import workflow_dir

REPO = Path(__file__).resolve().parents[1]


def test_dry_run_prepares_real_datasets(tmp_path):
    work = workflow_dir(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--dry-run", "--printshellcmds", "--cores", "1",
         "--config", "profile=paper", "--directory", str(work), "--snakefile", str(work / "Snakefile"),
         *[f"data/paper/{d}/prepare.json" for d in ("k400", "ucf101", "hmdb51", "diving48")]],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    for name in ("k400", "ucf101", "hmdb51", "diving48"):
        assert (f"motionmvm prepare --params params.yaml --profile paper --dataset {name} "
                "--no-progress") in out
        assert f"data/paper/{name}/prepare.json" in out
    assert "--dataset ssv2" not in out  # not asked for
