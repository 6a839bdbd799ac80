"""MME motion trajectories (paper 001, sec. 3.3; METHODS.md "mme").

Points are seeded on a dense grid with spacing p/2 starting at p/4 (pixel 4 + 8i for p = 16, so
K = 4 points per patch), at every start frame t of the stride-1 video, and tracked through L
frames with forward dense flow (clipped to +/- `bound` px, as in the official code): at step l the
flow of pair (t+l, t+l+1) is sampled bilinearly at the sub-pixel position p_l and
p_{l+1} = p_l + flow. Per point and step we keep the position delta dp_l = p_{l+1} - p_l
(position features, eq. 3-4), the HOG of the `cell` x `cell` window around p_l in frame t+l
(shape features, eq. 5: 9 unsigned orientation bins, gradient magnitude weighted, linear vote
between the two nearest bins, un-normalised: the target code normalises per patch) and a
validity flag that turns false for good once p_l or p_{l+1} leaves the frame (deltas and HOG
are zero there).

The frames are first resized so that their short side is `motion.traj.short_side` (the training
clip's side, `resize_short_side`): the grid, the HOG cell and the flow bound are then pixels of
the clip the model sees, whatever the source resolution. The cache entry records `source_hw` and
`tracked_hw`; clipmotion maps a clip's crop (source pixels) into the tracked frames.
"""
from __future__ import annotations

import numpy as np


def resize_short_side(frames: np.ndarray, short_side: int | None) -> np.ndarray:
    """frames [F, H, W, 3] uint8 resized (area interpolation) so that min(H', W') = short_side and
    the aspect ratio is kept (long side rounded); None or the same size: unchanged."""
    import cv2

    if short_side is None:
        return frames
    h, w = frames.shape[1:3]
    if int(short_side) < 1:
        raise ValueError(f"motion.traj.short_side must be a positive number of pixels, got {short_side}")
    s = int(short_side) / min(h, w)
    size_hw = (int(short_side), max(1, round(w * s))) if h <= w else (max(1, round(h * s)), int(short_side))
    if size_hw == (h, w):
        return frames
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    return np.stack([cv2.resize(f, size_hw[::-1], interpolation=interp) for f in frames])


def grid(height: int, width: int, patch: int) -> tuple[np.ndarray, np.ndarray]:
    """Seed coordinates xs [W/(p/2)], ys [H/(p/2)] (float32 pixel positions)."""
    step, start = patch // 2, patch // 4
    return (np.arange(start, width, step, dtype=np.float32)[: width // step],
            np.arange(start, height, step, dtype=np.float32)[: height // step])


def orientation_histograms(gray: np.ndarray, bins: int, cell: int) -> np.ndarray:
    """HOG cell histogram centred on every pixel: [H, W, bins] float32 (box sum over cell x cell).

    gray: [H, W] float32 in [0, 1]. Gradients with the centred [-1, 0, 1] kernel (Dalal & Triggs);
    each pixel votes its magnitude into the two nearest of `bins` unsigned orientation bins.
    """
    import cv2

    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=1)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=1)
    mag = np.hypot(gx, gy).ravel()
    pos = (np.mod(np.arctan2(gy, gx), np.pi) * (bins / np.pi) - 0.5).ravel()  # bin centres b + 0.5
    lo = np.floor(pos)
    frac = (pos - lo).astype(np.float32)
    lo = lo.astype(np.int64) % bins
    votes = np.zeros((mag.size, bins), np.float32)
    rows = np.arange(mag.size)
    votes[rows, lo] = mag * (1 - frac)
    votes[rows, (lo + 1) % bins] += mag * frac
    return cv2.boxFilter(votes.reshape(*gray.shape, bins), -1, (cell, cell), normalize=False,
                         borderType=cv2.BORDER_CONSTANT)


def _sample(field: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples of field [H, W, C] at float positions (replicated border): [N, C]."""
    import cv2

    out = cv2.remap(field, x.reshape(1, -1).astype(np.float32), y.reshape(1, -1).astype(np.float32),
                    cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(x.size, -1)


def trajectories(frames: np.ndarray, flow: np.ndarray, length: int = 6, patch: int = 16,
                 bound: float = 20.0, bins: int = 9, cell: int = 8) -> dict[str, np.ndarray]:
    """frames [F, H, W, 3] uint8, flow [F-1, H, W, 2] forward ->
    disp float16 [F-L, Gh, Gw, L, 2], hog float16 [F-L, Gh, Gw, L, bins], valid bool [F-L, Gh, Gw, L]
    with (Gh, Gw) = (H/(p/2), W/(p/2))."""
    import cv2

    f, h, w, _ = frames.shape
    if f <= length:
        raise ValueError(f"video has {f} frames; trajectories of length {length} need more than {length}")
    flow = np.clip(flow, -bound, bound).astype(np.float32)
    gray = [cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0 for x in frames]
    hists = [orientation_histograms(g, bins, cell) for g in gray[: f - 1]]
    xs, ys = grid(h, w, patch)
    gx, gy = np.meshgrid(xs, ys)
    n = gx.size
    starts = f - length
    disp = np.zeros((starts, n, length, 2), np.float32)
    hog = np.zeros((starts, n, length, bins), np.float32)
    valid = np.zeros((starts, n, length), bool)
    inside = lambda px, py: (px >= 0) & (px <= w - 1) & (py >= 0) & (py <= h - 1)
    for t in range(starts):
        px, py = gx.ravel().copy(), gy.ravel().copy()
        alive = np.ones(n, bool)
        for l in range(length):
            d = _sample(flow[t + l], px, py)
            nx, ny = px + d[:, 0], py + d[:, 1]
            alive &= inside(px, py) & inside(nx, ny)
            ix = np.clip(np.rint(px), 0, w - 1).astype(np.int64)
            iy = np.clip(np.rint(py), 0, h - 1).astype(np.int64)
            hog[t, :, l] = np.where(alive[:, None], hists[t + l][iy, ix], 0)
            disp[t, :, l] = np.where(alive[:, None], d, 0)
            valid[t, :, l] = alive
            px, py = nx, ny
    gh, gw = len(ys), len(xs)
    return {"disp": disp.reshape(starts, gh, gw, length, 2).astype(np.float16),
            "hog": hog.reshape(starts, gh, gw, length, bins).astype(np.float16),
            "valid": valid.reshape(starts, gh, gw, length)}


def extract(frames: np.ndarray, tcfg: dict, flow_cfg: dict) -> dict[str, np.ndarray]:
    """The `traj` cache entry of a video: frames resized to `tcfg["short_side"]` (the training
    clip's geometry: grid spacing, HOG cell and flow bound are then clip pixels, whatever the
    source resolution), dense flow with params `motion.flow`, trajectories, plus `source_hw` and
    `tracked_hw` so that clipmotion can map a clip's crop (source pixels) into the tracked frames."""
    from motionmvm.motion import flow

    small = resize_short_side(frames, tcfg.get("short_side"))
    out = trajectories(small, flow.compute(small, flow_cfg), tcfg["length"], tcfg["patch"],
                       tcfg["bound"], tcfg["hog_bins"], tcfg["hog_cell"])
    out["source_hw"] = np.array(frames.shape[1:3], np.int32)
    out["tracked_hw"] = np.array(small.shape[1:3], np.int32)
    return out
