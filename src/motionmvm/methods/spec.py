"""What a pretraining method is: masking + target + model pieces + optimizer recipe."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from torch import nn

# Masking strategy -> the motion cache kind its motion input comes from by default.
MASK_MOTION = {"fgdm": "klt", "mgm": "mv", "mgm_sparse": "mv", "mgmae": "flow"}
# Strategies whose params entry chooses the guidance cache (`masking.mgm.guidance: mv | flow`).
GUIDED = {"mgm": "mgm", "mgm_sparse": "mgm"}
GUIDANCE_KINDS = ("mv", "flow")


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

    `mask_fn(grid, epoch, rng, motion, masking_cfg) -> np.bool_ [T', H', W']` (epoch: training
    progress in fractional epochs, step / steps_per_epoch) draws one sample's
    mask (True = masked) from the numpy generator `rng`; `motion` holds the clip's motion inputs
    (from the caches named in `motion_kinds`, the defaults; `motion_caches(masking_cfg)` applies
    the params' choice of guidance, e.g. MGM's optical-flow ablation); the ratio and strategy options come from params
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
    pmr: bool = False                # progressive masking ratio, per iteration (DEMVM)
    masking_key: str | None = None   # entry of params `masking` (default: the strategy's name)
    tokens_dir: str = "tokens"       # token targets under cache/P/D/ (DEMVM's 2D ablation: tokens2d)
    description: str = ""

    def mask_motion(self, masking_cfg: dict | None = None) -> str | None:
        """The motion cache kind the masking strategy reads under params `masking` (None: none).

        MGM reads codec motion vectors (`mv`) unless `masking.mgm.guidance` is `flow` (the paper's
        optical-flow ablation, from the `flow` cache)."""
        kind = MASK_MOTION.get(self.masking)
        key = GUIDED.get(self.masking)
        if key and masking_cfg and key in masking_cfg:
            kind = masking_cfg[key].get("guidance", kind)
            if kind not in GUIDANCE_KINDS:
                raise ValueError(f"masking.{key}.guidance must be one of {GUIDANCE_KINDS}, got {kind!r}")
        return kind

    def motion_caches(self, masking_cfg: dict | None = None) -> tuple[str, ...]:
        """Every motion cache the method reads under params `masking` (masking input first, then
        the target's, e.g. MME's `traj`); what the pretrain rule / stage must depend on."""
        default = MASK_MOTION.get(self.masking)
        chosen = self.mask_motion(masking_cfg)
        return tuple(dict.fromkeys(chosen if k == default else k for k in self.motion_kinds))

    def build(self, cfg: dict) -> nn.Module:
        return self.builder(cfg, self)

    def mask_fn(self, grid, epoch: float, rng, motion: dict | None = None,
                masking_cfg: dict | None = None, tubelet: int = 2):
        from motionmvm.methods.masks import draw_mask

        return draw_mask(self, grid, epoch, rng, motion or {}, masking_cfg, tubelet)
