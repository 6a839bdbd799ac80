"""The pretrain Snakemake rule and the DVC stages run the same command with the same outputs and
depend on the same motion caches / token targets, per method."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import yaml

from pretrain_helpers import REPO

SUBST = {"${profile}": "smoke", "${experiment.pretrain_dataset}": "synth"}


def _pretrain_stages() -> dict[str, dict]:
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    return {k: v for k, v in stages.items() if k == "pretrain" or k.startswith("pretrain_")}


def _stage_of(method: str) -> dict:
    """The DVC pretrain stage whose method matrix lists `method` (exactly one)."""
    found = [s for s in _pretrain_stages().values() if method in s["matrix"]["method"]]
    assert len(found) == 1, f"{method} is in {len(found)} DVC pretrain stages"
    return found[0]


def _fill(text: str, method: str, seed: int) -> str:
    for key, val in {**SUBST, "${item.method}": method, "${item.seed}": str(seed)}.items():
        text = text.replace(key, val)
    return text


def _dvc_command(method: str, seed: int) -> str:
    return _fill(" ".join(_stage_of(method)["cmd"].split()), method, seed)


def _dvc_data_deps(method: str) -> set[str]:
    """The stage's data inputs (source-code deps are DVC-only: Snakemake tracks code itself)."""
    return {_fill(d, method, 0) for d in _stage_of(method)["deps"] if not d.startswith("src/")}


def _dry_run(tmp_path, targets, params_text: str | None = None) -> str:
    """`snakemake --dry-run` in a directory with the workflow and an (empty) dataset manifest."""
    for name in ("Snakefile", "workflow", "dvc.yaml"):
        (tmp_path / name).symlink_to(REPO / name)
    if params_text is None:
        (tmp_path / "params.yaml").symlink_to(REPO / "params.yaml")
    else:
        (tmp_path / "params.yaml").write_text(params_text)
    (tmp_path / "data" / "smoke" / "synth").mkdir(parents=True)
    (tmp_path / "data" / "smoke" / "synth" / "manifest.json").write_text("{}")
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--dry-run", "--printshellcmds", "--cores", "1",
         "--config", "profile=smoke", "--snakefile", "Snakefile", *targets],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    # Commands are compared modulo runs of spaces (an empty {LAUNCH} leaves two).
    return re.sub(r"[ \t]+", " ", out)


def _rule_inputs(out: str) -> dict[str, set[str]]:
    """method -> input paths of each `rule pretrain` job in a dry-run log."""
    found = {}
    for block in out.split("rule pretrain:")[1:]:
        inputs = re.search(r"input: (.*)", block).group(1)
        method = re.search(r"wildcards: method=(\w+)", block).group(1)
        found[method] = {p.strip() for p in inputs.split(",")}
    return found


def test_snakemake_dry_run_matches_the_dvc_stage(tmp_path):
    targets = [f"runs/smoke/pretrain/{m}/seed{s}/metrics.json" for m in ("videomae", "stmae") for s in (0, 1)]
    out = _dry_run(tmp_path, targets)
    assert out.count("rule pretrain:") == 4, out
    for m in ("videomae", "stmae"):
        for s in (0, 1):
            assert _dvc_command(m, s) in out
    for stage in _pretrain_stages().values():
        outs = [o if isinstance(o, str) else next(iter(o)) for o in stage["outs"]]
        assert [o.rsplit("/", 1)[1] for o in outs] == ["encoder.pt", "metrics.json", "log.csv"]


def test_every_method_has_the_same_inputs_in_snakemake_and_dvc(tmp_path):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    methods = params["experiment"]["methods"]
    stage_methods = [m for s in _pretrain_stages().values() for m in s["matrix"]["method"]]
    assert sorted(stage_methods) == sorted(methods)  # the DVC stages cover experiment.methods
    out = _dry_run(tmp_path, [f"runs/smoke/pretrain/{m}/seed0/metrics.json" for m in methods])
    inputs = _rule_inputs(out)
    assert sorted(inputs) == sorted(methods)
    for m in methods:
        assert _dvc_command(m, 0) in out
        assert inputs[m] == _dvc_data_deps(m), m
    # the motion-guided methods really depend on their caches (not only the manifest)
    assert "cache/smoke/synth/motion/mv" in inputs["mgm"]
    assert {"cache/smoke/synth/motion/klt", "cache/smoke/synth/tokens"} <= inputs["demvm"]


def test_mgm_flow_guidance_makes_the_rule_read_the_flow_cache(tmp_path):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["masking"]["mgm"]["guidance"] = "flow"
    out = _dry_run(tmp_path, ["runs/smoke/pretrain/mgm/seed0/metrics.json"],
                   yaml.safe_dump(raw, sort_keys=False))
    assert _rule_inputs(out)["mgm"] == {"data/smoke/synth/manifest.json", "cache/smoke/synth/clips",
                                        "cache/smoke/synth/motion/flow"}
