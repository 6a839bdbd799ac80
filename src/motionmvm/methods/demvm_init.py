"""DEMVM's 2D initialisation (paper 000, sec. 3.4): an ImageNet Swin inflated into the Video Swin
encoder. `model.swin_init` is a local state dict file (torch.save of a timm Swin) or a timm model
name (e.g. `swin_base_patch4_window7_224.ms_in22k_ft_in1k`), whose pretrained weights timm fetches
(needs internet, or timm's / Hugging Face's local cache). The result says which init was used;
the pretraining run writes it to metrics.json as `encoder_2d_init`.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from torch import nn

_FILE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".tar")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _timm_state_dict(name: str) -> dict:
    import timm

    if not timm.is_model(name.split(".")[0]):
        raise ValueError(f"model.swin_init {name!r} is neither an existing file nor a timm model name; "
                         "give a torch.save'd timm Swin state dict or a name from timm.list_models('swin*')")
    try:
        return timm.create_model(name, pretrained=True).state_dict()
    except Exception as exc:  # hub / network errors come in many types; one line says what to do
        raise RuntimeError(f"model.swin_init: timm could not fetch the pretrained weights of {name!r} "
                           f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                           "on a machine without internet save them with torch.save elsewhere and "
                           "give that file's path") from None


def init_encoder(encoder: nn.Module, swin_init: str | None) -> dict:
    """Inflate `swin_init` into `encoder` (no-op for None) -> the record for metrics.json:
    {"kind": "none"} | {"kind": "file", "path", "sha256"} | {"kind": "timm", "name"}."""
    from motionmvm.models.swin3d import load_inflated

    if not swin_init:
        return {"kind": "none"}
    path = Path(str(swin_init)).expanduser()
    if path.is_file():
        load_inflated(encoder, path)
        return {"kind": "file", "path": str(path.resolve()), "sha256": sha256(path)}
    if path.suffix in _FILE_SUFFIXES or path.is_dir():
        raise FileNotFoundError(f"model.swin_init: no state dict file at {path}; give an existing "
                                "torch.save'd timm Swin state dict or a timm model name")
    load_inflated(encoder, _timm_state_dict(str(swin_init)))
    return {"kind": "timm", "name": str(swin_init)}
