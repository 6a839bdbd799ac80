"""Checkpoints that restore a run exactly and load with `torch.load(weights_only=True)`.

Holds model, optimizer, scheduler and scaler state, the global step (= position in the data order,
see order.StepOrder) and the RNG states of python, numpy and torch (CPU and CUDA), all stored as
tensors or plain python types. Writes are atomic (write to a temporary file, then rename).
"""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from motionmvm.io import atomic_torch_save


def rng_state() -> dict:
    py = random.getstate()
    np_state = np.random.get_state()
    state = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": {"key": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    v, internal, gauss = state["python"]
    random.setstate((v, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(path: str | Path, *, model, optimizer, scheduler, scaler, step: int, meta: dict) -> None:
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "step": int(step),
        "rng": rng_state(),
        "meta": meta,
    }
    atomic_torch_save(state, path)


def load(path: str | Path, *, model, optimizer, scheduler, scaler, meta: dict) -> int:
    """Restore everything from `path`; returns the global step to continue from."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("method", "dataset", "seed", "params_hash"):
        if state["meta"].get(key) != meta.get(key):
            raise RuntimeError(f"checkpoint {path} was written with {key}={state['meta'].get(key)!r}, "
                               f"this run has {meta.get(key)!r}; remove it or use another run directory")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    scaler.load_state_dict(state["scaler"])
    set_rng_state(state["rng"])
    return int(state["step"])
