"""Motion-Guided Masking (MGM, paper 004) and its simulated-motion control (SMM).

A near-rectangular block of exactly floor(gamma * H'W') tokens (w0 = h0 = sqrt(gamma H'W'),
paper eq 5/7) moves over the token time steps: MGM centres it on the top-1 motion-magnitude token
of each step, SMM moves it with random velocities. Width jitter s_xt sums to zero over time; the
height follows from the area, so s_yt sums to zero too and the masked area is constant (the
paper's sum-to-zero jitter only keeps the *mean* area; exact constancy is what it asks for).
Sparse variants keep the same per-step count but drop spatial continuity.
"""
from __future__ import annotations

import numpy as np

from motionmvm.masking._common import (as_batched, block_height, check_batch, check_generator,
                                       check_grid, check_ratio, gumbel_topk, masked_count,
                                       place_centred, random_subset, rectangles,
                                       to_token_steps)
from motionmvm.masking.registry import register


def motion_magnitude(grid, batch: int, *, mv=None, mv_missing=None, flow=None, tubelet: int = 2,
                     name: str = "mgm") -> np.ndarray:
    """Per-token motion magnitude [B, T', H', W'] (NaN where a step has no motion data).

    mv: codec motion-vector `field` of the clip's sampled frames, [T, h, w, 2] or [B, T, h, w, 2]
    (mv cache: h = H/4; entry t = forward motion of clip frame t). mv_missing: [T] or [B, T]
    bool, frames without vectors (intra frames) -> treated as unknown, never as zero motion.
    flow: dense optical flow instead of MVs (the paper's "optical flow" guidance ablation),
    [T or T-1, h, w, 2] or batched. Exactly one of mv / flow.
    Space: per frame, a token takes the maximum magnitude of the cells it covers (= the paper's
    top-1 pooling of the nearest-upsampled map, eqs 6-7, at token resolution). Time: the frames of
    one tubelet are averaged, ignoring frames without vectors.
    """
    import torch
    import torch.nn.functional as F

    t, h, w = grid
    if (mv is None) == (flow is None):
        raise ValueError(f"masking {name!r} needs exactly one of mv= (codec motion vectors "
                         f"[T, H/4, W/4, 2]) or flow= (dense flow [T, H, W, 2])")
    what = "mv" if mv is not None else "flow"
    field = as_batched(mv if mv is not None else flow, batch, 4, name, what)
    if field.shape[-1] != 2:
        raise ValueError(f"masking {name!r}: {what} must end with (dx, dy), got shape {field.shape}")
    nb, nf, fh, fw = field.shape[:4]
    vec = torch.from_numpy(np.array(field, dtype=np.float32))   # copy: may be a broadcast view
    mag = torch.linalg.vector_norm(vec, dim=-1).reshape(nb * nf, 1, fh, fw)
    # top-1 magnitude per token (nearest upsampling when the map is coarser than the grid)
    if fh < h or fw < w:
        mag = F.interpolate(mag, size=(h, w), mode="nearest")
    else:
        mag = F.adaptive_max_pool2d(mag, (h, w))
    mag = mag.reshape(nb, nf, h, w).numpy()
    known = np.ones((nb, nf), np.float32)
    if mv_missing is not None:
        missing = as_batched(np.asarray(mv_missing, dtype=bool), batch, 1, name, "mv_missing")
        if missing.shape[1] != nf:
            raise ValueError(f"masking {name!r}: mv_missing has {missing.shape[1]} frames, "
                             f"{what} has {nf}")
        known = (~missing).astype(np.float32)
    # mean over the tubelet's frames that have vectors; NaN where none has
    total = to_token_steps(mag * known[:, :, None, None], t, tubelet, "mean", name, what)
    count = to_token_steps(np.broadcast_to(known[:, :, None, None], mag.shape), t, tubelet,
                           "mean", name, what)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _widths(g, b, t, w0, min_w, max_w, jitter):
    """Widths [B, T']: w0 + offsets with offsets 0 at both ends, so the steps s_xt sum to 0."""
    off = g.integers(-jitter, jitter + 1, size=(b, t)) if jitter > 0 else np.zeros((b, t), int)
    off[:, 0] = 0
    off[:, -1] = 0
    return np.clip(w0 + off, min_w, max_w)


