"""Name -> builder registry for every network (encoders, decoders, heads, tokenizers).

Each model module defines a config dataclass (nanoGPT style) and registers builders:

    @register_model("swin3d_t")
    def swin3d_t(**overrides) -> nn.Module: ...

`build(name, **overrides)` calls the builder; overrides replace config dataclass fields. Modules
that register models are imported lazily by `build`/`names` (see `_MODEL_MODULES`) so importing
`motionmvm.models` stays cheap and cross-area modules (e.g. `vit.py`) register into the same table.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Callable

_REGISTRY: dict[str, Callable[..., Any]] = {}

# Modules whose import registers models (imported on first use, see the module docstring).
_MODEL_MODULES = (
    "motionmvm.models.vit",
    "motionmvm.models.videomae_decoder",
    "motionmvm.models.swin3d",
    "motionmvm.models.heads",
    "motionmvm.models.vqvae3d",
    "motionmvm.models.vq2d",
)
_loaded = False


def register_model(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register `fn(**overrides) -> nn.Module` under `name` (unique)."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in _REGISTRY and _REGISTRY[name] is not fn:
            raise ValueError(f"model {name!r} is already registered (by {_REGISTRY[name].__module__})")
        _REGISTRY[name] = fn
        return fn

    return deco


def register_sizes(cls: Callable[[Any], Any], config_cls: type, sizes: dict[str, dict[str, Any]]) -> None:
    """Register `name -> cls(config_cls(**base, **overrides))` for every `name: base` in `sizes`."""

    def make(name: str, base: dict[str, Any]) -> None:
        def builder(**overrides: Any):
            return cls(make_config(config_cls, base, overrides))
        builder.__name__ = name
        register_model(name)(builder)

    for name, base in sizes.items():
        make(name, base)


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    for mod in _MODEL_MODULES:
        importlib.import_module(mod)
    _loaded = True


def names() -> list[str]:
    """Sorted names of every registered model."""
    _load_all()
    return sorted(_REGISTRY)


def build(name: str, **overrides: Any):
    """Build the model registered as `name`; keyword overrides replace config fields."""
    _load_all()
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; registered models are {sorted(_REGISTRY)}")
    return _REGISTRY[name](**overrides)


def make_config(cls, base: dict[str, Any], overrides: dict[str, Any]):
    """`cls(**base)` with `overrides` applied; unknown override keys raise a clear TypeError."""
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError(f"{cls.__name__} has no field(s) {unknown}; fields are {sorted(fields)}")
    return cls(**{**base, **overrides})
