"""Procedural rendering of the embedded benchmark: textures, sprites, poses -> frames + exact motion.

Every object is a textured sprite placed by a 2x3 affine map `A_t` (sprite pixel -> frame pixel)
per frame; the background is a larger smooth canvas translated by the camera pan. Because all
motion is affine per layer, the forward flow t -> t+1 is exact: for an object pixel x,
`flow(x) = A_{t+1} A_t^{-1} x - x`; for background pixels it is the pan vector.

Conventions: images are RGB uint8 `[H, W, 3]`; coordinates are pixels, x right, y down; a positive
angle turns clockwise on screen (y points down).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Background families of domain A: 6 patterns x 2 tints = 12 families. The context bias ties
# class c to family c % 12 (see synth.py).
PATTERNS = ("noise", "hstripes", "vstripes", "diagonal", "checker", "rings")
TINTS = ("warm", "cool")
NUM_FAMILIES = len(PATTERNS) * len(TINTS)
SHAPES = ("disc", "square", "triangle", "ellipse", "cross", "hexagon")
# Backgrounds (issue 11, docs/calibration.md): RAMP_WEIGHT of a linear ramp + the rest the family's
# pattern with a period of BACKGROUND_PERIOD x the canvas side. Sprites keep fine textures (_pattern).
RAMP_WEIGHT = 0.8
BACKGROUND_PERIOD = (1.0, 2.0)


@dataclass
class Style:
    """Appearance domain. Domain "a": saturated colours, smooth backgrounds, finely textured
    sprites; domain "b": pastel palette, hard-edged two-tone backgrounds, blocky
    (nearest-upsampled) sprite textures, outlined sprites with speckles."""

    name: str

    @property
    def is_b(self) -> bool:
        return self.name == "b"


def _hsv_colour(rng: np.random.Generator, hue: tuple[float, float], sat: tuple[float, float],
                val: tuple[float, float]) -> np.ndarray:
    h = rng.uniform(*hue) % 180  # OpenCV hue range [0, 180)
    hsv = np.array([[[h, rng.uniform(*sat) * 255, rng.uniform(*val) * 255]]], np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


WAVES = ("hstripes", "vstripes", "diagonal", "rings")


def _wave(rng: np.random.Generator, kind: str, xx: np.ndarray, yy: np.ndarray, period: float,
          phase: float) -> np.ndarray:
    """A sinusoid in [0, 1] of `period` px across stripes, a random diagonal or rings about a
    random centre (the random draws in that order: the data depend on it)."""
    if kind == "rings":
        cx, cy = rng.uniform(0, xx.shape[1]), rng.uniform(0, xx.shape[0])
        arg = np.hypot(xx - cx, yy - cy)
    elif kind == "hstripes":
        arg = yy
    elif kind == "vstripes":
        arg = xx
    else:  # diagonal
        a = rng.uniform(0.2, 1.3) * rng.choice([-1, 1])
        arg = xx * np.cos(a) + yy * np.sin(a)
    return 0.5 + 0.5 * np.sin(2 * np.pi * arg / period + phase)


def _pattern(rng: np.random.Generator, kind: str, h: int, w: int, style: Style) -> np.ndarray:
    """A texture in [0, 1], float32 `[h, w]`, with detail at 4-16 px so H.264 finds motion."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    period = rng.uniform(6, 14)
    phase = rng.uniform(0, 2 * np.pi)
    if kind == "noise":
        if style.is_b:  # blocky: nearest-upsampled coarse noise
            cell = int(rng.integers(3, 6))
            small = rng.random((h // cell + 1, w // cell + 1)).astype(np.float32)
            tex = cv2.resize(small, None, fx=cell, fy=cell, interpolation=cv2.INTER_NEAREST)[:h, :w]
        else:
            tex = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), rng.uniform(0.8, 1.6))
            tex = (tex - tex.min()) / max(float(np.ptp(tex)), 1e-6)
    elif kind in WAVES:
        tex = _wave(rng, kind, xx, yy, period, phase)
    elif kind == "checker":
        cell = period / 1.5
        tex = ((np.floor(xx / cell) + np.floor(yy / cell)) % 2).astype(np.float32)
    else:
        raise ValueError(f"unknown pattern {kind!r}; allowed: {PATTERNS}")
    if style.is_b and kind != "noise":  # domain B: hard-edged (thresholded) version of the pattern
        tex = (tex > 0.5).astype(np.float32) * 0.8 + 0.1
    # Fine grain everywhere: flat areas would give the encoder nothing to match.
    tex = 0.8 * tex + 0.2 * rng.random((h, w)).astype(np.float32)
    return tex.astype(np.float32)


