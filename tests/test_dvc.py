"""DVC and Snakemake run the same pipeline: after either, the other finds nothing to do; outputs
round-trip through a local directory remote; `dvc exp run -S` runs a parameter variant.
Runs the whole pipeline (`all`), in a throwaway git copy of the repository (profile smoke); a
pipeline that cannot be built fails the fixture with Snakemake's output."""
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers.repo_copy import copy_repo, env, use_smoke_profile

pytestmark = pytest.mark.slow


def sh(repo, *cmd, timeout=900):
    proc = subprocess.run(list(cmd), cwd=repo, env=env(repo), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


def smoke_copy(dest: Path) -> Path:
    repo = copy_repo(dest)
    use_smoke_profile(repo)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert params["profile"] == "smoke" and params["experiment"]["seeds"] == [0]
    assert params["eval"]["mar"]["mask_percents"] == [50]
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
def pipeline(tmp_path_factory):
    """A copy of the repository where `snakemake all` has run (profile smoke)."""
    repo = smoke_copy(tmp_path_factory.mktemp("dvc") / "repo")
    sh(repo, "snakemake", "--cores", "2", "all")
    return repo


def test_after_snakemake_dvc_has_nothing_to_do(pipeline):
    assert (pipeline / "results/smoke/report.html").exists()
    assert "up to date" in sh(pipeline, "dvc", "status")  # Snakemake's onsuccess `dvc commit`
    out = sh(pipeline, "dvc", "repro")
    assert "Running stage" not in out, out


def test_after_dvc_repro_snakemake_has_nothing_to_do(pipeline):
    for stage in ("audit", "report"):  # DVC rewrites the final outputs with the same commands
        assert f"Running stage '{stage}'" in sh(pipeline, "dvc", "repro", "--force", "--single-item", stage)
    out = sh(pipeline, "snakemake", "-n", "all")
    assert "Nothing to be done" in out, out[-2000:]
    assert "up to date" in sh(pipeline, "dvc", "status")


def test_snakemake_report_collects_the_plots(pipeline):
    sh(pipeline, "snakemake", "--report", "snakemake-report.zip")
    assert (pipeline / "snakemake-report.zip").stat().st_size > 0


def versioned(repo: Path, files: dict) -> dict:
    """The files that lie under an output DVC versions (dvc.lock outs with a cache). Working files
    no stage declares (resume checkpoints, partial logs, TensorBoard events, the linear probe's
    feature cache) are rebuilt on demand and are not expected back from a pull."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    roots = [o["path"] for st in lock["stages"].values() for o in st.get("outs", [])]
    return {p: h for p, h in files.items() if any(p == r or p.startswith(r.rstrip("/") + "/") for r in roots)}


def test_push_wipe_pull_round_trip_then_audit(pipeline, tmp_path):
    repo = pipeline
    before = versioned(repo, outputs(repo))
    for made in ("audit.json", "audit_summary.json"):  # `cache: false`: not versioned, remade by the audit stage
        before.pop(f"results/smoke/{made}")
    kinds = {p.split("/")[0] for p in before}
    assert kinds == {"data", "cache", "runs", "results"}, kinds  # datasets, motion, checkpoints, metrics
    assert any(p.endswith("encoder.pt") for p in before) and any("/motion/" in p for p in before)
    assert any(p.endswith("metrics.json") for p in before) and "results/smoke/table.md" in before
    sh(repo, "dvc", "remote", "add", "--local", "-f", "-d", "store", str(tmp_path / "remote"))
    sh(repo, "dvc", "push")
    # The other tests share this pipeline: keep a copy of every output (with its mtime, which
    # Snakemake reads, and the unversioned files a pull does not bring back) to put back afterwards.
    kept = tmp_path / "kept"
    for root in ("data", "cache", "runs", "results"):
        shutil.copytree(repo / root, kept / root, symlinks=True)
    shutil.rmtree(repo / ".dvc" / "cache")
    for root in ("data", "cache", "runs", "results"):
        shutil.rmtree(repo / root, ignore_errors=True)
    sh(repo, "dvc", "pull")
    assert versioned(repo, outputs(repo)) == before
    assert "all links hold" in sh(repo, "motionmvm", "audit", "results/smoke/table.md", "--profile", "smoke")
    for root in ("data", "cache", "runs", "results"):
        shutil.rmtree(repo / root)
        shutil.copytree(kept / root, repo / root, symlinks=True)


def test_exp_run_with_a_parameter_variant(pipeline):
    out = sh(pipeline, "dvc", "exp", "run", "-S", "report.dpi=60")
    assert "Running stage 'report'" in out and "Running stage 'eval" not in out, out
    lock = yaml.safe_load((pipeline / "dvc.lock").read_text())
    assert lock["stages"]["report"]["params"]["params.yaml"]["report"] == {"dpi": 60}
    import csv
    rows = list(csv.DictReader(sh(pipeline, "dvc", "exp", "show", "--csv").splitlines()))
    assert any(r["report.dpi"] == "60" and r["Experiment"] for r in rows), rows  # the experiment is recorded


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
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["experiment"]["seeds"] = list(results_tree.SEEDS)  # the tree's seeds: the audit checks them
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
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
