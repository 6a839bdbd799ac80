"""Snakemake rules and DVC stages for the motion kinds call `motionmvm motion <kind>` with the
declared per-kind cache directory as output."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def test_dry_run_extracts_each_kind_from_the_manifest(tmp_path):
    # A work dir with the params (and their schemas) and an existing manifest for the dataset.
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    shutil.copytree(REPO / "workflow" / "schemas", tmp_path / "workflow" / "schemas")
    (tmp_path / "data" / "smoke" / "synth").mkdir(parents=True)
    (tmp_path / "data" / "smoke" / "synth" / "manifest.json").write_text("{}\n")
    kinds = ("mv", "flow", "klt", "traj")
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--dry-run", "--printshellcmds", "--cores", "1",
         "--config", "profile=smoke", "--directory", str(tmp_path), "--snakefile", str(REPO / "Snakefile"),
         *[f"cache/smoke/synth/motion/{k}" for k in kinds]],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    for kind in kinds:
        assert f"motionmvm motion {kind} --params params.yaml --profile smoke --dataset synth" in out
        assert f"wildcards: dataset=synth, kind={kind}" in out
    assert "rule motion:" in out


def test_dvc_stage_runs_the_same_command_for_every_kind():
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["motion"]
    assert stage["foreach"] == ["mv", "flow", "klt", "traj"]
    assert stage["do"]["cmd"] == ("motionmvm motion ${item} --params params.yaml --profile ${profile} "
                                  "--dataset ${experiment.pretrain_dataset}")
    (out,) = stage["do"]["outs"]
    assert out == {"cache/${profile}/${experiment.pretrain_dataset}/motion/${item}": {"persist": True}}