def _ramp(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A linear ramp from 0 to 1 across the canvas in a random direction, float32 `[h, w]`."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = rng.uniform(0, 2 * np.pi)
    t = xx * np.cos(a) + yy * np.sin(a)
    return (t - t.min()) / max(float(np.ptp(t)), 1e-6)


def _coarse_pattern(rng: np.random.Generator, kind: str, h: int, w: int) -> np.ndarray:
    """The family's pattern at a period of BACKGROUND_PERIOD x the canvas side, no grain, in [0, 1]."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    period = rng.uniform(*BACKGROUND_PERIOD) * max(h, w)
    phase = rng.uniform(0, 2 * np.pi)
    if kind == "noise":
        tex = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), period / 6)
        return (tex - tex.min()) / max(float(np.ptp(tex)), 1e-6)
    if kind == "checker":
        cell = period / 2
        return ((np.floor(xx / cell + phase) + np.floor(yy / cell + phase)) % 2).astype(np.float32)
    if kind in WAVES:
        return _wave(rng, kind, xx, yy, period, phase)
    raise ValueError(f"unknown pattern {kind!r}; allowed: {PATTERNS}")


def background(rng: np.random.Generator, family: int, h: int, w: int, style: Style) -> np.ndarray:
    """Background canvas float32 `[h, w, 3]` in [0, 255] of one family (pattern x tint).

    Mostly a smooth ramp, plus the family's pattern at a scale of the whole frame: the scene
    structure a masked model can infer from a few visible patches (docs/calibration.md, session
    3: with the fine periodic textures and grain the sprites keep, no setting the budget allows
    moved VideoMAE's loss off the patch-mean predictor's). Domain B thresholds it: two flat,
    hard-edged regions.
    """
    pattern, tint = PATTERNS[family % len(PATTERNS)], TINTS[family // len(PATTERNS)]
    hue = (0, 35) if tint == "warm" else (95, 130)
    sat, val = ((0.15, 0.35), (0.55, 0.9)) if style.is_b else ((0.4, 0.9), (0.35, 0.8))
    c1, c2 = _hsv_colour(rng, hue, sat, val), _hsv_colour(rng, hue, sat, val)
    c2 = c2 * rng.uniform(0.35, 0.7)  # contrast between the two pattern colours
    tex = RAMP_WEIGHT * _ramp(rng, h, w) + (1 - RAMP_WEIGHT) * _coarse_pattern(rng, pattern, h, w)
    if style.is_b:
        tex = (tex > np.median(tex)).astype(np.float32) * 0.8 + 0.1
    tex = tex.astype(np.float32)[..., None]
    return tex * c1 + (1 - tex) * c2


def _shape_mask(rng: np.random.Generator, shape: str, size: int) -> np.ndarray:
    """Filled shape, float32 `[size, size]` in {0, 1}, centred in the square."""
    m = np.zeros((size, size), np.uint8)
    c, r = size // 2, size // 2 - 1
    if shape == "disc":
        cv2.circle(m, (c, c), r, 1, -1)
    elif shape == "ellipse":
        cv2.ellipse(m, (c, c), (r, int(r * rng.uniform(0.5, 0.8))), 0, 0, 360, 1, -1)
    elif shape == "square":
        s = int(r * 0.8)
        m[c - s:c + s + 1, c - s:c + s + 1] = 1
    elif shape == "cross":
        s, t = int(r * 0.9), max(1, int(r * 0.35))
        m[c - s:c + s + 1, c - t:c + t + 1] = 1
        m[c - t:c + t + 1, c - s:c + s + 1] = 1
    else:
        n = 3 if shape == "triangle" else 6
        ang = np.linspace(0, 2 * np.pi, n, endpoint=False) + rng.uniform(0, 2 * np.pi)
        pts = np.stack([c + r * np.cos(ang), c + r * np.sin(ang)], 1).round().astype(np.int32)
        cv2.fillPoly(m, [pts], 1)
    return m.astype(np.float32)


@dataclass
class Sprite:
    """A textured object: `rgb` float32 `[s, s, 3]`, `alpha` float32 `[s, s]`, radius `s // 2`."""

    rgb: np.ndarray
    alpha: np.ndarray

    @property
    def radius(self) -> float:
        return self.alpha.shape[0] / 2


def sprite(rng: np.random.Generator, radius: float, style: Style) -> Sprite:
    """A random shape with a random colour and texture (all independent of the class)."""
    size = max(6, int(round(2 * radius)) | 1)
    alpha = _shape_mask(rng, SHAPES[rng.integers(len(SHAPES))], size)
    kind = PATTERNS[rng.integers(len(PATTERNS))]
    tex = _pattern(rng, kind, size, size, style)[..., None]
    sat, val = ((0.2, 0.45), (0.6, 1.0)) if style.is_b else ((0.5, 1.0), (0.5, 1.0))
    c1, c2 = _hsv_colour(rng, (0, 180), sat, val), _hsv_colour(rng, (0, 180), sat, val)
    rgb = tex * c1 + (1 - tex) * c2 * 0.6
    rgb = _orientation_mark(rng, rgb, size)
    if style.is_b:  # outlined sprites with speckles
        edge = alpha - cv2.erode(alpha, np.ones((3, 3), np.uint8))
        rgb = rgb * (1 - edge[..., None]) + 20 * edge[..., None]
        speck = rng.random(alpha.shape) < 0.08
        rgb[speck] = 255
    return Sprite(rgb.astype(np.float32), alpha)


def _orientation_mark(rng: np.random.Generator, rgb: np.ndarray, size: int) -> np.ndarray:
    """Paint an off-centre spot in the complement of the sprite's mean colour. At the model's
    32 x 32 the fine textures blur away and most outlines are symmetric, so without a mark the
    direction of a rotation cannot be seen (docs/calibration.md, session 5)."""
    c, r = (size - 1) / 2, size / 2
    ang = rng.uniform(0, 2 * np.pi)
    centre = (int(round(c + 0.45 * r * np.cos(ang))), int(round(c + 0.45 * r * np.sin(ang))))
    spot = np.zeros((size, size), np.uint8)
    cv2.circle(spot, centre, max(1, int(round(0.35 * r))), 1, -1)
    out = rgb.copy()
    out[spot > 0] = 255 - rgb.reshape(-1, 3).mean(0)
    return out


def pose_matrix(sp: Sprite, cx: float, cy: float, angle_deg: float, scale: float) -> np.ndarray:
    """2x3 affine: sprite pixel -> frame pixel, sprite centre to (cx, cy), rotated, scaled."""
    a = np.deg2rad(angle_deg)
    rot = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    centre = np.array([(sp.alpha.shape[1] - 1) / 2, (sp.alpha.shape[0] - 1) / 2])
    return np.hstack([rot, (np.array([cx, cy]) - rot @ centre)[:, None]])


def _as3x3(m: np.ndarray) -> np.ndarray:
    return np.vstack([m, [0, 0, 1]])


def render(bg_canvas: np.ndarray, margin: int, pan: np.ndarray, layers: list[tuple[Sprite, np.ndarray]],
           size: tuple[int, int]):
    """Render a clip.

    bg_canvas: float32 `[H + 2m, W + 2m, 3]`; pan: `[2]` px/frame (content motion of the background);
    layers: (sprite, poses `[F, 2, 3]` in frame coordinates *including* the pan), back to front.
    Returns frames uint8 `[F, H, W, 3]`, labels uint8 `[F, H, W]` (0 = background, i + 1 = layer i
    on top) and flow float32 `[F-1, H, W, 2]` (forward, dx right, dy down).
    """
    h, w = size
    n_frames = layers[0][1].shape[0] if layers else 1
    frames = np.empty((n_frames, h, w, 3), np.uint8)
    labels = np.zeros((n_frames, h, w), np.uint8)
    flow = np.empty((max(n_frames - 1, 0), h, w, 2), np.float32)
    grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64)), -1)
    for t in range(n_frames):
        off = margin - pan * t  # background content moves by +pan per frame
        bg_m = np.array([[1, 0, -off[0]], [0, 1, -off[1]]], np.float64)
        img = cv2.warpAffine(bg_canvas, bg_m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        for i, (sp, poses) in enumerate(layers):
            rgb = cv2.warpAffine(sp.rgb, poses[t], (w, h), flags=cv2.INTER_LINEAR)
            a = cv2.warpAffine(sp.alpha, poses[t], (w, h), flags=cv2.INTER_LINEAR)[..., None]
            img = img * (1 - a) + rgb * a
            labels[t][a[..., 0] > 0.5] = i + 1
        frames[t] = np.clip(img + 0.5, 0, 255).astype(np.uint8)
        if t == n_frames - 1:
            break
        f = np.broadcast_to(pan.astype(np.float32), (h, w, 2)).copy()
        for i, (sp, poses) in enumerate(layers):
            sel = labels[t] == i + 1
            if sel.any():
                step = _as3x3(poses[t + 1]) @ np.linalg.inv(_as3x3(poses[t]))
                pts = grid[sel]
                f[sel] = (pts @ step[:2, :2].T + step[:2, 2] - pts).astype(np.float32)
        flow[t] = f
    return frames, labels, flow
