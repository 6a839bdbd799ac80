"""Shared helpers of the masking strategies: argument checks, exact-count sampling, rectangles,
and the alignment of clip-level motion arrays to token time steps.

Conventions (docs/ARCHITECTURE.md): a mask is ``np.bool_ [B, T', H', W']`` with ``True`` = masked.
A clip of ``T`` sampled frames becomes ``T' = T / tubelet`` token time steps; token step ``k``
covers the clip frames ``tubelet*k .. tubelet*k + tubelet - 1``.
"""
from __future__ import annotations

import numpy as np


def check_grid(grid, name: str) -> tuple[int, int, int]:
    """`grid` = (T', H', W') positive ints, else a ValueError naming the strategy."""
    try:
        t, h, w = (int(g) for g in grid)
    except (TypeError, ValueError):
        raise ValueError(f"masking {name!r}: grid must be (T', H', W'), got {grid!r}") from None
    if min(t, h, w) < 1 or any(int(g) != g for g in grid):
        raise ValueError(f"masking {name!r}: grid must hold positive integers, got {tuple(grid)!r}")
    return t, h, w


def check_ratio(ratio, name: str, what: str = "ratio") -> float:
    ratio = float(ratio)
    if not 0.0 <= ratio <= 1.0 or np.isnan(ratio):
        raise ValueError(f"masking {name!r}: {what} must lie in [0, 1], got {ratio}")
    return ratio


def check_generator(generator, name: str) -> np.random.Generator:
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"masking {name!r}: generator must be a numpy.random.Generator "
                        f"(np.random.default_rng(seed)), got {type(generator).__name__}")
    return generator


def check_batch(batch, name: str) -> int:
    if int(batch) != batch or batch < 1:
        raise ValueError(f"masking {name!r}: batch must be a positive integer, got {batch!r}")
    return int(batch)


def masked_count(ratio: float, n: int) -> int:
    """Number of masked tokens out of `n`: floor(ratio * n) as VideoMAE (int(ratio * n)); the
    1e-9 guards against 0.7 * 10 = 6.999..."""
    return int(np.floor(ratio * n + 1e-9))


def random_subset(generator: np.random.Generator, shape: tuple[int, ...], k: int) -> np.ndarray:
    """Bool array `shape`; exactly `k` True entries along the last axis, uniformly at random
    (argsort of uniform noise, one independent draw per leading index)."""
    noise = generator.random(shape)
    ranks = np.argsort(np.argsort(noise, axis=-1), axis=-1)
    return ranks < k


def gumbel_topk(generator: np.random.Generator, weights: np.ndarray, k: int) -> np.ndarray:
    """Sample `k` entries without replacement along the last axis with probability proportional
    to `weights` (>= 0; Gumbel top-k trick). Returns bool of the same shape."""
    logw = np.log(np.maximum(weights, 1e-12))
    keys = logw + generator.gumbel(size=weights.shape)
    ranks = np.argsort(np.argsort(-keys, axis=-1), axis=-1)
    return ranks < k


def rectangles(grid_hw: tuple[int, int], y0: np.ndarray, x0: np.ndarray, width: np.ndarray,
               count: int) -> np.ndarray:
    """Near-rectangular masks with exactly `count` tokens each.

    y0, x0, width: int arrays of one shape S (top-left corner and width in tokens). The block is
    `count // width` full rows of `width` tokens plus one partial row of `count % width` tokens
    (left-aligned) below them, so the masked area is exact whatever the aspect. Callers keep the
    block inside the grid. Returns bool ``S + (H', W')``.
    """
    h_grid, w_grid = grid_hw
    rows = np.arange(h_grid).reshape((1,) * y0.ndim + (h_grid, 1))
    cols = np.arange(w_grid).reshape((1,) * y0.ndim + (1, w_grid))
    y0, x0, width = (np.asarray(a)[..., None, None] for a in (y0, x0, width))
    full_rows = count // width
    rest = count - full_rows * width
    in_cols = (cols >= x0) & (cols < x0 + width)
    body = (rows >= y0) & (rows < y0 + full_rows) & in_cols
    tail = (rows == y0 + full_rows) & (cols >= x0) & (cols < x0 + rest)
    return body | tail


