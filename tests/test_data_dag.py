"""The data steps' Snakemake rules and dvc.yaml stages agree: same commands, same outputs.

Each area checks its own steps the same way (tests/test_pretrain_workflow.py, the eval, motion and
tokenizer workflow tests); tests/test_dvc.py checks the whole pipeline end to end (after either
tool has run, the other finds nothing to do)."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers.workflow_dir import workflow_dir

ROOT = Path(__file__).resolve().parents[1]


def _dvc_stages(profile):
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    out = {}
    for name, st in stages.items():
        if not name.startswith("data_"):
            continue
        items = st["foreach"] if "foreach" in st else [None]
        body = st["do"] if "foreach" in st else st
        for item in items:
            sub = lambda s: s.replace("${profile}", profile).replace("${item}", str(item))
            out[sub(body["cmd"])] = sorted(sub(o) for o in body.get("outs", []))
    return out


def without_log(cmd: str) -> str:
    """The command without the rule's log redirection (`... > {log} 2>&1`): Snakemake rules write
    to log files, DVC stages print to the terminal; the commands themselves are the same."""
    return re.sub(r"\s+>\s*\S+\s+2>&1$", "", cmd)


def _snakemake_jobs(profile, work):
    exe = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or "snakemake"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    res = subprocess.run([exe, "-n", "-p", "--forceall", "--config", f"profile={profile}"], cwd=workflow_dir(work),
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    jobs = {}
    for block in re.split(r"\n(?=rule |localrule )", res.stdout + res.stderr):
        outs = re.search(r"^\s+output: (.+)$", block, re.M)
        cmd = re.search(r"^Shell command: (.+)$", block, re.M) or re.search(r"^\s*(motionmvm .+)$", block, re.M)
        rule = re.match(r"(?:local)?rule (\w+):", block)
        if rule and rule.group(1).startswith("data_") and outs and cmd and cmd.group(1) != "None":
            jobs[without_log(cmd.group(1).strip())] = sorted(o.strip() for o in outs.group(1).split(","))
    return jobs


@pytest.mark.skipif(shutil.which("snakemake", path=str(Path(sys.executable).parent)) is None
                    and shutil.which("snakemake") is None, reason="snakemake not installed")
def test_snakemake_and_dvc_agree(tmp_path):
    profile = yaml.safe_load((ROOT / "params.yaml").read_text())["profile"]
    smk, dvc = _snakemake_jobs(profile, tmp_path), _dvc_stages(profile)
    assert smk, "no snakemake jobs parsed"
    assert set(smk) == set(dvc), f"only in snakemake: {set(smk) - set(dvc)}; only in dvc: {set(dvc) - set(smk)}"
    for cmd in smk:
        assert smk[cmd] == dvc[cmd], cmd
