"""Loading the encoder under evaluation and wrapping it in a classifier.

encoder.pt (written by pretraining, and by `finetune --method scratch`) is a dict
`{"model": <registry name>, "config": {<config overrides>}, "state_dict": {...}}`; the encoder is
rebuilt with `motionmvm.models.build(model, **config)`.
Reference rows: `random_init` and `scratch` rebuild the same architecture with fresh, seeded
weights (the checkpoint is read for its architecture only).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

REFERENCE_METHODS = ("random_init", "scratch")
I3D_HEAD = "i3d_head"  # models-area registry name of the Video Swin head


def read_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no encoder checkpoint at {path}")
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    missing = {"model", "config", "state_dict"} - set(ckpt if isinstance(ckpt, dict) else {})
    if missing:
        raise ValueError(f"{path}: an encoder checkpoint needs keys model, config, state_dict; lacks {sorted(missing)}")
    return ckpt


def build_encoder(ckpt: dict, *, pretrained: bool, seed: int, **overrides) -> nn.Module:
    """The encoder of `ckpt`, with its weights (pretrained) or freshly initialised from `seed`."""
    from motionmvm import models

    torch.manual_seed(seed)
    enc = models.build(ckpt["model"], **{**ckpt["config"], **overrides})
    if pretrained:
        enc.load_state_dict(ckpt["state_dict"])
    return enc


def save_encoder(path: str | Path, ckpt_like: dict, encoder: nn.Module) -> None:
    """Write an encoder checkpoint in the format above (atomically)."""
    from motionmvm.io import atomic_path

    config = {k: v for k, v in ckpt_like["config"].items()}
    with atomic_path(path) as tmp:
        torch.save({"model": ckpt_like["model"], "config": config,
                    "state_dict": {k: v.detach().cpu() for k, v in encoder.state_dict().items()}}, tmp)


def input_shape(encoder: nn.Module) -> tuple[int, int]:
    """(frames, size) of the clips the encoder takes, from its config dataclass."""
    cfg = getattr(encoder, "cfg", None)
    if cfg is None or not hasattr(cfg, "num_frames") or not hasattr(cfg, "img_size"):
        raise ValueError(f"{type(encoder).__name__} has no cfg.num_frames / cfg.img_size: cannot tell its input size")
    return int(cfg.num_frames), int(cfg.img_size)


def num_layers(encoder: nn.Module) -> int:
    """Transformer depth for layer-wise lr decay (0 = no `blocks`: decay off)."""
    blocks = getattr(encoder, "blocks", None)
    return len(blocks) if isinstance(blocks, nn.ModuleList) else 0


class VideoClassifier(nn.Module):
    """encoder.forward_features (mean-pooled [B, D]) -> dropout -> linear head -> logits [B, K].

    ViT: linear head initialised small (VideoMAE's init_scale 0.001) so the pretrained features are
    not disturbed early. Video Swin: the models area's I3D head (`head="i3d"`).
    """

    def __init__(self, encoder: nn.Module, embed_dim: int, num_classes: int, head_dropout: float,
                 head: str = "linear"):
        super().__init__()
        self.encoder = encoder
        if head == "i3d":
            from motionmvm import models

            self.head = models.build(I3D_HEAD, in_dim=embed_dim, num_classes=num_classes)
            self.dropout = nn.Identity()
        elif head == "linear":
            self.dropout = nn.Dropout(head_dropout)
            self.head = nn.Linear(embed_dim, num_classes)
            nn.init.trunc_normal_(self.head.weight, std=2e-5)
            nn.init.zeros_(self.head.bias)
        else:
            raise ValueError(f"head must be 'linear' or 'i3d', got {head!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [B, C, T, H, W] -> logits [B, K]."""
        return self.head(self.dropout(self.encoder.forward_features(x)))


def head_kind(model_name: str) -> str:
    return "i3d" if "swin" in model_name else "linear"


def embed_dim(encoder: nn.Module) -> int:
    d = getattr(encoder, "embed_dim", None) or getattr(getattr(encoder, "cfg", None), "embed_dim", None)
    if d is None:
        raise ValueError(f"{type(encoder).__name__} exposes no embed_dim")
    return int(d)
