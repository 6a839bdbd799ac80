"""KLT flow points turned into the per-frame motion maps of DEMVM's Flow-Guided Dense Masking.

Paper 000 (sec. 3.2, eq. 6-7): V_t = KLT(X_t, X_{t+1}) for consecutive frames, then
V_{p,t} = SpatialBilinearUpsample(V_t, 8) onto the mask grid. Here V_t is a binary map on the
(H/8, W/8) cell grid of the decoded frame: a cell is 1 when a Shi-Tomasi corner of frame t that
lies in the cell was tracked by pyramidal Lucas-Kanade to frame t+1 and moved by more than
`threshold` pixels. The x8 upsampling to the mask grid is the masking code's job.
"""
from __future__ import annotations

import numpy as np


def track_pair(a: np.ndarray, b: np.ndarray, cfg: dict) -> np.ndarray:
    """Corners of gray frame a tracked to gray frame b: [N, 4] float32 (x0, y0, x1, y1), only
    points whose forward LK status is ok."""
    import cv2

    pts = cv2.goodFeaturesToTrack(a, maxCorners=cfg["max_corners"], qualityLevel=cfg["quality_level"],
                                  minDistance=cfg["min_distance"], blockSize=cfg["block_size"])
    if pts is None:
        return np.zeros((0, 4), np.float32)
    win = cfg["win_size"]
    nxt, status, _err = cv2.calcOpticalFlowPyrLK(
        a, b, pts, None, winSize=(win, win), maxLevel=cfg["max_level"],
        criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))
    ok = status.ravel() == 1
    return np.concatenate([pts.reshape(-1, 2)[ok], nxt.reshape(-1, 2)[ok]], 1).astype(np.float32)


def motion_map(points: np.ndarray, height: int, width: int, cell: int, threshold: float) -> np.ndarray:
    """uint8 [ceil(H/cell), ceil(W/cell)]: 1 where a point (at its frame-t position) moved > threshold."""
    gh, gw = -(-height // cell), -(-width // cell)
    out = np.zeros((gh, gw), np.uint8)
    if len(points):
        moved = np.hypot(points[:, 2] - points[:, 0], points[:, 3] - points[:, 1]) > threshold
        xs = np.clip((points[moved, 0] // cell).astype(np.int64), 0, gw - 1)
        ys = np.clip((points[moved, 1] // cell).astype(np.int64), 0, gh - 1)
        out[ys, xs] = 1
    return out


def extract(frames: np.ndarray, cfg: dict) -> dict[str, np.ndarray]:
    """frames [F, H, W, 3] uint8 -> motion_map uint8 [F-1, H/8, W/8], points float32 [N, 4]
    (x0, y0, x1, y1 of every tracked point, all pairs concatenated), offsets int64 [F] (points of
    pair t are points[offsets[t]:offsets[t+1]])."""
    import cv2

    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    h, w = gray[0].shape
    maps, pts = [], []
    for t in range(len(gray) - 1):
        p = track_pair(gray[t], gray[t + 1], cfg)
        pts.append(p)
        maps.append(motion_map(p, h, w, cfg["cell"], cfg["threshold"]))
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in pts])]).astype(np.int64)
    return {"motion_map": np.stack(maps), "points": np.concatenate(pts) if pts else np.zeros((0, 4), np.float32),
            "offsets": offsets}
