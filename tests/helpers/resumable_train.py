"""A tiny deterministic, resumable training job for testing the launcher (CPU, numpy, seconds).

`train(out_dir, steps, seed, step_sleep)` fits a linear model by SGD on minibatches drawn from a
seeded generator. After every step it writes `checkpoint.pkl` atomically (weights, step, the
generator's full state), so a run killed at any point and started again with the same arguments
resumes exactly: the final weights are bit-identical to an uninterrupted run. Every start is
appended to `starts.txt` (with the SLURM job id and restart count) so tests can see a resume happened.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import signal
import time
from pathlib import Path

import numpy as np

from motionmvm.io import atomic_write_bytes, write_json

DIM = 8


def _batch(rng: np.random.Generator, w_true: np.ndarray):
    x = rng.standard_normal((16, DIM))
    return x, x @ w_true + 0.01 * rng.standard_normal(16)


def train(out_dir: str, steps: int, seed: int, step_sleep: float = 0.0,
          kill_at_step: int | None = None) -> dict:
    """kill_at_step: SIGKILL this process once, right after that step's checkpoint (a preemption)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "checkpoint.pkl"
    w_true = np.random.default_rng(1234).standard_normal(DIM)
    if ckpt.exists():
        state = pickle.loads(ckpt.read_bytes())
    else:
        state = {"step": 0, "w": np.zeros(DIM), "rng": np.random.default_rng(seed).bit_generator.state}
    with open(out / "starts.txt", "a") as f:
        f.write(f"{state['step']} {os.environ.get('SLURM_JOB_ID', '-')} "
                f"{os.environ.get('SLURM_RESTART_COUNT', '0')} {os.getpid()}\n")
    rng = np.random.default_rng()
    rng.bit_generator.state = state["rng"]
    w = state["w"]
    while state["step"] < steps:
        x, y = _batch(rng, w_true)
        w = w - 0.05 * (2 / len(y)) * x.T @ (x @ w - y)
        state = {"step": state["step"] + 1, "w": w, "rng": rng.bit_generator.state}
        atomic_write_bytes(ckpt, pickle.dumps(state))
        if kill_at_step == state["step"] and not (out / "killed").exists():
            (out / "killed").touch()
            os.kill(os.getpid(), signal.SIGKILL)
        if step_sleep:
            time.sleep(step_sleep)
    result = {"steps": steps, "seed": seed, "w": w.tolist(),
              "w_sha256": hashlib.sha256(w.tobytes()).hexdigest(),
              "slurm_job_id": os.environ.get("SLURM_JOB_ID")}
    write_json(out / "final.json", result)
    return result


def starts(out_dir: str) -> list[list[str]]:
    path = Path(out_dir) / "starts.txt"
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def final(out_dir: str) -> dict:
    return json.loads((Path(out_dir) / "final.json").read_text())
