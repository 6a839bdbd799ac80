"""The Snakemake rules for real datasets: `motionmvm prepare` with the declared outputs, then the
manifest; a dataset to be placed by hand that is absent stops the workflow with one line."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.helpers.workflow_dir import workflow_dir

REPO = Path(__file__).resolve().parents[1]
BY_HAND = ("k400", "hmdb51", "mimetics")  # the paper profile's datasets with no URL in params.yaml


def _dry_run(work: Path, *targets: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--dry-run", "--printshellcmds", "--cores", "1",
         "--config", "profile=paper", "--directory", str(work), "--snakefile", str(work / "Snakefile"),
         *targets], capture_output=True, text=True, env=env, timeout=120, cwd=work)


def test_dry_run_prepares_real_datasets(tmp_path):
    work = workflow_dir(tmp_path)
    for name in BY_HAND:  # the user's copy of the official files (params datasets.<name>.root)
        (work / "data" / "raw" / name).mkdir(parents=True)
        (work / "data" / "raw" / name / "some_official_file").write_text("x")
    proc = _dry_run(work, *[f"data/paper/{d}/prepare.json" for d in ("k400", "ucf101", "hmdb51", "diving48")],
                    "data/paper/k400/manifest.json")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    for name in ("k400", "ucf101", "hmdb51", "diving48"):
        assert (f"motionmvm prepare --params params.yaml --profile paper --dataset {name} "
                "--no-progress") in out
        assert f"data/paper/{name}/prepare.json" in out
    assert "motionmvm data manifest --params params.yaml --profile paper --dataset k400" in out
    assert "--dataset ssv2" not in out  # not asked for


def test_an_absent_dataset_to_place_by_hand_is_one_line_saying_where(tmp_path):
    proc = _dry_run(workflow_dir(tmp_path), "all")
    assert proc.returncode != 0
    # one line (the workflow's check, before any job: motionmvm.experiments.missing_datasets) naming
    # each absent dataset once, with which files to put where; one note per dataset
    lines = [l for l in (proc.stdout + proc.stderr).splitlines() if "needs datasets that are not in place: " in l]
    assert len(lines) == 1, proc.stdout + proc.stderr
    named = re.findall(r"(?:not in place: |; )([a-z0-9]+) must be placed by hand", lines[0])
    assert sorted(named) == sorted(BY_HAND), lines[0]
    assert "Traceback" not in proc.stdout + proc.stderr and "MissingInputException" not in proc.stdout + proc.stderr
    k400 = lines[0][lines[0].index("k400 must be placed by hand"):].split("; then run again")[0]
    assert "k400 must be placed by hand" in k400 and "under data/raw/k400/ (params datasets.k400.root)" in k400
    assert "data/raw/k400/train.csv" in k400 and "data/raw/k400/validate.csv" in k400
    assert "motionmvm prepare --dataset k400 --source" in k400
