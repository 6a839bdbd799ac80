"""Flow-Guided Dense Masking of DEMVM (paper 000, eqs 6-14)."""
from __future__ import annotations

import numpy as np

from motionmvm.masking._common import (as_batched, check_batch, check_generator, check_grid,
                                       check_ratio, masked_count, pool_to_grid_max, random_subset,
                                       to_token_steps)
from motionmvm.masking.registry import register


def motion_region(klt, grid, batch: int, tubelet: int = 2) -> np.ndarray:
    """Binary motion region V_p [B, T', H', W'] from KLT motion maps.

    klt: the `motion_map` of the `klt` cache restricted to the clip's sampled frames,
    [T, h, w] (one clip, shared by the batch) or [B, T, h, w], values 0/1 (h = H/8 of the clip).
    T may be T' * tubelet (one map per clip frame: map t is the KLT motion t -> t+1 of the dense
    video), T' * tubelet - 1, or T'. The frames of one tubelet are combined by max (a token moves
    if either of its frames moves). Spatially the map goes to the mask grid H' x W': the paper
    upsamples V_t x8 bilinearly to the mask grid; here a token is in the motion region when any
    KLT cell it covers moved (adaptive max pooling when the map is finer than the grid, nearest
    upsampling when coarser; bilinear upsampling of a binary map thresholded at 0.5 is the same
    region as nearest up to half a cell).
    """
    t, h, w = grid
    arr = as_batched(klt, batch, 3, "fgdm", "klt").astype(np.float32, copy=False)
    arr = to_token_steps(arr, t, tubelet, "max", "fgdm", "klt")
    return pool_to_grid_max(arr, (h, w)) > 0.5


@register("fgdm")
def fgdm_mask(grid, ratio, *, generator, batch=1, klt=None, p_den: float = 0.7,
              p_tmp: float = 0.9, tubelet: int = 2):
    """FGDM: dense masking inside the KLT motion region, sparse outside, on P_tmp of the steps.

    ratio = P_spa (spatial masking ratio; DEMVM schedules it with `pmr`, 0.3 -> 0.8).
    klt: see `motion_region` ([T, h, w] or [B, T, h, w] KLT motion maps of the clip's frames).
    p_den: P_den (P_spr = 1 - P_den); p_tmp: P_tmp, fraction of token time steps that get the
    spatial mask (DEMVM schedules it 0.3 -> 0.9; default = its end value).

    Per token time step t (eqs 8-14): N_den = P_den P_spa H'W', N_spr = P_spr P_spa H'W',
    P_act = N_den / |V_t|, P_bg = N_spr / |1 - V_t|; if either exceeds 1 (or a region is empty)
    the step falls back to random masking with P_act = P_bg = P_spa. M_t = (u <= P_act) V_t +
    (u <= P_bg)(1 - V_t), u ~ U[0, 1) per token. The paper draws "whether M_t applies to frame t
    with P_tmp as the ratio"; here exactly floor(P_tmp * T') token steps (a token spans
    `tubelet` frames, so selection is per token step) are chosen uniformly at random, the other
    steps stay fully visible. -> bool [B, T', H', W'].
    """
    name = "fgdm"
    (t, h, w), p_spa, g, b = (check_grid(grid, name), check_ratio(ratio, name, "P_spa"),
                              check_generator(generator, name), check_batch(batch, name))
    p_den = check_ratio(p_den, name, "p_den")
    p_tmp = check_ratio(p_tmp, name, "p_tmp")
    if klt is None:
        raise ValueError("masking 'fgdm' needs klt= the KLT motion maps of the clip "
                         "([T, H/8, W/8] from the klt cache)")
    region = motion_region(klt, (t, h, w), b, tubelet)                     # [B, T', H', W']
    hw = h * w
    n_act = region.sum(axis=(2, 3), dtype=np.float64)                       # [B, T']
    n_bg = hw - n_act
    with np.errstate(divide="ignore", invalid="ignore"):
        p_act = np.where(n_act > 0, p_den * p_spa * hw / n_act, np.inf)
        p_bg = np.where(n_bg > 0, (1.0 - p_den) * p_spa * hw / n_bg, np.inf)
    fallback = (p_act > 1) | (p_bg > 1)
    p_act = np.where(fallback, p_spa, p_act)[:, :, None, None]
    p_bg = np.where(fallback, p_spa, p_bg)[:, :, None, None]
    u = g.random((b, t, h, w))
    # u < p (u in [0, 1)) masks with probability exactly p, also for p = 0
    spatial = np.where(region, u < p_act, u < p_bg)
    steps = random_subset(g, (b, t), masked_count(p_tmp, t))
    return spatial & steps[:, :, None, None]
