"""Provenance: what produced a number. Recorded into every metrics.json; checked by the audit.

Links are explicit: the caller names the dataset directory, the motion-cache settings files and
the checkpoint it used, and their hashes are taken from the files themselves.
"""
from __future__ import annotations

import os
import platform
import socket
import subprocess
import time
from importlib import metadata
from pathlib import Path

from motionmvm.config import params_hash
from motionmvm.io import read_json, sha256_file

PACKAGES = ("motionmvm", "torch", "torchvision", "timm", "numpy", "av", "decord",
            "opencv-python-headless", "scikit-learn", "snakemake", "dvc", "submitit")


def git_state(root: str | Path = ".") -> dict:
    """Commit of the working tree and whether it had uncommitted changes (None outside git)."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30)

    head = git("rev-parse", "HEAD")
    if head.returncode != 0:
        return {"commit": None, "dirty": None}
    dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip() != ""
    return {"commit": head.stdout.strip(), "dirty": dirty}


def package_versions() -> dict:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def gpu_name() -> str | None:
    try:
        import torch
        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:  # provenance must never break a run
        return None


def _store_index(cfg: dict, dataset_dir: Path) -> dict | None:
    """The index of the clip store the steps read for this dataset (data.store), if any."""
    cache = cfg.get("paths", {}).get("cache")
    if cache is None:  # a partial config (test doubles) names no cache
        return None
    d = Path(cache) / cfg["profile"] / dataset_dir.name / "clips"
    return read_json(d / "index.json") if (d / "index.json").exists() else None


def record(cfg: dict, *, dataset_dir: str | Path | None = None,
           motion_settings: list[str | Path] | None = None,
           checkpoint: str | Path | None = None, seed: int | None = None,
           started: float | None = None, **extra) -> dict:
    """The provenance block of a metrics file.

    dataset_dir: its manifest.json hash is recorded; motion_settings: settings.json files of the
    motion caches used (their `settings_hash`); checkpoint: the sha256 of the file read.
    """
    prov = {
        "git": git_state(),
        "params_hash": params_hash(cfg),
        "profile": cfg.get("profile"),
        "packages": package_versions(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "gpu": gpu_name(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "seed": seed,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if started is not None:
        prov["wall_time_s"] = round(time.time() - started, 3)
    if dataset_dir is not None:
        prov["dataset"] = {"dir": str(dataset_dir),
                           "manifest_hash": read_json(Path(dataset_dir) / "manifest.json")["hash"]}
        store = _store_index(cfg, Path(dataset_dir))
        if store is not None:  # the clip store's link in the chain (on or off)
            prov["dataset"]["store_hash"] = store["hash"]
    if motion_settings:
        prov["motion"] = {str(p): read_json(p)["settings_hash"] for p in motion_settings}
    if checkpoint is not None:
        prov["checkpoint"] = {"path": str(checkpoint), "sha256": sha256_file(checkpoint)}
    prov.update(extra)
    return prov
