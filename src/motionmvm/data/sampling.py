"""Frame-index sampling for clips (indices into the full decoded video, stride 1 = every frame).

- sparse: `num_frames` at `stride` from a random start in training (VideoMAE), the centred
  window in test;
- dense: stride 1 (trajectory targets need consecutive frames);
- multi-view test: `clips` windows at uniform temporal positions (e.g. 5x3 or 2x3 with crops).
A video shorter than one window is an error (the manifest quarantines such videos beforehand).
"""
from __future__ import annotations

import numpy as np


def span(num_frames: int, stride: int) -> int:
    """Frames a window covers: (num_frames - 1) * stride + 1."""
    return (num_frames - 1) * stride + 1


def _check(n_video: int, num_frames: int, stride: int) -> int:
    if num_frames < 1 or stride < 1:
        raise ValueError(f"num_frames and stride must be >= 1, got {num_frames}, {stride}")
    need = span(num_frames, stride)
    if n_video < need:
        raise ValueError(f"video has {n_video} frames, a clip of {num_frames} at stride {stride} needs {need}")
    return n_video - need  # last valid start


def sparse_indices(n_video: int, num_frames: int, stride: int, *, train: bool,
                   rng: np.random.Generator | None = None) -> np.ndarray:
    """Indices int64 `[num_frames]`: random start (train, needs `rng`) or centred window (test)."""
    last = _check(n_video, num_frames, stride)
    if train:
        if rng is None:
            raise ValueError("training sampling needs a seeded rng")
        start = int(rng.integers(0, last + 1))
    else:
        start = last // 2
    return start + stride * np.arange(num_frames, dtype=np.int64)


def dense_indices(n_video: int, num_frames: int, *, train: bool, rng: np.random.Generator | None = None) -> np.ndarray:
    """Consecutive frames (stride 1), `[num_frames]`."""
    return sparse_indices(n_video, num_frames, 1, train=train, rng=rng)


def multiview_indices(n_video: int, num_frames: int, stride: int, clips: int) -> np.ndarray:
    """`[clips, num_frames]` windows whose starts are spread uniformly over the valid range."""
    last = _check(n_video, num_frames, stride)
    starts = np.linspace(0, last, clips).round().astype(np.int64) if clips > 1 else np.array([last // 2])
    return starts[:, None] + stride * np.arange(num_frames, dtype=np.int64)[None]