def block_height(count: int, width: np.ndarray) -> np.ndarray:
    """Rows occupied by `rectangles(..., width, count)`: ceil(count / width)."""
    return -(-count // np.asarray(width))


def place_centred(centre: np.ndarray, size: np.ndarray, limit: int) -> np.ndarray:
    """Top-left coordinate of a span of `size` tokens centred on `centre` (token units, where
    token i has centre i + 0.5), clipped to stay inside [0, limit)."""
    start = np.floor(centre - size / 2.0 + 0.5).astype(np.int64)
    return np.clip(start, 0, np.maximum(limit - size, 0))


def as_batched(arr: np.ndarray, batch: int, frame_ndim: int, name: str, what: str) -> np.ndarray:
    """Add the batch axis to a per-clip motion array shared by the whole batch.

    `frame_ndim` = number of axes of one clip's array (e.g. 4 for an mv field [T, h, w, 2]).
    """
    arr = np.asarray(arr)
    if arr.ndim == frame_ndim:
        return np.broadcast_to(arr, (batch,) + arr.shape)
    if arr.ndim == frame_ndim + 1:
        if arr.shape[0] != batch:
            raise ValueError(f"masking {name!r}: {what} has batch size {arr.shape[0]}, "
                             f"expected {batch}")
        return arr
    raise ValueError(f"masking {name!r}: {what} must have {frame_ndim} axes (one clip) or "
                     f"{frame_ndim + 1} (a batch), got shape {arr.shape}")


def to_token_steps(arr: np.ndarray, t_tokens: int, tubelet: int, reduce: str, name: str,
                   what: str) -> np.ndarray:
    """Reduce the time axis (axis 1 of a batched array) from clip frames to token steps.

    Accepts T' * tubelet entries (one per clip frame: frames of one tubelet are reduced with
    `reduce` = "mean" | "max"), T' * tubelet - 1 entries (pairwise motion t -> t+1
    over the clip: the last frame has none, so the last step uses what it has), or T' entries
    (already per token step).
    """
    n = arr.shape[1]
    if n == t_tokens:
        return arr
    if n == t_tokens * tubelet - 1 and tubelet > 1:
        # pairwise maps between consecutive clip frames: repeat the last one for the last frame
        arr = np.concatenate([arr, arr[:, -1:]], axis=1)
        n += 1
    if n != t_tokens * tubelet:
        raise ValueError(f"masking {name!r}: {what} has {n} time entries; expected T'={t_tokens} "
                         f"(per token step), T={t_tokens * tubelet} (per clip frame) or T-1")
    arr = arr.reshape((arr.shape[0], t_tokens, tubelet) + arr.shape[2:])
    return arr.max(axis=2) if reduce == "max" else arr.mean(axis=2)


def pool_to_grid_max(maps: np.ndarray, grid_hw: tuple[int, int]) -> np.ndarray:
    """Resize spatial maps [..., h, w] to the token grid (H', W'): a token takes the maximum of
    the cells it covers (adaptive max pooling) when the map is at least as fine as the grid,
    nearest upsampling when it is coarser."""
    import torch
    import torch.nn.functional as F

    lead = maps.shape[:-2]
    h, w = maps.shape[-2:]
    x = torch.from_numpy(np.array(maps, dtype=np.float32)).reshape(-1, 1, h, w)
    if h < grid_hw[0] or w < grid_hw[1]:
        x = F.interpolate(x, size=grid_hw, mode="nearest")
    else:
        x = F.adaptive_max_pool2d(x, grid_hw)
    return x.reshape(lead + tuple(grid_hw)).numpy()
