"""Draw one sample's mask for a method, through `motionmvm.masking` when it is available.

Until the masking area lands in the package, `tube` and `random` are provided here (the lead
deduplicates them against `motionmvm.masking`); every other strategy needs that package and fails
with a clear error naming it.
"""
from __future__ import annotations

import importlib
import inspect

import numpy as np


def _tube(grid, ratio, *, generator, batch=1, **_):
    """VideoMAE tube masking: one random spatial map with floor(ratio*H'*W') masked, repeated in time."""
    t, h, w = grid
    n_mask = int(np.floor(ratio * h * w + 1e-9))
    out = np.zeros((batch, t, h * w), dtype=np.bool_)
    for b in range(batch):
        out[b, :, generator.permutation(h * w)[:n_mask]] = True
    return out.reshape(batch, t, h, w)


def _random(grid, ratio, *, generator, batch=1, **_):
    """ST-MAE space-time agnostic masking: floor(ratio*L) tokens masked uniformly at random."""
    n = int(np.prod(grid))
    n_mask = int(np.floor(ratio * n + 1e-9))
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


def draw_mask(spec, grid, epoch: float, rng: np.random.Generator, motion: dict,
              masking_cfg: dict | None = None, tubelet: int = 2) -> np.ndarray:
    """One mask `np.bool_ [T', H', W']` for `spec` at `epoch` drawn from `rng`.

    Ratio and options come from the params `masking` section (masking.settings.strategy_kwargs;
    DEMVM's PMR ratios at `epoch` -- fractional, step / steps_per_epoch, so they rise every
    iteration -- when `spec.pmr`, the schedule's end value otherwise) when it has
    the method's entry, else the spec's own ratio.
    """
    fn = strategy(spec.masking)
    key = spec.masking_key or spec.masking
    ratio, kwargs = spec.mask_ratio, {}
    if masking_cfg and key in masking_cfg:
        from motionmvm.masking.settings import strategy_kwargs

        ratio, kwargs = strategy_kwargs(masking_cfg, key, epoch=epoch if spec.pmr else None)
    if spec.pmr and spec.masking != "fgdm" and masking_cfg and "fgdm" in masking_cfg:
        # DEMVM's "no FGDM" ablation: another strategy whose ratio follows PMR's spatial schedule.
        from motionmvm.masking.settings import strategy_kwargs

        ratio = strategy_kwargs(masking_cfg, "fgdm", epoch=epoch)[0]
    kwargs.update(motion)
    if "tubelet" in inspect.signature(fn).parameters:
        kwargs["tubelet"] = tubelet
    mask = np.asarray(fn(tuple(grid), ratio, generator=rng, batch=1, **kwargs))
    if mask.shape != (1, *grid) or mask.dtype != np.bool_:
        raise ValueError(f"masking {spec.masking!r} returned {mask.dtype} {mask.shape}, expected bool "
                         f"{(1, *grid)}")
    return mask[0]
