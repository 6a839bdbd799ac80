"""The motion classes of the embedded benchmark: each class is a rule for object poses over time.

A class is defined only by how its main object(s) move; shape, colour, texture, size and position
are drawn independently of the class, so one frame cannot tell the classes apart. Motion amounts
are fractions of the frame size spread over the clip, so the classes look alike at every
`size`/`frames` setting.

Each function returns poses `[n_obj, F, 4]` = (cx, cy, angle_deg, scale) in frame pixels without
the camera pan, for the main objects of radius `r` (sprite radius at scale 1).
"""
from __future__ import annotations

import numpy as np

CLASSES = ("translate_right", "translate_left", "translate_up", "translate_down", "rotate_cw",
           "rotate_ccw", "zoom_in", "zoom_out", "circling", "zigzag", "push", "approach")

# Domain B (synth_b) takes the first `num_classes` of this order: a spread of motion types, all of
# which are in domain A (checked at generation), so that B's label set is a subset of A's.
B_ORDER = ("translate_right", "rotate_cw", "zoom_in", "circling", "translate_up", "zigzag",
           "translate_left", "rotate_ccw", "zoom_out", "translate_down", "push", "approach")

DIRECTIONS = {"translate_right": (1, 0), "translate_left": (-1, 0), "translate_up": (0, -1),
              "translate_down": (0, 1)}


def _spin(rng, n: int) -> np.ndarray:
    """A slow random spin (well below the rotation classes) so rotation alone is not a cue."""
    return rng.uniform(0, 360) + rng.uniform(-0.6, 0.6) * np.arange(n)


def _line(start: np.ndarray, end: np.ndarray, u: np.ndarray) -> np.ndarray:
    return start[None] + (end - start)[None] * u[:, None]


def poses(name: str, rng: np.random.Generator, n: int, size: int, r: float) -> np.ndarray:
    """Poses `[n_obj, n, 4]` of the main objects of class `name` over `n` frames."""
    u = np.linspace(0.0, 1.0, n)
    ones = np.ones(n)
    lo, hi = r + 1, size - r - 1
    if name in DIRECTIONS:
        d = np.array(DIRECTIONS[name], float)
        travel = rng.uniform(0.3, 0.5) * size
        perp = rng.uniform(lo, hi)
        along = rng.uniform(lo, max(lo, hi - travel))
        if d.sum() < 0:  # moving left/up: start near the far side
            along = size - along
        start = np.where(d != 0, along, perp)
        xy = _line(start, start + d * travel, u)
        return np.stack([np.c_[xy, _spin(rng, n), ones]])
    if name in ("rotate_cw", "rotate_ccw"):
        sign = 1 if name == "rotate_cw" else -1
        total = rng.uniform(120, 240)
        c = rng.uniform(lo, hi, 2)
        return np.stack([np.c_[np.full(n, c[0]), np.full(n, c[1]), rng.uniform(0, 360) + sign * total * u, ones]])
    if name in ("zoom_in", "zoom_out"):
        k = rng.uniform(1.8, 2.4)
        s = 0.6 * k ** u if name == "zoom_in" else 0.6 * k ** (1 - u)
        big = r * 0.6 * k
        c = rng.uniform(big, size - big, 2) if size > 2 * big else np.full(2, size / 2)
        return np.stack([np.c_[np.full(n, c[0]), np.full(n, c[1]), _spin(rng, n), s]])
    if name == "circling":
        rad = rng.uniform(0.15, 0.22) * size
        c = rng.uniform(rad + r, size - rad - r, 2)
        ang = rng.uniform(0, 2 * np.pi) + rng.choice([-1, 1]) * rng.uniform(1.0, 1.5) * 2 * np.pi * u
        return np.stack([np.c_[c[0] + rad * np.cos(ang), c[1] + rad * np.sin(ang), _spin(rng, n), ones]])
    if name == "zigzag":
        travel, amp = rng.uniform(0.3, 0.45) * size, rng.uniform(0.08, 0.12) * size
        periods = rng.uniform(2, 3)
        x0 = rng.uniform(lo, max(lo, hi - travel))
        sign = rng.choice([-1, 1])
        if sign < 0:
            x0 = size - x0
        y0 = rng.uniform(lo + amp, hi - amp)
        tri = 2 * np.abs(2 * ((periods * u + rng.uniform()) % 1) - 1) - 1  # triangle wave in [-1, 1]
        return np.stack([np.c_[x0 + sign * travel * u, y0 + amp * tri, _spin(rng, n), ones]])
    if name in ("push", "approach"):
        ang = rng.uniform(0, 2 * np.pi)
        d = np.array([np.cos(ang), np.sin(ang)])
        gap = rng.uniform(0.15, 0.22) * size  # each object's travel
        contact = 2 * r  # centre distance when touching
        span = 2 * gap + contact
        # Centre the whole motion segment in the frame so both objects stay (mostly) visible.
        mid = np.array([size / 2, size / 2]) + rng.uniform(-0.05, 0.05, 2) * size
        a0 = mid - d * span / 2
        if name == "push":  # A moves to B (first half), then B moves on in the same direction
            b0 = a0 + d * (gap + contact)
            half = np.minimum(u / 0.5, 1.0)
            after = np.maximum(u - 0.5, 0) / 0.5
            a = _line(a0, a0 + d * gap, half)
            b = _line(b0, b0 + d * gap, after)
        else:  # both move toward each other and meet at the end
            b0 = a0 + d * (2 * gap + contact)
            a = _line(a0, a0 + d * gap, u)
            b = _line(b0, b0 - d * gap, u)
        return np.stack([np.c_[a, _spin(rng, n), ones], np.c_[b, _spin(rng, n), ones]])
    raise ValueError(f"unknown motion class {name!r}; allowed: {CLASSES}")


def distractor_poses(rng: np.random.Generator, n: int, size: int, r: float) -> np.ndarray:
    """Pose `[n, 4]` of a distractor: a straight drift in a random direction with a random spin,
    independent of the class (it may leave the frame)."""
    start = rng.uniform(r, size - r, 2)
    vel = rng.normal(0, 0.25 * size / max(n - 1, 1), 2)
    t = np.arange(n)[:, None]
    xy = start + vel * t
    return np.c_[xy, rng.uniform(0, 360) + rng.uniform(-3, 3) * np.arange(n), np.ones(n)]
