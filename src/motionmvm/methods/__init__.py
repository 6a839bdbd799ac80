"""Pretraining methods: one small module per method names its masking, target, model and optimizer.

`get(name) -> MethodSpec`, `names()`; a method module calls `register_method(MethodSpec(...))` at
import. Modules are imported lazily so `import motionmvm.methods` stays cheap.
"""
from __future__ import annotations

import importlib

from motionmvm.methods.spec import MethodSpec, OptimSpec

_METHODS: dict[str, MethodSpec] = {}
# One module per method; masking strategies and targets are resolved when a method is used.
_MODULES = ("videomae", "stmae", "mgmae", "mgm", "mme", "demvm")
_loaded = False


def register_method(spec: MethodSpec) -> MethodSpec:
    if spec.name in _METHODS and _METHODS[spec.name] != spec:
        raise ValueError(f"method {spec.name!r} is already registered")
    _METHODS[spec.name] = spec
    return spec


def _load_all() -> None:
    global _loaded
    if not _loaded:
        for mod in _MODULES:
            importlib.import_module(f"motionmvm.methods.{mod}")
        _loaded = True


def names() -> list[str]:
    _load_all()
    return sorted(_METHODS)


def get(name: str) -> MethodSpec:
    _load_all()
    if name not in _METHODS:
        raise KeyError(f"unknown method {name!r}; registered methods are {sorted(_METHODS)}")
    return _METHODS[name]


__all__ = ["MethodSpec", "OptimSpec", "get", "names", "register_method"]
