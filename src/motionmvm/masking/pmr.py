"""Progressive Masking Ratio (DEMVM, paper 000, eqs 15-16)."""
from __future__ import annotations

import numpy as np


def pmr(start: float, end: float, epoch, total_epochs: float = 100.0):
    """P = P_s + (P_e - P_s) * sqrt(ep) / sqrt(Ep).

    Usable for any strategy's ratio (DEMVM: P_spa 0.3 -> 0.8, P_tmp 0.3 -> 0.9, Ep = 100 while
    training runs only 10 epochs, so the end value is never reached there). `epoch` may be
    fractional (iteration / iterations per epoch: the paper raises the ratio "by the iterations")
    and may be an array. Past `total_epochs` the ratio stays at `end` (the paper is silent; a
    ratio beyond the requested end would be surprising).
    """
    for what, v in (("start", start), ("end", end)):
        if not 0.0 <= float(v) <= 1.0:
            raise ValueError(f"pmr: {what} ratio must lie in [0, 1], got {v}")
    if not total_epochs > 0:
        raise ValueError(f"pmr: total_epochs must be > 0, got {total_epochs}")
    ep = np.asarray(epoch, dtype=np.float64)
    if np.any(ep < 0):
        raise ValueError(f"pmr: epoch must be >= 0, got {epoch}")
    frac = np.sqrt(np.minimum(ep, total_epochs)) / np.sqrt(total_epochs)
    out = start + (end - start) * frac
    return float(out) if out.ndim == 0 else out
