"""Masking strategies of the five papers and their baselines, as pure functions.

``get(name)(grid, ratio, *, generator, batch=1, **motion) -> np.bool_ [B, T', H', W']``
(True = masked). See each strategy's docstring for the motion arrays it takes and how clip
frames map to token time steps. ``pmr`` is the progressive masking-ratio schedule of DEMVM.
"""
from motionmvm.masking.registry import get, names, register
from motionmvm.masking import basic, running, fgdm, mgm, mgmae  # noqa: F401  (register)
from motionmvm.masking.pmr import pmr

__all__ = ["get", "names", "register", "pmr"]
