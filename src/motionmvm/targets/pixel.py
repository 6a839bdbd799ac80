"""VideoMAE pixel target: per-patch normalised pixels of each tubelet x p x p cube."""
from __future__ import annotations

import torch
from einops import rearrange


def patchify(video: torch.Tensor, patch: int, tubelet: int = 2) -> torch.Tensor:
    """video [B, C, T, H, W] -> cubes [B, L, tubelet*patch*patch, C], L = T'H'W' in (t, h, w)
    order (the mask's flattening order)."""
    b, c, t, h, w = video.shape
    if t % tubelet or h % patch or w % patch:
        raise ValueError(f"video {t}x{h}x{w} is not divisible into {tubelet}x{patch}x{patch} cubes")
    return rearrange(video, "b c (t p0) (h p1) (w p2) -> b (t h w) (p0 p1 p2) c",
                     p0=tubelet, p1=patch, p2=patch)


def pixel_target(video: torch.Tensor, patch: int = 16, tubelet: int = 2, norm: bool = True,
                 eps: float = 1e-6) -> torch.Tensor:
    """VideoMAE target [B, L, tubelet*patch*patch*C].

    video: [B, C, T, H, W] pixel values (VideoMAE un-does the ImageNet normalisation first, so
    pass values in [0, 1]). With `norm`, each cube is normalised per channel over its
    tubelet*p*p pixels: (x - mean) / (std + eps), std unbiased (as VideoMAE); the result is
    flattened (pixel-major, channel-minor).
    """
    cubes = patchify(video.float(), patch, tubelet)
    if norm:
        mean = cubes.mean(dim=-2, keepdim=True)
        std = cubes.var(dim=-2, unbiased=True, keepdim=True).sqrt()
        cubes = (cubes - mean) / (std + eps)
    return cubes.flatten(2)
