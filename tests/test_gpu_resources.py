"""Every GPU step asks the cluster for GPUs under the `paper` profile: in the SLURM dry run each
goes through `motionmvm launch`, whose submitit submission carries params `resources.<step>`.

(A dry run replaces the SLURM executor by Snakemake's dry-run executor, so the `--backend
submitit` that LAUNCH adds under a real `--profile slurm` run is not printed; `paper` sets
`launch.backend: submitit` itself, checked here.)"""
import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from motionmvm import config
from motionmvm.launch.core import LaunchSettings, make_executor, resources_key

REPO = Path(__file__).resolve().parents[1]
# The commands that train or run a network (everything else is CPU work: decoding, motion caches,
# aggregation, report).
GPU_STEPS = {"pretrain": "pretrain", "tokenizer train": "tokenizer_train", "finetune": "finetune",
             "mar-finetune": "mar_finetune", "frozen": "frozen", "domain-adapt": "domain_adapt"}
# (Snakemake runs the linear probe and few-shot of one encoder as one `frozen` step; dvc.yaml keeps
# `linear-probe` / `fewshot` stages, whose resources keys are linear_probe / fewshot.)


def _paper_slurm_dry_run(tmp_path) -> list[str]:
    """Shell commands of `snakemake -n --profile slurm --config profile=paper all` on empty fixture
    manifests of every dataset the paper profile reads (each prepared: its prepare.json, so the
    workflow's missing-dataset check passes)."""
    for name in ("Snakefile", "workflow", "dvc.yaml", "params.yaml", "slurm", "envs"):
        (tmp_path / name).symlink_to(REPO / name)
    cfg = config.load(REPO / "params.yaml", "paper")
    ev = cfg["eval"]
    datasets = {cfg["experiment"]["pretrain_dataset"], *cfg["experiment"]["eval_datasets"],
                *ev["linear_probe"]["datasets"], *ev["fewshot"]["datasets"],
                *(d for p in ev["domain_adapt"]["pairs"] for d in (p["source"], p["target"]))}
    for ds in datasets:
        (tmp_path / "data" / "paper" / ds).mkdir(parents=True)
        (tmp_path / "data" / "paper" / ds / "prepare.json").write_text("{}")
        (tmp_path / "data" / "paper" / ds / "manifest.json").write_text("{}")
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--dry-run", "--printshellcmds",
                           "--profile", "slurm", "--config", "profile=paper", "--", "all"],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    return [re.sub(r"\s+", " ", c) for c in re.findall(r"(?m)^Shell command: (motionmvm .*)$", out)]


def test_paper_slurm_dry_run_asks_gpus_for_every_gpu_step(tmp_path, monkeypatch):
    from submitit.slurm.slurm import SlurmExecutor

    monkeypatch.setattr(SlurmExecutor, "affinity", classmethod(lambda cls: 1))  # srun not needed
    cfg = config.load(REPO / "params.yaml", "paper")
    seen = {}
    for cmd in _paper_slurm_dry_run(tmp_path):
        launched = re.match(r"motionmvm launch (.*?) -- (.*)$", cmd)
        step = launched.group(2) if launched else cmd[len("motionmvm "):]
        name = next((g for g in GPU_STEPS if step.startswith(g + " ")), None)
        if name is None:
            continue
        assert launched, f"a GPU step not sent through the launcher: {cmd}"
        key = resources_key(step.split(" "))
        assert key == GPU_STEPS[name]
        settings = LaunchSettings.from_config(cfg, step=key)
        assert settings.backend == "submitit"
        settings.folder = str(tmp_path / "launch")
        settings.cluster = "slurm"
        request = make_executor(settings)._executor.parameters
        seen[key] = request
        assert request["gpus_per_node"] >= 1, (key, request)
        assert request["additional_parameters"] == {"requeue": True}
    assert set(seen) == set(GPU_STEPS.values())  # paper: one job per protocol (eval.process_per_encoder false)
    evaluate = make_executor(dataclasses.replace(LaunchSettings.from_config(cfg, step="evaluate"), cluster="slurm",
                                                 folder=str(tmp_path / "launch")))._executor.parameters
    assert evaluate["gpus_per_node"] == 1  # were a user to turn it on
    assert seen["pretrain"]["gpus_per_node"] == seen["pretrain"]["ntasks_per_node"] == 8
    assert seen["finetune"]["ntasks_per_node"] == 1  # one process: fine-tuning is not DDP
    assert seen["tokenizer_train"]["time"] == cfg["resources"]["tokenizer_train"]["timeout_min"]


def test_resources_overlay_launch_and_name_their_step(tmp_path, capsys):
    cfg = config.load(REPO / "params.yaml", "paper")
    assert resources_key(["tokenizer", "train", "--kind", "2d"]) == "tokenizer_train"
    assert resources_key(["mar-finetune", "--mask-percent", "50"]) == "mar_finetune"
    base = LaunchSettings.from_config(cfg)
    ft = LaunchSettings.from_config(cfg, step="finetune")
    assert (ft.gpus_per_node, ft.mem_gb, ft.backend) == (1, 64, base.backend)
    assert LaunchSettings.from_config(cfg, step="config") == base  # a CPU step: launch: as is
    from motionmvm.cli import main
    assert main(["launch", "--profile", "paper", "--resources", "finetuen", "--", "config"]) == 2
    assert "--resources 'finetuen' is not a key" in capsys.readouterr().err


def test_smoke_and_small_ask_for_no_gpu():
    for profile in ("smoke", "small"):
        cfg = config.load(REPO / "params.yaml", profile)
        for key in [*GPU_STEPS.values(), "evaluate"]:
            assert LaunchSettings.from_config(cfg, step=key).gpus_per_node == 0
