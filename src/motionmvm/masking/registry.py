"""Name -> masking function registry.

Every strategy is a pure function
``fn(grid: (T', H', W'), ratio: float, *, generator: np.random.Generator, batch: int = 1,
**motion) -> np.bool_ [B, T', H', W']`` (True = masked). Same generator state, same mask.
"""
from __future__ import annotations

from typing import Callable

_REGISTRY: dict[str, Callable] = {}


def register(name: str) -> Callable[[Callable], Callable]:
    def deco(fn: Callable) -> Callable:
        if name in _REGISTRY:
            raise ValueError(f"masking strategy {name!r} registered twice")
        _REGISTRY[name] = fn
        fn.strategy_name = name
        return fn
    return deco


def get(name: str) -> Callable:
    """The masking function registered as `name`; KeyError listing the known names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown masking strategy {name!r}; known: {names()}") from None


def names() -> list[str]:
    return sorted(_REGISTRY)
