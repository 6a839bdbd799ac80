"""Motion-free strategies: random (ST-MAE), tube (VideoMAE), block (static spatial block), frame.

None takes motion inputs. Masked counts are exact: floor(ratio * n) tokens (VideoMAE's
int(ratio * n)), n = T'H'W' (random), H'W' per time step (tube, block) or T' (frame).
"""
from __future__ import annotations

import numpy as np

from motionmvm.masking._common import (block_height, check_batch, check_generator, check_grid,
                                       check_ratio, masked_count, random_subset, rectangles)
from motionmvm.masking.registry import register


def _args(name, grid, ratio, generator, batch):
    return (check_grid(grid, name), check_ratio(ratio, name), check_generator(generator, name),
            check_batch(batch, name))


@register("random")
def random_mask(grid, ratio, *, generator, batch=1):
    """ST-MAE random space-time masking: exactly floor(ratio*T'H'W') tokens of each clip, chosen
    uniformly over all space-time positions. -> bool [B, T', H', W']."""
    (t, h, w), ratio, g, b = _args("random", grid, ratio, generator, batch)
    k = masked_count(ratio, t * h * w)
    return random_subset(g, (b, t * h * w), k).reshape(b, t, h, w)


@register("tube")
def tube_mask(grid, ratio, *, generator, batch=1):
    """VideoMAE tube masking: one random spatial map with exactly floor(ratio*H'W') masked
    tokens, repeated over all T' time steps. -> bool [B, T', H', W']."""
    (t, h, w), ratio, g, b = _args("tube", grid, ratio, generator, batch)
    k = masked_count(ratio, h * w)
    spatial = random_subset(g, (b, h * w), k).reshape(b, 1, h, w)
    return np.repeat(spatial, t, axis=1)


@register("block")
def block_mask(grid, ratio, *, generator, batch=1, aspect_jitter: float = 0.0):
    """One large spatial block at a random position, repeated over time (tube-like; MAR Fig 3b
    "block", MGM's static "random block").

    The block holds exactly floor(ratio*H'W') tokens: near-square of width round(sqrt(n)) (at
    most W'), full rows plus one partial row. `aspect_jitter` > 0 draws the width uniformly
    within +-aspect_jitter * width (log-uniform would also do; the papers give no detail).
    -> bool [B, T', H', W'].
    """
    (t, h, w), ratio, g, b = _args("block", grid, ratio, generator, batch)
    k = masked_count(ratio, h * w)
    if k == 0:
        return np.zeros((b, t, h, w), dtype=bool)
    min_w = -(-k // h)  # narrowest width whose rows still fit in H'
    width = np.full(b, np.clip(int(round(np.sqrt(k))), min_w, w))
    if aspect_jitter > 0:
        jit = g.uniform(-aspect_jitter, aspect_jitter, size=b) * width
        width = np.clip(np.round(width + jit).astype(np.int64), min_w, w)
    rows = block_height(k, width)
    y0 = np.floor(g.random(b) * (h - rows + 1)).astype(np.int64)
    x0 = np.floor(g.random(b) * (w - width + 1)).astype(np.int64)
    spatial = rectangles((h, w), y0, x0, width, k)[:, None]
    return np.repeat(spatial, t, axis=1)


@register("frame")
def frame_mask(grid, ratio, *, generator, batch=1):
    """Whole-frame masking: exactly floor(ratio*T') token time steps fully masked, the others
    fully visible. -> bool [B, T', H', W']."""
    (t, h, w), ratio, g, b = _args("frame", grid, ratio, generator, batch)
    steps = random_subset(g, (b, t), masked_count(ratio, t))
    return np.broadcast_to(steps[:, :, None, None], (b, t, h, w)).copy()
