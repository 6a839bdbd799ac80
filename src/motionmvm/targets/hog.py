"""HOG (histograms of oriented gradients) per patch, vectorised in torch.

Gradients are central differences [-1, 0, 1] (borders replicated), orientation unsigned
([0, pi), as Dalal-Triggs / skimage) or signed ([0, 2 pi)), hard-assigned to `bins` equal bins
and weighted by the gradient magnitude, summed over `cell` x `cell` pixel cells.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange


def orientation_histograms(dx: torch.Tensor, dy: torch.Tensor, bins: int, cell: int,
                           signed: bool) -> torch.Tensor:
    """Magnitude-weighted orientation histograms of the vectors (dx, dy) [N, C, H, W] per cell
    -> [N, C, bins, H/cell, W/cell]."""
    n, c, h, w = dx.shape
    if h % cell or w % cell:
        raise ValueError(f"image {h}x{w} is not divisible into {cell}x{cell} cells")
    mag = torch.sqrt(dx * dx + dy * dy)
    period = 2 * math.pi if signed else math.pi
    ang = torch.remainder(torch.atan2(dy, dx), period)
    idx = torch.clamp((ang / (period / bins)).long(), max=bins - 1)
    hist = torch.zeros(n, c, bins, h, w, dtype=mag.dtype, device=mag.device)
    hist.scatter_(2, idx.unsqueeze(2), mag.unsqueeze(2))
    return F.avg_pool2d(hist.reshape(n, c * bins, h, w), cell, divisor_override=1).reshape(
        n, c, bins, h // cell, w // cell)


def image_gradients(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Central differences of img [N, C, H, W] (replicated borders) -> (dx, dy)."""
    p = F.pad(img, (1, 1, 1, 1), mode="replicate")
    dx = p[:, :, 1:-1, 2:] - p[:, :, 1:-1, :-2]
    dy = p[:, :, 2:, 1:-1] - p[:, :, :-2, 1:-1]
    return dx, dy


def hog_cells(img: torch.Tensor, bins: int = 9, cell: int = 8, signed: bool = False) -> torch.Tensor:
    """HOG of each channel of img [N, C, H, W] -> [N, C, bins, H/cell, W/cell]."""
    dx, dy = image_gradients(img.float())
    return orientation_histograms(dx, dy, bins, cell, signed)


def cells_to_tokens(cells: torch.Tensor, b: int, patch: int, cell: int, tubelet: int,
                    eps: float = 1e-6) -> torch.Tensor:
    """Per-frame cell histograms [B*T, C, K, H/cell, W/cell] -> tokens [B, L, D].

    Each patch's block of (patch/cell)^2 cells is L2-normalised per frame and channel (block
    normalisation as in MaskFeat's HOG target), then the tubelet's frames are concatenated.
    D = tubelet * C * (patch/cell)^2 * K."""
    if patch % cell:
        raise ValueError(f"patch {patch} is not a multiple of the HOG cell {cell}")
    q = patch // cell
    x = rearrange(cells, "(b t) c k (h q1) (w q2) -> b t h w c (q1 q2 k)", b=b, q1=q, q2=q)
    x = x / (x.norm(dim=-1, keepdim=True) + eps)
    if x.shape[1] % tubelet:
        raise ValueError(f"{x.shape[1]} frames are not divisible by tubelet {tubelet}")
    return rearrange(x, "b (t p0) h w c d -> b (t h w) (p0 c d)", p0=tubelet)


def hog_target(video: torch.Tensor, patch: int = 16, tubelet: int = 2, bins: int = 9,
               cell: int = 8) -> torch.Tensor:
    """HOG target [B, L, tubelet * C * (patch/cell)^2 * bins] of video [B, C, T, H, W]
    (per RGB channel as MaskFeat; unsigned orientations, 9 bins, 8 x 8 cells as MME's HOG)."""
    b, c, t, h, w = video.shape
    frames = rearrange(video, "b c t h w -> (b t) c h w")
    return cells_to_tokens(hog_cells(frames, bins, cell), b, patch, cell, tubelet)
