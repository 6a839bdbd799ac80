"""Draw one sample's mask for a method through `motionmvm.masking` (one copy of each strategy)."""
from __future__ import annotations

import inspect

import numpy as np

from motionmvm import masking
from motionmvm.masking.settings import strategy_kwargs


def strategy(name: str):
    """The masking function registered as `name` (see motionmvm.masking.get)."""
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
        ratio, kwargs = strategy_kwargs(masking_cfg, key, epoch=epoch if spec.pmr else None)
    if spec.pmr and spec.masking != "fgdm" and masking_cfg and "fgdm" in masking_cfg:
        # DEMVM's "no FGDM" ablation: another strategy whose ratio follows PMR's spatial schedule.
        ratio = strategy_kwargs(masking_cfg, "fgdm", epoch=epoch)[0]
    params = inspect.signature(fn).parameters
    # a motion kind may carry more than a strategy reads (the flow cache's flow_backward is for
    # mgmae; MGM's flow-guidance ablation takes the forward flow only)
    kwargs.update({k: v for k, v in motion.items() if k in params})
    if "tubelet" in params:
        kwargs["tubelet"] = tubelet
    mask = np.asarray(fn(tuple(grid), ratio, generator=rng, batch=1, **kwargs))
    if mask.shape != (1, *grid) or mask.dtype != np.bool_:
        raise ValueError(f"masking {spec.masking!r} returned {mask.dtype} {mask.shape}, expected bool "
                         f"{(1, *grid)}")
    return mask[0]
