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
