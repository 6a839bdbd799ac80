"""Clip transforms. Every random choice is drawn once per clip and applied to all its frames
(torchvision v2 transforms treat the leading T dimension of [T, C, H, W] as a batch of images that
share one set of parameters), so the motion in a clip is never broken by per-frame augmentation.
"""
from __future__ import annotations

import torch
from torchvision.transforms import v2

from motionmvm.data.clips import normalize_tchw as normalize  # the clip path's normalisation
from motionmvm.normalize import IMAGENET_MEAN as MEAN  # eval.mar and tests import these names
from motionmvm.normalize import IMAGENET_STD as STD


class TrainTransform:
    """Random resized crop, optional horizontal flip, RandAugment(n, m), then normalisation and
    random erasing: uint8 [T, 3, H, W] -> float [3, T, size, size].

    hflip: VideoMAE flips with p 0.5 on K400/UCF101 but not on SSv2, whose classes (like the
    embedded benchmark's direction classes) change meaning under a mirror.
    RandAugment: torchvision's (fixed magnitude m; timm's `mstd` jitter has no equivalent there).
    Random erasing: one box per clip, filled with per-pixel normal noise ("pixel" mode).
    """

    def __init__(self, size: int, crop_scale: tuple[float, float], hflip: float, randaug_n: int,
                 randaug_m: int, reprob: float):
        ops = [v2.RandomResizedCrop(size, scale=tuple(crop_scale), antialias=True)]
        if hflip > 0:
            ops.append(v2.RandomHorizontalFlip(hflip))
        if randaug_n > 0:
            ops.append(v2.RandAugment(num_ops=randaug_n, magnitude=randaug_m))
        self.spatial = v2.Compose(ops)
        self.erase = v2.RandomErasing(p=reprob, value="random") if reprob > 0 else None

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        x = normalize(self.spatial(frames))          # [3, T, H, W]
        if self.erase is not None:
            x = self.erase(x.permute(1, 0, 2, 3)).permute(1, 0, 2, 3).contiguous()
        return x
