"""Running masks of MAR (paper 003): `cell_running` (the method) and `uniform` running.

No motion inputs. Masks move frame by frame so that every spatial position is visible at a fixed
rate over each period; the period runs over token time steps (T').
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from motionmvm.masking._common import check_batch, check_generator, check_grid, check_ratio
from motionmvm.masking.registry import register

# Raster index of each token of a 2 x 2 cell: (0,0) -> 0, (0,1) -> 1, (1,0) -> 2, (1,1) -> 3. State s
# masks the k tokens s, s+1, ..., s+k-1 (mod 4) in this order, as the official code rotates its
# cell list (models/base/agents.py, CellRunningMaskAgent): at 50% the four states are top row,
# anti-diagonal, bottom row, main diagonal.
# "ring" (option) is this project's earlier reading of Fig. 3(e), "masks run circularly":
# (0,0) -> (0,1) -> (1,1) -> (1,0), at 50% top row, right column, bottom row, left column.
_ORDERS = {"raster": np.array([[0, 1], [2, 3]]), "ring": np.array([[0, 1], [3, 2]])}
_CELL_RATIOS = {1: 0.25, 2: 0.5, 3: 0.75}
TEMPORAL = ("shuffled", "fixed", "shuffled_period")


@register("cell_running")
def cell_running_mask(grid, ratio, *, generator, batch=1, spatial: str = "repeated",
                      temporal: str = "shuffled", start_state: int | None = None,
                      order: str = "raster"):
    """MAR cell running masking with 2 x 2 running cells.

    ratio 0.25 / 0.5 / 0.75 masks 1 / 2 / 3 of the 4 tokens of every cell. State s masks the k
    tokens s .. s+k-1 (mod 4) of the cell in raster order; the state advances by one per token
    time step (A -> B -> C -> D, period 4), so each token is masked in exactly k and visible in
    4 - k of every 4 consecutive steps of the unshuffled sequence.

    spatial: "repeated" (all cells share one random starting state; MAR's training default and
    test mode) or "random" (each cell draws its own starting state).
    temporal: "shuffled" (training default, Table III; as the official code: one random
    permutation of all T' steps of the running sequence per clip, the same for every cell),
    "fixed" (A, B, C, D, ...; test mode) or "shuffled_period" (this project's earlier reading of
    the paper: the 4 states in one random order per clip, repeated every period).
    start_state: force the starting state 0..3 (test mode) instead of drawing it.
    order: "raster" (official) or "ring" (the cell's tokens in circular order).
    Grids with odd H' or W' crop the last cells (their counts are then no longer exact).
    -> bool [B, T', H', W'].
    """
    name = "cell_running"
    (t, h, w), ratio, g, b = (check_grid(grid, name), check_ratio(ratio, name),
                              check_generator(generator, name), check_batch(batch, name))
    k = int(round(ratio * 4))
    if k not in _CELL_RATIOS or abs(_CELL_RATIOS[k] - ratio) > 1e-6:
        raise ValueError(f"masking 'cell_running': ratio must be 0.25, 0.5 or 0.75 with 2x2 "
                         f"cells, got {ratio}")
    if spatial not in ("repeated", "random"):
        raise ValueError(f"masking 'cell_running': spatial must be 'repeated' or 'random', got {spatial!r}")
    if order not in _ORDERS:
        raise ValueError(f"masking 'cell_running': order must be one of {sorted(_ORDERS)}, got {order!r}")
    if temporal not in TEMPORAL:
        raise ValueError(f"masking 'cell_running': temporal must be one of {TEMPORAL}, got {temporal!r}")
    ch, cw = -(-h // 2), -(-w // 2)
    if start_state is not None:
        start = np.full((b, 1, 1), int(start_state) % 4)
    elif spatial == "repeated":
        start = g.integers(0, 4, size=(b, 1, 1))
    else:
        start = g.integers(0, 4, size=(b, ch, cw))
    if temporal == "shuffled":
        steps = np.argsort(g.random((b, t)), axis=1)                    # step t runs as step perm[t]
    elif temporal == "shuffled_period":
        steps = np.argsort(g.random((b, 4)), axis=1)[:, np.arange(t) % 4]
    else:
        steps = np.broadcast_to(np.arange(t), (b, t))
    state = (start[:, None] + steps[:, :, None, None]) % 4              # [B, T', ch|1, cw|1]
    state = np.broadcast_to(state, (b, t, ch, cw))
    state = np.repeat(np.repeat(state, 2, axis=2), 2, axis=3)[:, :, :h, :w]
    pos = np.tile(_ORDERS[order], (ch, cw))[:h, :w]
    return (pos[None, None] - state) % 4 < k


@register("uniform")
def uniform_running_mask(grid, ratio, *, generator, batch=1, max_period: int = 16):
    """MAR uniform running masking (Fig 3c): a spatially uniform pattern shifted by one token
    per time step.

    The ratio is approximated by k / n with n <= max_period (4 for 0.25 / 0.5 / 0.75): token
    (i, j) is masked at step t iff (j + (n // 2) * i + t + phase) mod n < k, so rows interleave
    and every token is masked in exactly k of every n consecutive steps. The random part is one
    phase per clip (the pattern itself is fixed, which is why MAR found it overfits).
    -> bool [B, T', H', W'].
    """
    name = "uniform"
    (t, h, w), ratio, g, b = (check_grid(grid, name), check_ratio(ratio, name),
                              check_generator(generator, name), check_batch(batch, name))
    frac = Fraction(ratio).limit_denominator(max_period)
    n, k = frac.denominator, frac.numerator
    phase = g.integers(0, n, size=(b, 1, 1, 1))
    ti = np.arange(t)[None, :, None, None]
    ii = np.arange(h)[None, None, :, None]
    jj = np.arange(w)[None, None, None, :]
    return (jj + (n // 2) * ii + ti + phase) % n < k
