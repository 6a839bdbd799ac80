"""Read a released checkpoint as a flat state dict, safely.

Accepted: a `.pth/.pt/.bin` file (read with `torch.load(weights_only=True)`: tensors and plain
containers only, no code), a `.safetensors` file, or a `transformers` `save_pretrained` directory
(`config.json` + `model.safetensors` or `pytorch_model.bin`). Wrappers are peeled off: the
VideoMAE / MGMAE / MME training scripts save `{"model": state_dict, "optimizer": ..., "args":
Namespace(...)}` (or `module` for DDP), and DDP prefixes keys with `module.`.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from motionmvm.io import sha256_file, sha256_json

WRAPPERS = ("model", "module", "state_dict", "model_state")


class CheckpointError(ValueError):
    """A checkpoint that cannot be imported; the message names the key or file and the fix."""


def _load_torch(path: Path) -> dict:
    # argparse.Namespace is how the official training scripts store their arguments beside the
    # weights; it is plain data, so it is the one class allowed besides tensors and containers.
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors come in many types; all mean "not a safe weights file"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not readable as weights only ({first}); export the state dict "
                           "alone with torch.save(model.state_dict(), path)") from exc


def _load_safetensors(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path))


def unwrap(obj) -> dict:
    """The tensor mapping inside a checkpoint: peel {"model": ...}-style wrappers and `module.`."""
    while isinstance(obj, dict) and not any(torch.is_tensor(v) for v in obj.values()):
        inner = next((obj[k] for k in WRAPPERS if isinstance(obj.get(k), dict)), None)
        if inner is None:
            raise CheckpointError(f"no weights found: the checkpoint's top-level keys are {sorted(obj)[:8]}; "
                               f"expected a state dict or one of {list(WRAPPERS)} holding it")
        obj = inner
    if not isinstance(obj, dict):
        raise CheckpointError(f"expected a state dict, got {type(obj).__name__}")
    sd = {k: v for k, v in obj.items() if torch.is_tensor(v)}
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd


def read(path: str | Path) -> tuple[dict, dict]:
    """(state dict, source) where source = {path, sha256, format, hf_config (or None)}.

    sha256 is of the weights file (for a directory: of its weights file and config.json together)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    hf_config = None
    if path.is_dir():
        cfg_file = path / "config.json"
        weights = next((path / n for n in ("model.safetensors", "pytorch_model.bin") if (path / n).is_file()), None)
        if not cfg_file.is_file() or weights is None:
            raise CheckpointError(f"{path}: a transformers directory needs config.json and model.safetensors "
                               "(or pytorch_model.bin)")
        hf_config = json.loads(cfg_file.read_text())
        raw = _load_safetensors(weights) if weights.suffix == ".safetensors" else _load_torch(weights)
        digest = sha256_json({"weights": sha256_file(weights), "config": sha256_file(cfg_file)})
        fmt = "transformers-dir"
    else:
        raw = _load_safetensors(path) if path.suffix == ".safetensors" else _load_torch(path)
        digest = sha256_file(path)
        fmt = "safetensors" if path.suffix == ".safetensors" else "torch"
    return unwrap(raw), {"path": str(path), "sha256": digest, "format": fmt, "hf_config": hf_config}
