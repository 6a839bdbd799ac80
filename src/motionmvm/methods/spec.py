"""What a pretraining method is: masking + target + model pieces + optimizer recipe."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from torch import nn


@dataclass(frozen=True)
class OptimSpec:
    """A paper's pretraining optimizer recipe.

    lr = base_lr * global_batch / 256 when `scale_lr_by_batch` (VideoMAE's linear scaling rule);
    the encoder's parameters get `encoder_lr_mult * lr` (DEMVM's stratified learning rate); norms,
    biases, position and [MASK] tokens get no weight decay (MAE convention).
    """
    name: str = "adamw"              # adamw | adam
    base_lr: float = 1.5e-4
    scale_lr_by_batch: bool = True
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 0.05
    min_lr_ratio: float = 0.0        # cosine floor as a fraction of the peak lr
    encoder_lr_mult: float = 1.0


@dataclass(frozen=True)
class MethodSpec:
    """One pretraining method.

    `mask_fn(grid, epoch, rng, motion, masking_cfg) -> np.bool_ [T', H', W']` draws one sample's
    mask (True = masked) from the numpy generator `rng`; `motion` holds the clip's motion inputs
    (from the caches named in `motion_kinds`); the ratio and strategy options come from params
    `masking.<masking_key>` when that section has the entry, else `mask_ratio`. `build(cfg) -> nn.Module` whose `forward(batch) -> dict(loss=..., ...)`, with
    batch = {video: [B, C, T, H, W], mask: [B, T', H', W'] bool, ...}.
    """
    name: str
    masking: str
    mask_ratio: float
    target: str
    builder: Callable[[dict, "MethodSpec"], nn.Module]
    optim: OptimSpec = field(default_factory=OptimSpec)
    motion_kinds: tuple[str, ...] = ()
    pmr: bool = False                # progressive masking ratio per epoch (DEMVM)
    masking_key: str | None = None   # entry of params `masking` (default: the strategy's name)
    tokens_dir: str = "tokens"       # token targets under cache/P/D/ (DEMVM's 2D ablation: tokens2d)
    description: str = ""

    def build(self, cfg: dict) -> nn.Module:
        return self.builder(cfg, self)

    def mask_fn(self, grid, epoch: int, rng, motion: dict | None = None,
                masking_cfg: dict | None = None, tubelet: int = 2):
        from motionmvm.methods.masks import draw_mask

        return draw_mask(self, grid, epoch, rng, motion or {}, masking_cfg, tubelet)
