"""params `eval.seed_plan` (issue 11's budget): a protocol or a reference row runs on the seeds
it lists; the DAG, dvc.yaml, the aggregate and the audit read the same plan."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from helpers.repo_copy import BIN, copy_repo, env
from motionmvm import config
from motionmvm.eval.aggregate import aggregate
from motionmvm.io import read_json
from motionmvm.report.audit import audit
from tests.helpers import results_tree

REPO = Path(__file__).resolve().parents[1]
CELL = "linear_probe/scratch_1frame/synth"


def test_planned_seeds_intersects_the_experiment_seeds_with_each_list_that_applies():
    cfg = {"experiment": {"seeds": [2, 0, 1]},
           "eval": {"seed_plan": {"domain_adapt": [1, 0], "mar_finetune": [0], "scratch_1frame": [2]}}}
    assert config.planned_seeds(cfg, "finetune", "videomae") == [0, 1, 2]
    assert config.planned_seeds(cfg, "domain_adapt", "mgm") == [0, 1]
    assert config.planned_seeds(cfg, "linear_probe", "scratch_1frame") == [2]
    assert config.planned_seeds(cfg, "domain_adapt", "scratch_1frame") == []
    assert config.planned_seeds({"experiment": {"seeds": [0, 1]}, "eval": {}}, "fewshot", "mme") == [0, 1]


def _params_dir(tmp_path: Path, edit) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    edit(params)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    shutil.copytree(REPO / "workflow" / "schemas", tmp_path / "workflow" / "schemas")
    return tmp_path / "params.yaml"


def test_a_plan_for_an_unknown_protocol_is_refused_in_one_line(tmp_path):
    path = _params_dir(tmp_path, lambda p: p["eval"]["seed_plan"].update(domain_adapat=[0]))
    with pytest.raises(config.ConfigError, match=r"unknown key eval\.seed_plan\.domain_adapat"):
        config.load(path, "small")


def test_a_planned_seed_outside_the_experiment_is_refused_in_one_line(tmp_path):
    path = _params_dir(tmp_path, lambda p: p["eval"]["seed_plan"].update(mar_finetune=[0, 7]))
    with pytest.raises(config.ConfigError, match=r"^eval\.seed_plan\.mar_finetune: seeds \[7\] are not "
                                                 r"experiment seeds \[0, 1, 2\]; list some of those$"):
        config.load(path, "small")


def build_tree(root: Path, monkeypatch, plan: list[int]) -> dict:
    """The fabricated results tree (linear-probe cells of videomae and of the single-frame control,
    3 seeds each on disk), params planning the control on `plan`."""
    monkeypatch.setattr(results_tree, "METHODS", ("videomae", "scratch_1frame"))
    results_tree.build(root, REPO, edit_params=lambda p: p["eval"]["seed_plan"].update(scratch_1frame=plan))
    return config.load("params.yaml", "smoke")


def test_the_aggregate_builds_a_cell_from_its_planned_seeds_and_the_audit_accepts_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = build_tree(tmp_path, monkeypatch, [0])
    rows = {(r["protocol"], r["method"], r["dataset"]): r for r in read_json("results/smoke/summary.json")["rows"]}
    assert rows[("linear_probe", "scratch_1frame", "synth")]["seeds"] == [0]  # seeds 1 and 2 exist on disk
    assert rows[("linear_probe", "scratch_1frame", "synth")]["top1"]["half_width"] is None  # one seed: no interval
    assert rows[("linear_probe", "videomae", "synth")]["seeds"] == [0, 1, 2]
    assert "| linear_probe | scratch_1frame | synth | 1 |" in Path("results/smoke/table.md").read_text()
    res = audit("results/smoke/table.md", cfg)
    assert res["ok"], res["problems"]


def test_a_planned_seed_that_is_missing_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = build_tree(tmp_path, monkeypatch, [0, 1])
    shutil.rmtree(f"runs/smoke/eval/{CELL}/seed1")
    aggregate("runs/smoke/eval", "results/smoke", cfg["eval"]["confidence"], cfg=cfg,
              pretrain_root="runs/smoke/pretrain")
    results_tree.relock()
    res = audit("results/smoke/table.md", cfg)
    hits = [p for p in res["problems"] if p.startswith(CELL) and ": incomplete: " in p]
    assert hits and "built from seeds [0], the experiment defines [0, 1] for this cell (eval.seed_plan)" in hits[0], \
        res["problems"]


def test_dvc_runs_the_planned_protocols_on_the_planned_seeds():
    """dvc.yaml's matrices read eval.seed_plan, so `dvc repro` and Snakemake make the same runs."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    want = {"eval_domain_adapt": "domain_adapt", "eval_mar": "mar_finetune",
            "eval_finetune_scratch_1frame": "scratch_1frame", "eval_linear_probe_scratch_1frame": "scratch_1frame",
            "eval_fewshot_scratch_1frame": "scratch_1frame"}
    for name, stage in stages.items():
        seeds = stage.get("matrix", {}).get("seed")
        if seeds is not None:
            assert seeds == ("${eval.seed_plan.%s}" % want[name] if name in want else "${experiment.seeds}"), name


def test_the_small_dag_runs_each_protocol_on_its_planned_seeds(tmp_path):
    """Dry run of the small profile: domain adaptation, MAR and the single-frame control on seed 0
    only; fine-tuning, the frozen protocols and the other reference rows on every seed."""
    repo = copy_repo(tmp_path)
    exe = str(BIN / "snakemake") if (BIN / "snakemake").exists() else "snakemake"
    proc = subprocess.run([exe, "-n", "-p", "all", "--cores", "2", "--config", "profile=small"], cwd=repo,
                          env=env(repo), capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    cfg = config.load(REPO / "params.yaml", "small")
    assert cfg["eval"]["seed_plan"] == {"domain_adapt": [0], "mar_finetune": [0], "scratch_1frame": [0]}
    methods = cfg["experiment"]["methods"]
    for seed in (0, 1, 2):
        da = [m for m in methods if f"domain-adapt --params params.yaml --profile small --method {m} "
              f"--source synth --target synth_b --seed {seed}" in out]
        assert da == (methods if seed == 0 else []), seed
        assert (f"mar-finetune --params params.yaml --profile small --mask-percent 50 --dataset synth --seed {seed}"
                in out) == (seed == 0)
        evaluate = "evaluate --params params.yaml --profile small --method"
        assert (f"{evaluate} scratch_1frame --seed {seed}" in out) == (seed == 0)
        assert f"{evaluate} scratch --seed {seed}" in out
        assert f"{evaluate} random_init --seed {seed}" in out
