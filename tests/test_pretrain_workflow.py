"""The pretrain Snakemake rule and the DVC stage run the same command with the same outputs."""
from __future__ import annotations

import os
import subprocess
import sys

import yaml

from pretrain_helpers import REPO


def _dvc_command(method: str, seed: int, profile: str, dataset: str) -> str:
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["pretrain"]
    cmd = " ".join(stage["cmd"].split())
    for key, val in {"${item.method}": method, "${item.seed}": str(seed), "${profile}": profile,
                     "${experiment.pretrain_dataset}": dataset}.items():
        cmd = cmd.replace(key, val)
    return cmd


def test_snakemake_dry_run_matches_the_dvc_stage(tmp_path):
    # A working directory with the workflow and a prepared (empty) dataset manifest.
    for name in ("Snakefile", "workflow", "params.yaml", "dvc.yaml"):
        (tmp_path / name).symlink_to(REPO / name)
    (tmp_path / "data" / "smoke" / "synth").mkdir(parents=True)
    (tmp_path / "data" / "smoke" / "synth" / "manifest.json").write_text("{}")
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    targets = [f"runs/smoke/pretrain/{m}/seed{s}/metrics.json" for m in ("videomae", "stmae") for s in (0, 1)]
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--dry-run", "--printshellcmds", "--cores", "1",
         "--config", "profile=smoke", "--snakefile", "Snakefile",
         *targets], capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert out.count("rule pretrain:") == 4, out
    for m in ("videomae", "stmae"):
        for s in (0, 1):
            assert _dvc_command(m, s, "smoke", "synth") in out
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["pretrain"]
    outs = [o if isinstance(o, str) else next(iter(o)) for o in stage["outs"]]
    assert [o.rsplit("/", 1)[1] for o in outs] == ["encoder.pt", "metrics.json", "log.csv"]
