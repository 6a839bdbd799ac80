"""Optimizer and learning-rate schedule from a method's OptimSpec."""
from __future__ import annotations

import math

import torch
from torch import nn

from motionmvm.methods.spec import OptimSpec


def _no_decay(name: str, p: nn.Parameter) -> bool:
    """Biases, norm scales and tokens (1-D or named *token / pos*) get no weight decay (MAE)."""
    return p.ndim <= 1 or name.endswith("token") or "pos_embed" in name


def encoder_lr_mult(model: nn.Module, spec: OptimSpec) -> float:
    """The model's own `encoder_lr_mult` when it sets one (DEMVM: the stratified rate only with 2D
    init), else the spec's."""
    return float(getattr(model, "encoder_lr_mult", spec.encoder_lr_mult))


def param_groups(model: nn.Module, spec: OptimSpec, lr: float) -> list[dict]:
    """Groups by (encoder or not) x (decay or not); the encoder gets lr * encoder_lr_mult."""
    mult = encoder_lr_mult(model, spec)
    groups: dict[tuple[bool, bool], dict] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        enc = name.startswith("encoder.")
        nd = _no_decay(name, p)
        g = groups.setdefault((enc, nd), {
            "params": [], "lr": lr * (mult if enc else 1.0),
            "weight_decay": 0.0 if nd else spec.weight_decay})
        g["params"].append(p)
    return [groups[k] for k in sorted(groups)]


def build_optimizer(model: nn.Module, spec: OptimSpec, global_batch: int,
                    lr_mult: float = 1.0) -> torch.optim.Optimizer:
    """`lr_mult` (params `pretrain.lr_mult`, 1 = the paper's recipe) lets tiny CPU budgets learn."""
    lr = lr_mult * (spec.base_lr * global_batch / 256 if spec.scale_lr_by_batch else spec.base_lr)
    groups = param_groups(model, spec, lr)
    if spec.name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=spec.betas)
    if spec.name == "adam":
        # Adam with L2 regularisation (torch's weight_decay), as DEMVM's "Adam, wd 1e-5" reads.
        return torch.optim.Adam(groups, lr=lr, betas=spec.betas)
    raise ValueError(f"optimizer {spec.name!r} is not supported; use 'adamw' or 'adam'")


def warmup_cosine(warmup_steps: int, total_steps: int, min_ratio: float):
    """Multiplier of the peak lr at step s: linear warmup from ~0, then cosine to min_ratio."""

    def fn(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return fn


def build_scheduler(optimizer, spec: OptimSpec, warmup_steps: int, total_steps: int):
    return torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(warmup_steps, total_steps,
                                                                      spec.min_lr_ratio))
