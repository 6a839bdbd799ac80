"""A throwaway copy of this repository (tracked + untracked, not ignored files) as its own git
repository, for end-to-end runs of Snakemake and DVC that must not touch the real worktree."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the virtualenv's bin: snakemake, dvc, motionmvm


def copy_repo(dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True,
                           capture_output=True, timeout=60).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            (dest / rel).write_bytes(src.read_bytes())
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org"]
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "copy"]):
        subprocess.run(git + cmd, cwd=dest, check=True, capture_output=True, timeout=60)
    return dest


def env(repo: Path, **extra) -> dict:
    """Environment for commands run in the copy: its own src first, the venv's tools on PATH."""
    return {**os.environ, "PYTHONPATH": str(repo / "src"),
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **extra}


def use_smoke_profile(repo: Path, seeds=(0,), mar_percents=(50,), methods=None) -> None:
    """Switch the copy to the smoke profile with a smaller experiment shape (one seed, one MAR
    ratio) so an end-to-end run of every method and protocol fits the test budget. Every protocol
    and reference row stays in the DAG; every method too unless `methods` names a subset."""
    import re

    params = repo / "params.yaml"
    text = params.read_text().replace("\nprofile: small", "\nprofile: smoke", 1)
    text = re.sub(r"(?m)^(  seeds: ).*$", lambda m: m.group(1) + str(list(seeds)), text, count=1)
    text = re.sub(r"(?m)^(    mask_percents: )\[[^]]*\]", lambda m: m.group(1) + str(list(mar_percents)),
                  text, count=1)
    if methods is not None:
        text = re.sub(r"(?m)^(  methods: )\[[^]]*\]", lambda m: m.group(1) + "[" + ", ".join(methods) + "]",
                      text, count=1)
    params.write_text(text)
