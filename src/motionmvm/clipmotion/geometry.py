"""Crop / resize / flip of cell grids: where the cells of the clip's output grid come from in the
original frame, and what that does to motion vectors.

A crop box is (x0, y0, w, h) in original pixels; the crop is resized to (out_h, out_w) and then
optionally mirrored left-right. An output grid of n_y x n_x cells laid over the resized clip has
cell centres at original positions y0 + (i + 0.5) h / n_y, x0 + (j + 0.5) w / n_x (before the
flip). Vectors (dx, dy) scale by (out_w / w, out_h / h); a flip mirrors the grid and negates dx.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClipGeometry:
    """The spatial transform of one clip: crop box in original pixels, output size, flip."""
    x0: float
    y0: float
    w: float
    h: float
    out_h: int
    out_w: int
    flip: bool

    @classmethod
    def make(cls, crop_box, out_size, flip: bool) -> "ClipGeometry":
        try:
            x0, y0, w, h = (float(v) for v in crop_box)
        except (TypeError, ValueError):
            raise ValueError(f"crop_box must be (x0, y0, w, h) in original pixels, got {crop_box!r}") from None
        out_h, out_w = (out_size, out_size) if np.isscalar(out_size) else tuple(out_size)
        if int(out_h) != out_h or int(out_w) != out_w or min(out_h, out_w) < 1:
            raise ValueError(f"out_size must be a positive int S or (H, W), got {out_size!r}")
        if w <= 0 or h <= 0 or x0 < 0 or y0 < 0:
            raise ValueError(f"crop_box {tuple(crop_box)} needs x0, y0 >= 0 and w, h > 0")
        return cls(x0, y0, w, h, int(out_h), int(out_w), bool(flip))

    @property
    def scale(self) -> np.ndarray:
        """(sx, sy): original pixels -> output pixels."""
        return np.array([self.out_w / self.w, self.out_h / self.h], dtype=np.float32)

    def check_inside(self, extent_hw: tuple[float, float], cell: float, what: str) -> None:
        """The crop must lie inside the frame that a cache of `cell`-pixel cells covers. The cache
        rounds the frame down to whole cells, so up to cell - 1 pixels past its extent are fine."""
        eh, ew = extent_hw
        slack = cell - 1 + 1e-6
        if self.x0 + self.w > ew + slack or self.y0 + self.h > eh + slack:
            raise ValueError(f"{what}: crop_box ({self.x0:g}, {self.y0:g}, {self.w:g}, {self.h:g}) "
                             f"leaves the {ew:g}x{eh:g} (W x H) frame the cache covers")

    def centres(self, n_y: int, n_x: int) -> tuple[np.ndarray, np.ndarray]:
        """Original-pixel centres (ys [n_y], xs [n_x]) of an n_y x n_x grid over the output
        clip, before the flip (the flip is applied to the resampled array)."""
        ys = self.y0 + (np.arange(n_y) + 0.5) * self.h / n_y
        xs = self.x0 + (np.arange(n_x) + 0.5) * self.w / n_x
        return ys, xs

    def spans(self, n_y: int, n_x: int) -> tuple[np.ndarray, np.ndarray]:
        """Original-pixel footprints of the output grid's cells: ys [n_y + 1], xs [n_x + 1] edges."""
        ys = self.y0 + np.arange(n_y + 1) * self.h / n_y
        xs = self.x0 + np.arange(n_x + 1) * self.w / n_x
        return ys, xs


def nearest_cells(arr: np.ndarray, cell: float, geo: ClipGeometry, n_out: tuple[int, int]) -> np.ndarray:
    """Nearest-cell resampling. arr: [N, gh, gw, ...], cell i covering original pixels
    [i cell, (i + 1) cell) (centre (i + 0.5) cell) -> [N, n_y, n_x, ...], unflipped."""
    ys, xs = geo.centres(*n_out)
    iy = np.clip(np.floor(ys / cell).astype(np.int64), 0, arr.shape[1] - 1)
    ix = np.clip(np.floor(xs / cell).astype(np.int64), 0, arr.shape[2] - 1)
    return arr[:, iy][:, :, ix]


def bilinear_pixels(arr: np.ndarray, geo: ClipGeometry) -> np.ndarray:
    """Bilinear resampling of per-pixel fields arr [N, H, W, C] float32 (pixel i centred at
    i + 0.5) to the output [N, out_h, out_w, C], unflipped; borders replicated."""
    import cv2

    ys, xs = geo.centres(geo.out_h, geo.out_w)
    map_x = np.broadcast_to((xs - 0.5).astype(np.float32)[None, :], (geo.out_h, geo.out_w))
    map_y = np.broadcast_to((ys - 0.5).astype(np.float32)[:, None], (geo.out_h, geo.out_w))
    map_x, map_y = np.ascontiguousarray(map_x), np.ascontiguousarray(map_y)
    out = [cv2.remap(np.ascontiguousarray(a, dtype=np.float32), map_x, map_y, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE) for a in arr]
    return np.stack(out).reshape(len(arr), geo.out_h, geo.out_w, -1)


def any_overlap(maps: np.ndarray, cell: float, geo: ClipGeometry, n_out: tuple[int, int]) -> np.ndarray:
    """Binary cell maps [N, gh, gw] -> [N, n_y, n_x] uint8: 1 where any nonzero cell overlaps the
    output cell's footprint (exact, via an integral image), unflipped."""
    n, gh, gw = maps.shape
    integral = np.zeros((n, gh + 1, gw + 1), np.int64)
    integral[:, 1:, 1:] = (np.asarray(maps) > 0).cumsum(1).cumsum(2)
    ye, xe = geo.spans(*n_out)
    # cells [floor(lo / cell), ceil(hi / cell)) overlap the span [lo, hi); eps: exact edges
    lo_y = np.clip(np.floor(ye[:-1] / cell + 1e-6).astype(np.int64), 0, gh)
    hi_y = np.clip(np.ceil(ye[1:] / cell - 1e-6).astype(np.int64), 0, gh)
    lo_x = np.clip(np.floor(xe[:-1] / cell + 1e-6).astype(np.int64), 0, gw)
    hi_x = np.clip(np.ceil(xe[1:] / cell - 1e-6).astype(np.int64), 0, gw)
    ly, hy, lx, hx = lo_y[:, None], hi_y[:, None], lo_x[None, :], hi_x[None, :]
    total = (integral[:, hy, hx] - integral[:, ly, hx] - integral[:, hy, lx] + integral[:, ly, lx])
    return (total > 0).astype(np.uint8)


def finish_vectors(vec: np.ndarray, geo: ClipGeometry, x_axis: int) -> np.ndarray:
    """Scale (dx, dy) in the last axis to output pixels; with a flip, mirror `x_axis` and negate
    dx. -> float32 copy."""
    out = np.asarray(vec, dtype=np.float32) * geo.scale
    if geo.flip:
        out = np.flip(out, axis=x_axis).copy()
        out[..., 0] *= -1.0
    return out


def finish_map(arr: np.ndarray, geo: ClipGeometry, x_axis: int) -> np.ndarray:
    """Mirror `x_axis` when the clip is flipped (scalar maps: no value change)."""
    return np.flip(arr, axis=x_axis).copy() if geo.flip else np.ascontiguousarray(arr)
