"""One clip's motion inputs from a per-video motion cache entry.

`motion_for_clip(entry, kind, frame_indices, crop_box, flip, out_size, patch, tubelet_t)` returns
the keyword arrays that the consumers take as they are:

| kind | returns | consumer |
|---|---|---|
| mv   | mv [T, S/4, S/4, 2] float32, mv_missing [T] bool | `masking.get("mgm")(..., **out)` |
| flow | flow [T-1, S, S, 2] float32 (between consecutive sampled frames), flow_backward (same, v_{t+1->t}) | `masking.get("mgmae")` |
| klt  | klt [T, S/p, S/p] uint8 (at the mask grid) | `masking.get("fgdm")` |
| traj | disp [T', 2S/p, 2S/p, L, 2], hog [..., L, 9] float32, valid [T', 2S/p, 2S/p, L] bool | `targets.trajectory_target` |

T = len(frame_indices) (indices into the stride-1 video), T' = T / tubelet_t, S = out_size
(int or (H, W)), p = model patch. Vectors are in output pixels (dx * S/w, dy * S/h), the flip
mirrors the grid and negates dx. Time alignment follows `motionmvm.masking.align` and
`motionmvm.targets.trajectory`.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from motionmvm.clipmotion.cache_io import KINDS, flow_pixels
from motionmvm.clipmotion.geometry import (ClipGeometry, any_overlap, bilinear_pixels, finish_map,
                                           finish_vectors, nearest_cells)
from motionmvm.masking.align import compose_flow, compose_flow_backward, select_frames
from motionmvm.targets.trajectory import gather_trajectories

MV_CELL = 4      # mv cache: one vector per 4 x 4 pixels
KLT_CELL = 8     # klt cache: one motion flag per 8 x 8 pixels


def _need(entry: dict, kind: str, keys: tuple[str, ...]) -> None:
    absent = [k for k in keys if k not in entry]
    if absent:
        raise ValueError(f"{kind} motion cache entry lacks {absent}; it has {sorted(entry)}")


def _indices(frame_indices, n_frames: int, tubelet_t: int, kind: str) -> np.ndarray:
    idx = np.asarray(frame_indices, dtype=np.int64)
    if idx.ndim != 1 or len(idx) == 0 or len(idx) % tubelet_t:
        raise ValueError(f"{kind}: frame_indices must be a 1-D list whose length is a multiple of "
                         f"tubelet_t={tubelet_t}, got shape {idx.shape}")
    if idx.min() < 0 or idx.max() >= n_frames or np.any(np.diff(idx) < 0):
        raise ValueError(f"{kind}: frame_indices must be non-decreasing within 0..{n_frames - 1} "
                         f"(the cached video's frames), got {idx.tolist()}")
    return idx


def mv_for_clip(entry, idx, geo: ClipGeometry, *, tubelet_t: int, **_) -> dict[str, np.ndarray]:
    """Codec MVs of the sampled frames: field[t] stays the dense video's motion t -> t+1 (MGM only
    locates motion with it, align.py), nearest-resampled to [T, S/4, S/4, 2]. Missing (intra)
    frames stay marked missing: `mgm` then averages a tubelet over its frames with vectors and
    a step with none keeps the block where it was."""
    _need(entry, "mv", ("field", "missing"))
    field, missing = np.asarray(entry["field"]), np.asarray(entry["missing"], dtype=bool)
    if field.ndim != 4 or field.shape[-1] != 2 or missing.shape != field.shape[:1]:
        raise ValueError(f"mv cache: field must be [F, H/4, W/4, 2] with missing [F], got "
                         f"{field.shape} and {missing.shape}")
    idx = _indices(idx, len(field), tubelet_t, "mv")
    geo.check_inside((field.shape[1] * MV_CELL, field.shape[2] * MV_CELL), MV_CELL, "mv")
    if geo.out_h % MV_CELL or geo.out_w % MV_CELL:
        raise ValueError(f"mv: out_size {geo.out_h}x{geo.out_w} must be a multiple of {MV_CELL}")
    sel = select_frames(field, idx, clamp=False)
    cells = nearest_cells(sel, MV_CELL, geo, (geo.out_h // MV_CELL, geo.out_w // MV_CELL))
    return {"mv": finish_vectors(cells, geo, x_axis=2), "mv_missing": missing[idx]}


def flow_for_clip(entry, idx, geo: ClipGeometry, *, tubelet_t: int, **_) -> dict[str, np.ndarray]:
    """Dense flow between consecutive sampled frames, [T-1, S, S, 2]: the stride-1 flows are
    chained at the original resolution first (`align.compose_flow`; content may enter the crop
    from outside it), then bilinear-resampled into the crop. A repeated index (a short video
    padded by its last frame) gets zero flow. The cache's backward flow (v_{t+1 -> t}, written by
    `motionmvm motion flow`) comes back the same way as `flow_backward`; an entry without it (a
    hand-made one) gives forward flow only."""
    _need(entry, "flow", ("flow",))
    out = {}
    for key, chain in (("flow", compose_flow), ("flow_backward", compose_flow_backward)):
        if key not in entry:
            continue
        flow = flow_pixels(entry, key)
        if flow.ndim != 4 or flow.shape[-1] != 2:
            raise ValueError(f"flow cache: {key} must be [F-1, H, W, 2], got {flow.shape}")
        idx = _indices(idx, len(flow) + 1, tubelet_t, "flow")
        geo.check_inside(flow.shape[1:3], 1, "flow")
        steps = np.zeros((len(idx) - 1,) + flow.shape[1:], np.float32)
        for i, (a, c) in enumerate(zip(idx[:-1], idx[1:])):
            if c > a:
                steps[i] = flow[a] if c == a + 1 else chain(flow, [a, c])[0]   # entry a: a <-> a+1
        out[key] = finish_vectors(bilinear_pixels(steps, geo), geo, x_axis=2)
    return out


def klt_for_clip(entry, idx, geo: ClipGeometry, *, patch: int, tubelet_t: int, **_) -> dict[str, np.ndarray]:
    """KLT motion maps of the sampled frames at the mask grid, [T, S/p, S/p] uint8: a token is 1
    when any KLT cell its crop footprint overlaps moved (fgdm's "a token moves if any KLT cell in
    it moved"; fgdm then maxes the tubelet's frames). The map of the video's last frame (none in
    the cache) reuses the last entry, as `align.select_frames` does."""
    _need(entry, "klt", ("motion_map",))
    maps = np.asarray(entry["motion_map"])
    if maps.ndim != 3:
        raise ValueError(f"klt cache: motion_map must be [F-1, H/8, W/8], got {maps.shape}")
    idx = _indices(idx, len(maps) + 1, tubelet_t, "klt")
    geo.check_inside((maps.shape[1] * KLT_CELL, maps.shape[2] * KLT_CELL), KLT_CELL, "klt")
    grid = _token_grid(geo, patch, "klt")
    region = any_overlap(select_frames(maps, idx, clamp=True), KLT_CELL, geo, grid)
    return {"klt": finish_map(region, geo, x_axis=2)}


def traj_for_clip(entry, idx, geo: ClipGeometry, *, patch: int, tubelet_t: int,
                  cache_patch: int | None = None) -> dict[str, np.ndarray]:
    """MME trajectories per token step and point of the clip's point grid.

    Time (targets.trajectory): token step k takes the trajectories starting at its first dense
    frame idx[tubelet_t k], over the next L frames of the stride-1 video; starts without a cached
    trajectory are invalid. Space: the clip needs K = 4 points per p x p patch of the resized
    clip, i.e. a grid of spacing p/2 from p/4 (2S/p points per side). The cache has such a grid
    with spacing cache_patch/2 in the tracked frames' pixels (cache_patch defaults to `patch`):
    the source video resized to the short side `motion.traj.short_side` when the entry records
    `source_hw` / `tracked_hw` (the crop box is mapped there), else the original pixels. Each clip
    point takes the nearest cache point (the cache point whose p/2 cell holds the clip point's
    original position); displacements are rescaled to output pixels. When (S/w) * cache_patch
    = patch the points coincide exactly; otherwise each clip point is at most a quarter
    cache_patch away from its source point, a zoom-in repeats source points and a zoom-out skips
    some. With a flip the grid is mirrored, dx negated and the 9 unsigned HOG bins reversed
    (orientation theta -> pi - theta maps bin b to 8 - b). HOG values stay as cached (computed
    at the original scale; the target normalises them per patch). Validity is the cache's
    (a point leaving the crop but not the frame stays valid).
    """
    _need(entry, "traj", ("disp", "hog", "valid"))
    disp, hog, valid = (np.asarray(entry[k]) for k in ("disp", "hog", "valid"))
    if "tracked_hw" in entry:   # tracked on resized frames (motion.traj.short_side): map the crop there
        geo = tracked_geometry(geo, entry["source_hw"], entry["tracked_hw"])
    if disp.ndim != 5 or disp.shape[-1] != 2:
        raise ValueError(f"traj cache: disp must be [F-L, Gh, Gw, L, 2], got {disp.shape}")
    spacing = (cache_patch or patch) / 2.0
    if spacing < 1 or int(spacing) != spacing:
        raise ValueError(f"traj: cache_patch must be an even number of pixels, got {cache_patch or patch}")
    n_video = len(disp) + disp.shape[3]                 # F = (F - L) + L
    idx = _indices(idx, n_video, tubelet_t, "traj")
    geo.check_inside((disp.shape[1] * spacing, disp.shape[2] * spacing), spacing, "traj")
    gh, gw = _token_grid(geo, patch, "traj")
    per_step = gather_trajectories(disp, hog, valid, idx, tubelet=tubelet_t)   # [T', Gh, Gw, ...]
    pick = {k: nearest_cells(v, spacing, geo, (2 * gh, 2 * gw)) for k, v in per_step.items()}
    out_hog = finish_map(pick["hog"].astype(np.float32), geo, x_axis=2)
    if geo.flip:
        out_hog = out_hog[..., ::-1].copy()
    return {"disp": finish_vectors(pick["disp"], geo, x_axis=2), "hog": out_hog,
            "valid": finish_map(pick["valid"], geo, x_axis=2)}


def tracked_geometry(geo: ClipGeometry, source_hw, tracked_hw) -> ClipGeometry:
    """`geo` (crop in source pixels) expressed in the pixels of frames resized from source_hw to
    tracked_hw."""
    sy, sx = (float(t) / float(s) for t, s in zip(tracked_hw, source_hw))
    return dataclasses.replace(geo, x0=geo.x0 * sx, y0=geo.y0 * sy, w=geo.w * sx, h=geo.h * sy)


def _token_grid(geo: ClipGeometry, patch: int, kind: str) -> tuple[int, int]:
    if patch < 1 or geo.out_h % patch or geo.out_w % patch:
        raise ValueError(f"{kind}: out_size {geo.out_h}x{geo.out_w} must be a multiple of patch {patch}")
    return geo.out_h // patch, geo.out_w // patch


_BY_KIND = {"mv": mv_for_clip, "flow": flow_for_clip, "klt": klt_for_clip, "traj": traj_for_clip}


def motion_for_clip(entry: dict[str, np.ndarray], kind: str, frame_indices, crop_box, flip: bool,
                    out_size, patch: int, tubelet_t: int = 2, *,
                    cache_patch: int | None = None) -> dict[str, np.ndarray]:
    """The motion inputs of one sampled, cropped, resized (and maybe flipped) clip; see the
    module docstring for what each kind returns.

    entry: one cache entry (`read_entry` / `motionmvm.motion.cache.read`); frame_indices: the
    clip's frames in the stride-1 video; crop_box: (x0, y0, w, h) original pixels; out_size: S
    or (H, W); patch: model patch p; tubelet_t: frames per token step; cache_patch: the patch
    the traj cache's point grid was built for (default p).
    """
    if kind not in _BY_KIND:
        raise ValueError(f"unknown motion kind {kind!r}; known: {KINDS}")
    if int(tubelet_t) != tubelet_t or tubelet_t < 1:
        raise ValueError(f"tubelet_t must be a positive integer, got {tubelet_t!r}")
    geo = ClipGeometry.make(crop_box, out_size, flip)
    return _BY_KIND[kind](entry, frame_indices, geo, patch=int(patch), tubelet_t=int(tubelet_t),
                          cache_patch=cache_patch)
