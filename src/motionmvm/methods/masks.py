"""Draw one sample's mask for a method, through `motionmvm.masking` when it is available.

Until the masking area lands in the package, `tube` and `random` are provided here (the lead
deduplicates them against `motionmvm.masking`); every other strategy needs that package and fails
with a clear error naming it.
"""
from __future__ import annotations

import importlib

import numpy as np


def _tube(grid, ratio, *, generator, batch=1, **_):
    """VideoMAE tube masking: one random spatial map with round(ratio*H'*W') masked, repeated in time."""
    t, h, w = grid
    n_mask = int(round(ratio * h * w))
    out = np.zeros((batch, t, h * w), dtype=np.bool_)
    for b in range(batch):
        out[b, :, generator.permutation(h * w)[:n_mask]] = True
    return out.reshape(batch, t, h, w)


def _random(grid, ratio, *, generator, batch=1, **_):
    """ST-MAE space-time agnostic masking: round(ratio*L) tokens masked uniformly at random."""
    n = int(np.prod(grid))
    n_mask = int(round(ratio * n))
    out = np.zeros((batch, n), dtype=np.bool_)
    for b in range(batch):
        out[b, generator.permutation(n)[:n_mask]] = True
    return out.reshape(batch, *grid)


_FALLBACK = {"tube": _tube, "random": _random}


def strategy(name: str):
    """The masking function registered as `name` (see motionmvm.masking.get)."""
    try:
        masking = importlib.import_module("motionmvm.masking")
    except ModuleNotFoundError as exc:
        if exc.name != "motionmvm.masking":
            raise
        if name in _FALLBACK:
            return _FALLBACK[name]
        raise KeyError(f"masking strategy {name!r} needs the motionmvm.masking package, which is not "
                       "installed in this checkout") from None
    return masking.get(name)


def pmr_ratios(epoch: int) -> dict:
    """DEMVM's progressive masking ratios for `epoch` (motionmvm.masking.pmr)."""
    from motionmvm.masking import pmr  # noqa: PLC0415 - only DEMVM needs it

    return pmr.ratios(epoch)


def draw_mask(spec, grid, epoch: int, rng: np.random.Generator, motion: dict) -> np.ndarray:
    """One mask `np.bool_ [T', H', W']` for `spec` at `epoch` drawn from `rng`."""
    fn = strategy(spec.masking)
    kwargs = dict(motion)
    if spec.pmr:
        kwargs.update(pmr_ratios(epoch))
    mask = np.asarray(fn(tuple(grid), spec.mask_ratio, generator=rng, batch=1, **kwargs))
    if mask.shape != (1, *grid) or mask.dtype != np.bool_:
        raise ValueError(f"masking {spec.masking!r} returned {mask.dtype} {mask.shape}, expected bool "
                         f"{(1, *grid)}")
    return mask[0]
