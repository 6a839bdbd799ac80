"""The VideoMAE fine-tuning recipe: AdamW with layer-wise lr decay, warmup + cosine schedule,
mixup/cutmix (timm) with label smoothing.
"""
from __future__ import annotations

import math
import re

import torch
from torch import nn

# A ViT block sits directly under the classifier's encoder (`encoder.blocks.<i>.`); Video Swin's
# `encoder.layers.<s>.blocks.<j>.` must not match (its j restarts in every stage).
_BLOCK = re.compile(r"^(?:encoder\.)?blocks\.(\d+)\.")
_EMBED = ("patch_embed", "pos_embed", "cls_token")


def layer_id(name: str, num_layers: int) -> int:
    """Depth of a parameter for lr decay: embeddings 0, `blocks.i` i + 1, anything after (final
    norm, head) num_layers + 1. Names are those of the classifier (`encoder.blocks.3.attn...`)."""
    m = _BLOCK.search(name)
    if m:
        return int(m.group(1)) + 1
    if any(part in name.split(".") for part in _EMBED):
        return 0
    return num_layers + 1


def param_groups_llrd(model: nn.Module, weight_decay: float, layer_decay: float,
                      num_layers: int) -> list[dict]:
    """AdamW groups with `lr_scale = layer_decay ** (num_layers + 1 - layer_id)` (VideoMAE's
    layer-wise decay for a ViT of `num_layers` blocks); `num_layers=0` switches the decay off:
    every parameter gets lr_scale 1.0 (Video Swin: its official fine-tuning configs use no
    layer-wise decay, see docs/fidelity.md).

    Biases, norms and other 1-D parameters and position embeddings get no weight decay (VideoMAE).
    """
    groups: dict[tuple, dict] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        no_wd = p.ndim == 1 or name.endswith(".bias") or "pos_embed" in name or "token" in name
        lid = layer_id(name, num_layers) if num_layers > 0 else 0
        key = (lid, no_wd)
        if key not in groups:
            groups[key] = {"params": [], "param_names": [], "weight_decay": 0.0 if no_wd else weight_decay,
                           "lr_scale": layer_decay ** (num_layers + 1 - lid) if num_layers > 0 else 1.0,
                           "layer_id": lid}
        groups[key]["params"].append(p)
        groups[key]["param_names"].append(name)
    return [groups[k] for k in sorted(groups)]


def build_optimizer(model: nn.Module, ft: dict, num_layers: int, batch_size: int) -> torch.optim.AdamW:
    """AdamW; lr = base_lr * batch / 256 (the linear scaling rule of VideoMAE/MAE)."""
    groups = param_groups_llrd(model, ft["weight_decay"], ft["layer_decay"], num_layers)
    lr = ft["base_lr"] * batch_size / 256
    for g in groups:
        g.pop("param_names")
        g["lr"] = lr * g["lr_scale"]
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(ft["betas"]))


def lr_at(step: int, total: int, warmup: int, lr: float, min_lr: float) -> float:
    """Linear warmup over `warmup` steps, then half-cosine from lr to min_lr at `total`."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return min_lr + (lr - min_lr) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for g in optimizer.param_groups:
        g["lr"] = lr * g.get("lr_scale", 1.0)


class ClipMixup:
    """timm Mixup/CutMix for clips x: [B, C, T, H, W] (one box for all frames of a clip).

    timm's cutmix slices dims (2, 3) as (H, W); a clip is viewed as [B, C*T, H, W] so that the box
    lands on H, W and covers every frame. Returns soft targets [B, K] that include label smoothing.
    With mixup and cutmix both off, plain smoothed one-hot targets are returned.
    """

    def __init__(self, num_classes: int, mixup: float, cutmix: float, prob: float,
                 switch_prob: float, label_smoothing: float):
        from timm.data import Mixup

        self.num_classes = num_classes
        self.smoothing = label_smoothing
        self.active = (mixup > 0 or cutmix > 0) and prob > 0
        self.mixup = Mixup(mixup_alpha=mixup, cutmix_alpha=cutmix, prob=prob, switch_prob=switch_prob,
                           mode="batch", label_smoothing=label_smoothing,
                           num_classes=num_classes) if self.active else None

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.ndim != 5:
            raise ValueError(f"ClipMixup expects clips [B, C, T, H, W], got {tuple(x.shape)}")
        if not self.active:
            off = self.smoothing / self.num_classes
            target = torch.full((len(y), self.num_classes), off, device=x.device)
            target.scatter_(1, y[:, None], 1.0 - self.smoothing + off)
            return x, target
        if len(x) % 2:
            raise ValueError(f"mixup needs an even batch, got {len(x)} (use drop_last batches)")
        b, c, t, h, w = x.shape
        flat = x.reshape(b, c * t, h, w).clone()
        flat, target = self.mixup(flat, y)
        return flat.reshape(b, c, t, h, w), target


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """logits, target: [B, K] -> mean over the batch of -sum target * log_softmax."""
    return torch.sum(-target * torch.log_softmax(logits, dim=-1), dim=-1).mean()
