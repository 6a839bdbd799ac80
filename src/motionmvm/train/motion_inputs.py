"""A clip's motion inputs for motion-guided masking, cut from the per-video motion caches.

The caches are indexed by the full video's frames at their own resolution (docs/ARCHITECTURE.md).
For a clip (frame indices + square crop) this selects the clip's frames
(`motionmvm.masking.align`), chains stride-1 flow between consecutive clip frames (MGMAE), and
crops the same region at the cache's resolution. The strategies pool the maps to the token grid
themselves, so no resize is needed; flow stays in pixels of its own resolution (MGMAE warps at
that resolution).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

# Masking strategy -> the motion cache kind it reads.
KIND_OF = {"fgdm": "klt", "mgm": "mv", "mgm_sparse": "mv", "mgmae": "flow"}


def crop_spatial(arr: np.ndarray, crop: tuple[int, int, int], video_hw: tuple[int, int]) -> np.ndarray:
    """arr: [T, h, w, ...] at cache resolution; crop = (y0, x0, side) in video pixels."""
    y0, x0, side = crop
    sy, sx = arr.shape[1] / video_hw[0], arr.shape[2] / video_hw[1]
    ys, xs = int(round(y0 * sy)), int(round(x0 * sx))
    hh, ww = max(1, int(round(side * sy))), max(1, int(round(side * sx)))
    return arr[:, ys:ys + hh, xs:xs + ww]


def clip_motion(motion_root: str | Path, strategy: str, clip_id: str, frame_indices,
                crop: tuple[int, int, int], video_hw: tuple[int, int]) -> dict:
    """Keyword motion inputs of `strategy` for one clip ({} for strategies without motion)."""
    kind = KIND_OF.get(strategy)
    if kind is None:
        return {}
    from motionmvm.masking.align import compose_flow, select_frames
    from motionmvm.motion import cache

    arrays = cache.read(motion_root, kind, clip_id)
    idx = np.asarray(frame_indices)
    if kind == "mv":
        field = crop_spatial(select_frames(arrays["field"], idx).astype(np.float32), crop, video_hw)
        return {"mv": field, "mv_missing": select_frames(arrays["missing"], idx)}
    if kind == "klt":
        return {"klt": crop_spatial(select_frames(arrays["motion_map"], idx), crop, video_hw)}
    return {"flow": crop_spatial(compose_flow(arrays["flow"], idx), crop, video_hw)}


def _nearest_points(n_out: int, offset: int, side: int, size: int, spacing: float, n_cache: int):
    """Cache grid indices nearest to the clip's point grid along one axis.

    The clip's points sit at (j + 1/2) * size / n_out clip pixels (spacing p/2 from p/4, as the
    cache); in video pixels that is offset + that * side / size; the cache's points sit at
    spacing * (i + 1/2).
    """
    clip_px = (np.arange(n_out) + 0.5) * size / n_out
    video_px = offset + clip_px * side / size
    return np.clip(np.round(video_px / spacing - 0.5).astype(np.int64), 0, n_cache - 1)


def clip_trajectories(motion_root: str | Path, clip_id: str, frame_indices, crop, video_hw,
                      token_hw: tuple[int, int], size: int, tubelet: int) -> dict:
    """MME trajectories of one clip: traj_disp [T', 2H', 2W', L, 2] (clip pixels), traj_hog
    [T', 2H', 2W', L, 9], traj_valid [T', 2H', 2W', L].

    The cache's point grid (spacing p/2 of the video) is resampled to the clip's 2 x 2 points per
    token by nearest point after the crop, and displacements are scaled by the resize factor
    (the papers track at the input resolution; this is the nearest equivalent for a cached grid).
    """
    from motionmvm.motion import cache
    from motionmvm.targets.trajectory import gather_trajectories

    arrays = cache.read(motion_root, "traj", clip_id)
    g = gather_trajectories(arrays["disp"], arrays["hog"], arrays["valid"], frame_indices, tubelet)
    y0, x0, side = crop
    hg, wg = g["valid"].shape[1:3]
    sy, sx = video_hw[0] / hg, video_hw[1] / wg
    ys = _nearest_points(2 * token_hw[0], y0, side, size, sy, hg)
    xs = _nearest_points(2 * token_hw[1], x0, side, size, sx, wg)
    pick = np.ix_(np.arange(len(g["valid"])), ys, xs)
    return {"traj_disp": (g["disp"][pick].astype(np.float32) * (size / side)),
            "traj_hog": g["hog"][pick].astype(np.float32),
            "traj_valid": g["valid"][pick]}
