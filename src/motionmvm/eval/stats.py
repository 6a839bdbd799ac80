"""Mean, standard deviation and t-distribution confidence intervals over seeds or draws."""
from __future__ import annotations

import numpy as np
from scipy import stats


def mean_ci(values, confidence: float = 0.95) -> dict:
    """values: [n] -> {n, mean, std (ddof=1), ci_low, ci_high, half_width}.

    The interval is mean +- t_{(1+c)/2, n-1} * std / sqrt(n) (Student t, unknown variance). With a
    single value the spread is undefined and std/CI are None (never a fake 0).
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"mean_ci needs a non-empty 1-D list of values, got shape {x.shape}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    n, mean = x.size, float(x.mean())
    if n < 2:
        return {"n": 1, "mean": mean, "std": None, "ci_low": None, "ci_high": None, "half_width": None}
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1) * std / np.sqrt(n))
    return {"n": int(n), "mean": mean, "std": std, "ci_low": mean - half, "ci_high": mean + half,
            "half_width": half}


def paired_difference(a: dict, b: dict, confidence: float = 0.95) -> dict:
    """a, b: {seed: value}; statistics of a[s] - b[s] over the seeds both have."""
    common = sorted(set(a) & set(b))
    if not common:
        raise ValueError("paired difference: no seed in common")
    out = mean_ci([a[s] - b[s] for s in common], confidence)
    out["seeds"] = common
    return out