def _shape(grid, ratio, name):
    t, h, w = grid
    k = masked_count(ratio, h * w)
    min_w = max(1, -(-k // h))
    w0 = int(np.clip(round(np.sqrt(ratio * h * w)), min_w, w))
    return k, min_w, w0


def _forward_fill(values: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Replace NaN along axis 1 by the last valid value; `first` [B] fills step 0 if NaN."""
    values = values.copy()
    values[:, 0] = np.where(np.isnan(values[:, 0]), first, values[:, 0])
    idx = np.where(np.isnan(values), 0, np.arange(values.shape[1])[None])
    idx = np.maximum.accumulate(idx, axis=1)
    return np.take_along_axis(values, idx, axis=1)


def _argmax_centres(mag):
    """Token centre (y + 0.5, x + 0.5) of each step's top-1 magnitude; NaN where the step has no
    data or no motion (the block then stays where it was)."""
    b, t, h, w = mag.shape
    flat = np.nan_to_num(mag.reshape(b, t, h * w), nan=-1.0)
    arg = flat.argmax(-1)
    best = np.take_along_axis(flat, arg[..., None], -1)[..., 0]
    cy = (arg // w + 0.5).astype(np.float64)
    cx = (arg % w + 0.5).astype(np.float64)
    none = best <= 0
    cy[none] = np.nan
    cx[none] = np.nan
    return cy, cx


def _blocks(grid, k, widths, cy, cx):
    t, h, w = grid
    rows = block_height(k, widths)
    y0 = place_centred(cy, rows, h)
    x0 = place_centred(cx, widths, w)
    return rectangles((h, w), y0, x0, widths, k)


def _check(name, grid, ratio, generator, batch):
    return (check_grid(grid, name), check_ratio(ratio, name, "gamma"),
            check_generator(generator, name), check_batch(batch, name))


@register("mgm")
def mgm_mask(grid, ratio, *, generator, batch=1, mv=None, mv_missing=None, flow=None,
             jitter: int = 1, tubelet: int = 2):
    """MGM dense (paper 004, eq 7): the block follows each step's top-1 motion magnitude.

    ratio = gamma (0.75 best). Motion input: see `motion_magnitude` (mv= codec vectors
    [T, H/4, W/4, 2] + optional mv_missing [T], or flow= [T, H, W, 2]; T = clip frames, token
    step k = frames 2k, 2k+1). Step 0 is placed at random (the paper's random x0, y0); step t >= 1
    is centred on the argmax token of step t's motion map (shifted inwards at the borders); a step
    with no vectors or no motion keeps the previous centre. jitter: width offsets drawn from
    [-jitter, jitter] tokens (0 at the first and last step, so sum_t s_xt = 0); masked count per
    step is exactly floor(gamma H'W'). -> bool [B, T', H', W'].
    """
    (t, h, w), gamma, g, b = _check("mgm", grid, ratio, generator, batch)
    mag = motion_magnitude((t, h, w), b, mv=mv, mv_missing=mv_missing, flow=flow,
                           tubelet=tubelet, name="mgm")
    k, min_w, w0 = _shape((t, h, w), gamma, "mgm")
    widths = _widths(g, b, t, w0, min_w, w, jitter)
    rows = block_height(k, widths[:, 0])
    # random top-left corner (integer, block inside the grid), expressed as a centre
    cy0 = g.integers(0, h - rows + 1) + rows / 2.0
    cx0 = g.integers(0, w - widths[:, 0] + 1) + widths[:, 0] / 2.0
    cy, cx = _argmax_centres(mag)
    cy[:, 0], cx[:, 0] = cy0, cx0
    cy, cx = _forward_fill(cy, cy0), _forward_fill(cx, cx0)
    return _blocks((t, h, w), k, widths, cy, cx)


@register("mgm_sparse")
def mgm_sparse_mask(grid, ratio, *, generator, batch=1, mv=None, mv_missing=None, flow=None,
                    tubelet: int = 2):
    """MGM sparse (ablation, Table 4e): per step exactly floor(gamma H'W') tokens drawn without
    replacement with probability proportional to their motion magnitude (Gumbel top-k), so the
    mask follows motion but is spatially discontinuous. The paper gives no formula for the
    sparse variant; this is the natural motion-guided counterpart of random masking. Steps
    without motion data draw uniformly. Motion inputs as in `mgm`. -> bool [B, T', H', W']."""
    (t, h, w), gamma, g, b = _check("mgm_sparse", grid, ratio, generator, batch)
    mag = motion_magnitude((t, h, w), b, mv=mv, mv_missing=mv_missing, flow=flow,
                           tubelet=tubelet, name="mgm_sparse")
    weights = np.nan_to_num(mag, nan=0.0).reshape(b, t, h * w) + 1e-6
    return gumbel_topk(g, weights, masked_count(gamma, h * w)).reshape(b, t, h, w)


def _reflect(x, lo, hi):
    """Fold a path x into [lo, hi] by reflection at the borders (the block bounces)."""
    span = np.maximum(hi - lo, 1e-9)
    y = np.mod(x - lo, 2 * span)
    return lo + np.where(y > span, 2 * span - y, y)


@register("smm")
def smm_mask(grid, ratio, *, generator, batch=1, max_velocity: float = 1.0, jitter: int = 1):
    """SMM dense (paper 004, eq 5): the block starts at a random position and moves with random
    velocities v_xt, v_yt ~ U[-max_velocity, max_velocity] tokens per step (the paper gives no
    range; one token per step = 16 px per 2 frames), bouncing at the borders; width jitter as in
    `mgm` (zero-sum, constant area). No motion input. -> bool [B, T', H', W']."""
    (t, h, w), gamma, g, b = _check("smm", grid, ratio, generator, batch)
    k, min_w, w0 = _shape((t, h, w), gamma, "smm")
    widths = _widths(g, b, t, w0, min_w, w, jitter)
    rows = block_height(k, widths)
    vel = g.uniform(-max_velocity, max_velocity, size=(2, b, t))
    vel[:, :, 0] = 0.0
    start_y = rows[:, 0] / 2.0 + g.random(b) * (h - rows[:, 0])
    start_x = widths[:, 0] / 2.0 + g.random(b) * (w - widths[:, 0])
    cy = _reflect(start_y[:, None] + vel[0].cumsum(1), rows / 2.0, h - rows / 2.0)
    cx = _reflect(start_x[:, None] + vel[1].cumsum(1), widths / 2.0, w - widths / 2.0)
    return _blocks((t, h, w), k, widths, cy, cx)


@register("smm_sparse")
def smm_sparse_mask(grid, ratio, *, generator, batch=1, max_velocity: float = 1.0):
    """SMM sparse (ablation): a random set of exactly floor(gamma H'W') tokens at step 0,
    translated by the rounded cumulative random velocity (as in `smm`) with wrap-around, so the
    count stays exact and the pattern moves rigidly. No motion input. -> bool [B, T', H', W']."""
    (t, h, w), gamma, g, b = _check("smm_sparse", grid, ratio, generator, batch)
    base = random_subset(g, (b, h * w), masked_count(gamma, h * w)).reshape(b, h, w)
    vel = g.uniform(-max_velocity, max_velocity, size=(2, b, t))
    vel[:, :, 0] = 0.0
    dy, dx = np.round(vel.cumsum(2)).astype(np.int64)
    bi = np.arange(b)[:, None, None, None]
    ii = (np.arange(h)[None, None, :, None] - dy[:, :, None, None]) % h
    jj = (np.arange(w)[None, None, None, :] - dx[:, :, None, None]) % w
    return base[bi, ii, jj]
