"""DVC and Snakemake run the same pipeline: after either, the other finds nothing to do; outputs
round-trip through a local directory remote; `dvc exp run -S` runs a parameter variant.
Runs whatever stages and rules exist, in a throwaway git copy of the repository (profile smoke)."""
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers.repo_copy import copy_repo, env

pytestmark = pytest.mark.slow


def sh(repo, *cmd, timeout=900):
    proc = subprocess.run(list(cmd), cwd=repo, env=env(repo), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


def smoke_copy(dest: Path) -> Path:
    repo = copy_repo(dest)
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("\nprofile: small", "\nprofile: smoke", 1))
    assert yaml.safe_load(params.read_text())["profile"] == "smoke"
    sh(repo, "git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qam", "smoke")
    return repo


def outputs(repo: Path) -> dict:
    """sha256 of every file under the pipeline's output roots."""
    out = {}
    for root in ("data", "cache", "runs", "results"):
        for f in sorted((repo / root).glob("**/*")):
            if f.is_file():
                out[str(f.relative_to(repo))] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory):
    repo = smoke_copy(tmp_path_factory.mktemp("dvc") / "repo")
    sh(repo, "dvc", "repro")
    return repo


def test_after_dvc_repro_snakemake_has_nothing_to_do(reproduced):
    assert (reproduced / "results/smoke/report.html").exists()
    out = sh(reproduced, "snakemake", "-n", "all")
    assert "Nothing to be done" in out, out[-2000:]
    assert "up to date" in sh(reproduced, "dvc", "status")


def test_after_snakemake_dvc_has_nothing_to_do(tmp_path):
    repo = smoke_copy(tmp_path / "repo")
    sh(repo, "snakemake", "--cores", "2", "all")
    assert "up to date" in sh(repo, "dvc", "status")
    out = sh(repo, "dvc", "repro")
    assert "didn't change, skipping" in out and "Running stage" not in out, out


def test_push_wipe_pull_round_trip_then_audit(reproduced, tmp_path):
    repo = reproduced
    before = outputs(repo)
    assert before
    sh(repo, "dvc", "remote", "add", "--local", "-f", "-d", "store", str(tmp_path / "remote"))
    sh(repo, "dvc", "push")
    shutil.rmtree(repo / ".dvc" / "cache")
    for root in ("data", "cache", "runs", "results"):
        shutil.rmtree(repo / root, ignore_errors=True)
    sh(repo, "dvc", "pull")
    assert outputs(repo) == before
    assert "up to date" in sh(repo, "dvc", "status")
    table = repo / "results/smoke/table.md"
    if table.exists():  # once the evaluation stages are in the pipeline
        sh(repo, "motionmvm", "audit", str(table.relative_to(repo)), "--profile", "smoke")


def test_exp_run_with_a_parameter_variant(tmp_path):
    repo = copy_repo(tmp_path / "repo")  # params.yaml says profile: small
    out = sh(repo, "dvc", "exp", "run", "-S", "profile=smoke")
    assert "Running stage" in out
    assert (repo / "results/smoke/report.html").exists()
    assert yaml.safe_load((repo / "dvc.lock").read_text())["stages"]["report"]["params"]["params.yaml"]["profile"] == "smoke"


def test_tracked_results_round_trip_through_a_remote_then_audit(tmp_path, monkeypatch):
    """A results tree (datasets, motion settings, checkpoints, runs, table) versioned with DVC:
    push, wipe the cache and every output, pull; the audit then passes against the `.dvc` md5s,
    and fails once a pulled run is rewritten."""
    import numpy as np

    from tests.helpers import results_tree
    repo = smoke_copy(tmp_path / "repo")
    gitignore = repo / ".gitignore"  # let DVC write its .dvc files beside the outputs
    gitignore.write_text("".join(ln + "\n" for ln in gitignore.read_text().splitlines()
                                 if ln not in ("/data/", "/cache/", "/runs/", "/results/")))
    (repo / "dvc.yaml").unlink()  # this test versions outputs with `dvc add`, not the pipeline's stages
    monkeypatch.chdir(repo)
    tree = results_tree.build(repo, repo, write_lock=False)
    tracked = ["data/smoke", "cache/smoke", "runs/smoke", "results/smoke"]
    sh(repo, "dvc", "add", *tracked)
    audit = ["motionmvm", "audit", "results/smoke/table.md", "--profile", "smoke"]
    assert "all links hold" in sh(repo, *audit)
    before = outputs(repo)
    sh(repo, "dvc", "remote", "add", "--local", "-f", "-d", "store", str(tmp_path / "remote"))
    sh(repo, "dvc", "push")
    shutil.rmtree(repo / ".dvc" / "cache")
    for root in ("data", "cache", "runs", "results"):
        shutil.rmtree(repo / root / "smoke")
    sh(repo, "dvc", "pull")
    assert outputs(repo) == before
    assert "all links hold" in sh(repo, *audit)
    run = tree["run"]("mgm", 0)
    top1 = results_tree.write_predictions(run / "predictions.csv", np.random.default_rng(3), skill=2.0)
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["top1"] = top1
    (run / "metrics.json").write_text(json.dumps(metrics))
    proc = subprocess.run(audit, cwd=repo, env=env(repo), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "linear_probe/mgm/synth" in proc.stdout and "runs/smoke.dvc" in proc.stdout, proc.stdout
