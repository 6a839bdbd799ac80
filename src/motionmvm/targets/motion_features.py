"""Dense-flow targets of the MME ablations: flow, HOF and MBH per patch.

flow: [B, 2, T, H, W], (dx, dy) in pixels, entry t = forward flow of clip frame t (MME uses the
stride-1 flow of the dense video at each sampled frame: "t -> t+1" of the raw video). Token step
k uses clip frames tubelet*k ...; the layout of each token's vector is (frame, channel, cell,
bin).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange

from motionmvm.targets.hog import cells_to_tokens, image_gradients, orientation_histograms


def _check(flow: torch.Tensor) -> torch.Tensor:
    if flow.ndim != 5 or flow.shape[1] != 2:
        raise ValueError(f"flow must be [B, 2, T, H, W], got {tuple(flow.shape)}")
    return flow.float()


def flow_target(flow: torch.Tensor, patch: int = 16, tubelet: int = 2, cell: int = 8) -> torch.Tensor:
    """Mean flow per cell: [B, L, tubelet * 2 * (patch/cell)^2]."""
    flow = _check(flow)
    b, _, t, h, w = flow.shape
    q = patch // cell
    x = F.avg_pool3d(flow, (1, cell, cell))                         # [B, 2, T, H/c, W/c]
    return rearrange(x, "b c (t p0) (h q1) (w q2) -> b (t h w) (p0 c q1 q2)", p0=tubelet, q1=q, q2=q)


def hof_target(flow: torch.Tensor, patch: int = 16, tubelet: int = 2, bins: int = 9,
               cell: int = 8) -> torch.Tensor:
    """Histograms of optical flow: signed flow orientation ([0, 2 pi), `bins` bins) weighted by
    flow magnitude, per cell, L2-normalised per patch block -> [B, L, tubelet*(patch/cell)^2*bins]."""
    flow = _check(flow)
    b = flow.shape[0]
    f = rearrange(flow, "b c t h w -> (b t) c h w")
    cells = orientation_histograms(f[:, :1], f[:, 1:], bins, cell, signed=True)
    return cells_to_tokens(cells, b, patch, cell, tubelet)


def mbh_target(flow: torch.Tensor, patch: int = 16, tubelet: int = 2, bins: int = 9,
               cell: int = 8) -> torch.Tensor:
    """Motion boundary histograms: HOG (signed, as Wang et al.'s MBH) of the x and y flow
    components (MBHx, MBHy) -> [B, L, tubelet * 2 * (patch/cell)^2 * bins]."""
    flow = _check(flow)
    b = flow.shape[0]
    f = rearrange(flow, "b c t h w -> (b t) c h w")
    dx, dy = image_gradients(f)
    cells = orientation_histograms(dx, dy, bins, cell, signed=True)
    return cells_to_tokens(cells, b, patch, cell, tubelet)
