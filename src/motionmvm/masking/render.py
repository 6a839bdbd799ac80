"""Inputs and pictures for `motionmvm show-masks`: frames of a clip, its motion arrays (from cache
.npz files or computed on the spot with OpenCV), and mask overlays (PNG grid + GIF)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def read_clip(path: str | Path, frames: int, stride: int, size: int):
    """(frames [T, size, size, 3] uint8 RGB, frame indices into the video, video (H, W)) of the
    first clip.

    Uses `motionmvm.data.video.read_frames` to decode the video.
    """
    import cv2

    from motionmvm.data.video import read_frames

    video = read_frames(path)
    need = (frames - 1) * stride + 1
    if len(video) < need:
        raise ValueError(f"{path}: {len(video)} frames, a clip of {frames} at stride {stride} "
                         f"needs {need}")
    idx = np.arange(frames) * stride
    clip = np.stack([cv2.resize(video[i], (size, size), interpolation=cv2.INTER_AREA) for i in idx])
    return clip, idx, video.shape[1:3]


def _resize_field(field: np.ndarray, size: int, src_hw: tuple[int, int]) -> np.ndarray:
    """Displacement maps [N, h, w, 2] of a video of src_hw pixels -> [N, size, size, 2] in pixels
    of the size x size clip (values scaled with the resize)."""
    import cv2

    sy, sx = size / src_hw[0], size / src_hw[1]
    out = np.stack([cv2.resize(f.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
                    for f in field])
    return out * np.array([sx, sy], np.float32)


def motion_from_npz(kind: str, path: str | Path, idx: np.ndarray, size: int,
                    src_hw: tuple[int, int]) -> dict:
    """Motion keyword inputs from a motion-cache file (docs/ARCHITECTURE.md formats)."""
    from motionmvm.masking.align import compose_flow, select_frames

    data = np.load(path)
    if kind == "mv":
        out = {"mv": select_frames(data["field"], idx)}
        if "missing" in data:
            out["mv_missing"] = select_frames(data["missing"], idx)
        return out
    if kind == "klt":
        return {"klt": select_frames(data["motion_map"], idx)}
    if kind == "flow":
        flow = data["flow"].astype(np.float32) / float(data["scale"]) if "scale" in data \
            else data["flow"].astype(np.float32)
        return {"flow": _resize_field(compose_flow(flow, idx), size, src_hw)}
    raise ValueError(f"unknown motion kind {kind!r}")


def compute_motion(clip: np.ndarray) -> dict:
    """Motion of the clip itself (when no cache file is given): Farneback dense flow between
    consecutive clip frames (`flow` [T-1, H, W, 2]) and KLT motion maps at H/8 (`klt`
    [T-1, H/8, W/8]: Shi-Tomasi corners tracked by pyramidal Lucas-Kanade, cells where a
    point moved more than 1 px)."""
    import cv2

    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in clip]
    h, w = gray[0].shape
    flows, klt = [], []
    for a, b in zip(gray[:-1], gray[1:]):
        flows.append(cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0))
        m = np.zeros((h // 8, w // 8), np.uint8)
        pts = cv2.goodFeaturesToTrack(a, maxCorners=400, qualityLevel=0.01, minDistance=4)
        if pts is not None:
            nxt, st, _ = cv2.calcOpticalFlowPyrLK(a, b, pts, None)
            moved = (st[:, 0] == 1) & (np.linalg.norm(nxt - pts, axis=-1)[:, 0] > 1.0)
            p = pts[moved, 0].astype(int)
            m[np.clip(p[:, 1] // 8, 0, h // 8 - 1), np.clip(p[:, 0] // 8, 0, w // 8 - 1)] = 1
        klt.append(m)
    return {"flow": np.stack(flows), "klt": np.stack(klt)}


def overlay(clip: np.ndarray, mask: np.ndarray, patch: int, tubelet: int) -> np.ndarray:
    """Frames [T, H, W, 3] with masked tokens dimmed and tinted blue; mask [T', H', W']."""
    full = np.repeat(np.repeat(np.repeat(mask, tubelet, 0), patch, 1), patch, 2)
    out = clip.astype(np.float32)
    out[full] = out[full] * 0.3 + np.array([20.0, 40.0, 110.0])
    return out.astype(np.uint8)


def motion_image(motion: dict, t: int, size: int) -> np.ndarray | None:
    """Magnitude picture [size, size] of the guiding motion at clip frame t (None if absent)."""
    import cv2

    for key in ("flow", "mv", "klt"):
        if key in motion:
            arr = np.asarray(motion[key])
            a = arr[min(t, len(arr) - 1)].astype(np.float32)
            mag = np.linalg.norm(a, axis=-1) if a.ndim == 3 else a
            return cv2.resize(mag, (size, size), interpolation=cv2.INTER_NEAREST)
    return None


def save_png(path: Path, clip, masks: dict, motion: dict, patch: int, tubelet: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = clip.shape[0] // tubelet
    rows = 2 + len(masks)
    fig, axes = plt.subplots(rows, steps, figsize=(1.6 * steps, 1.6 * rows), squeeze=False)
    for k in range(steps):
        t = k * tubelet
        axes[0, k].imshow(clip[t])
        axes[0, k].set_title(f"frame {t}", fontsize=7)
        mimg = motion_image(motion, t, clip.shape[1])
        if mimg is not None:
            axes[1, k].imshow(mimg, cmap="magma")
        for r, (name, m) in enumerate(masks.items(), start=2):
            axes[r, k].imshow(overlay(clip, m, patch, tubelet)[t])
    axes[0, 0].set_ylabel("clip", fontsize=7)
    axes[1, 0].set_ylabel("motion", fontsize=7)
    for r, name in enumerate(masks, start=2):
        axes[r, 0].set_ylabel(name, fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def save_gif(path: Path, clip, masks: dict, patch: int, tubelet: int, fps: float = 4.0) -> None:
    """Animated GIF: each frame shows every strategy's masked clip side by side."""
    import imageio.v2 as imageio

    tiles = [overlay(clip, m, patch, tubelet) for m in masks.values()]
    frames = [np.concatenate([clip[t]] + [tile[t] for tile in tiles], axis=1)
              for t in range(clip.shape[0])]
    # imageio >= 2.28 writes GIFs through Pillow: duration is per frame in milliseconds
    imageio.mimsave(path, frames, format="GIF", duration=int(round(1000.0 / fps)), loop=0)
