"""Weight initialisers applied with `module.apply(...)`: linear weights drawn by the named rule,
biases zero, LayerNorm weight 1 / bias 0."""
from __future__ import annotations

from typing import Callable

import torch
from timm.layers import trunc_normal_
from torch import nn


def _linear_and_norm(m: nn.Module, weight_init: Callable[[torch.Tensor], object]) -> None:
    if isinstance(m, nn.Linear):
        weight_init(m.weight)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


def init_xavier(m: nn.Module) -> None:
    """Xavier-uniform linear weights (MAE / VideoMAE ViTs and decoder)."""
    _linear_and_norm(m, nn.init.xavier_uniform_)


def init_trunc_normal(m: nn.Module) -> None:
    """Truncated-normal (std 0.02, timm's) linear weights (Swin, heads)."""
    _linear_and_norm(m, lambda w: trunc_normal_(w, std=0.02))
