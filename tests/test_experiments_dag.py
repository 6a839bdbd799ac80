"""Each reproduction experiment's Snakemake DAG (`--config experiment=NAME`): it names the missing
datasets in one line, and builds (dry run) once the adapters' fixture datasets are in place."""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures import official
from helpers.repo_copy import BIN, copy_repo, env
from motionmvm import experiments
from motionmvm.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
FIXTURES = {"ucf101": official.ucf101, "hmdb51": official.hmdb51, "mimetics": official.mimetics,
            "diving48": official.diving48, "ssv2": official.ssv2, "k400": official.k400}


def dry_run(repo: Path, name: str, profile: str = "smoke") -> subprocess.CompletedProcess:
    exe = str(BIN / "snakemake") if (BIN / "snakemake").exists() else "snakemake"
    return subprocess.run([exe, "-n", "-p", "--cores", "1", "--config", f"profile={profile}", f"experiment={name}"],
                          cwd=repo, env=env(repo), capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """A copy of the repository without any dataset."""
    return copy_repo(tmp_path_factory.mktemp("bare"))


@pytest.fixture(scope="module")
def ready(tmp_path_factory):
    """A copy with every real dataset's fixture in its official layout under its params root."""
    repo = copy_repo(tmp_path_factory.mktemp("ready"))
    for name, make in FIXTURES.items():
        make(repo / "data" / "raw" / name)
    return repo


def check_dag(repo: Path, name: str) -> str:
    """Dry-run experiment `name` and check the DAG holds what its file says; returns the output."""
    proc = dry_run(repo, name)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{name}:\n{out[-3000:]}"
    exp = experiments.load(name, REPO / "params.yaml")
    shape = exp["shape"]["experiment"]
    args = f"--params params.yaml --profile smoke --experiment {name}"
    for ds in {shape["pretrain_dataset"], *shape["eval_datasets"]}:
        assert f"motionmvm prepare {args} --dataset {ds} --no-progress" in out, (name, ds)
        assert f"motionmvm data manifest {args} --dataset {ds}" in out, (name, ds)
    for method in shape["methods"]:
        assert re.search(rf"pretrain {re.escape(args)} --method {method} --dataset {shape['pretrain_dataset']} ", out), (name, method)
    ev = exp["shape"]["eval"]
    assert ("--dataset mimetics" in out) == bool(ev["fewshot"]["datasets"]), name
    assert ("mar-finetune" in out) == bool(ev["mar"]["mask_percents"]), name
    # GPU steps run through the launcher: `motionmvm launch ... -- <step> <args>`
    assert out.count(" -- domain-adapt ") == len(ev["domain_adapt"]["pairs"]) * len(shape["methods"]), name
    assert "synth" not in out.replace("synth.json", ""), name  # nothing of the embedded benchmark
    # every command (and a launched step) accepts the arguments it is given, --experiment included
    for line in re.findall(r"(?m)^(?:Shell command: )?(motionmvm .+)$", out):
        line = re.split(r"\s+>\s", line)[0]  # without the rule's log redirection
        ns = build_parser().parse_args(shlex.split(line)[1:])
        assert ns.experiment == name, line
        if ns.command == "launch":
            assert build_parser().parse_args(ns.step[1:]).experiment == name, line
    return out


def test_missing_datasets_are_named_with_where_to_put_them(bare):
    proc = dry_run(bare, "demvm_ucf101")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    line = next(ln for ln in out.splitlines() if "needs datasets that are not in place" in ln)
    # ucf101 downloads itself (params datasets.ucf101.url); HMDB51 must be put in place
    # (motionmvm.datasets.prepare.missing_by_hand: the dataset, which files, where)
    assert "hmdb51 must be placed by hand" in line and "under data/raw/hmdb51/" in line
    assert "data/raw/hmdb51/testTrainMulti_7030_splits/" in line
    assert "ucf101" not in line.split("not in place:")[1]


# one experiment per kind of DAG in the default run (DEMVM + Mimetics few-shot; MGM + both domain
# adaptation pairs; MAR ratios); every experiment under the slow marker (about 20 s each here)
@pytest.mark.parametrize("name", ["demvm_ucf101_swin_t", "mar_k400"])
def test_experiment_dag_builds_on_fixture_datasets(ready, name):
    check_dag(ready, name)


@pytest.mark.slow
def test_every_experiment_dag_builds_on_fixture_datasets(ready):
    for name in experiments.names(REPO / "params.yaml")[1:]:
        check_dag(ready, name)


def test_mgm_domain_adaptation_pairs(ready):
    out = check_dag(ready, "mgm_k400")
    for src, tgt in (("ucf101", "hmdb51"), ("hmdb51", "ucf101")):
        assert (f" -- domain-adapt --params params.yaml --profile smoke --experiment mgm_k400 --method mgm "
                f"--source {src} --target {tgt} --seed 0") in out
        assert f"runs/smoke/eval/domain_adapt/mgm/{src}-to-{tgt}/seed0/metrics.json" in out


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
