"""Clip preparation for the tokenizers: frames -> float tensor in [-0.5, 0.5] at tokenizer size.

A clip is `clip_frames` frames taken every `frame_stride` frames, resized (short side) and
centre-cropped to `size` (the pretraining input size), then downsampled by `input_downsample`
(DEMVM: 2x spatially, so the 2x4x4 tokenizer yields T/2 x H/8 x W/8 of the input size).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from motionmvm.data import manifest
from motionmvm.data.video import read_frames


def to_tensor(frames: np.ndarray, size: int, input_downsample: int) -> torch.Tensor:
    """frames uint8 [T, H, W, 3] -> float [3, T, size/ds, size/ds] in [-0.5, 0.5]."""
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected frames [T, H, W, 3], got {frames.shape}")
    out = size // input_downsample
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0  # [T,3,H,W]
    H, W = x.shape[-2:]
    scale = out / min(H, W)
    nh, nw = max(out, round(H * scale)), max(out, round(W * scale))
    x = F.interpolate(x, size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)
    top, left = (nh - out) // 2, (nw - out) // 2
    x = x[:, :, top:top + out, left:left + out]
    return (x.clamp(0, 1) - 0.5).permute(1, 0, 2, 3).contiguous()


def dataset_entries(dataset_dir: Path, split: str | None = None) -> list[dict]:
    """Manifest entries with status ok (optionally one split), sorted by clip id."""
    entries = manifest.load(dataset_dir, status="ok", split=split)
    if not entries:
        raise ValueError(f"{dataset_dir}: no usable clips (status ok"
                         + (f", split {split}" if split else "") + ") in manifest.jsonl")
    return sorted(entries, key=lambda e: e["clip_id"])


class VideoStore:
    """Training clips from a dataset. Datasets of at most `cache_videos` videos are decoded once
    and kept in memory (preprocessed, frame stride applied: [3, T, h, w] each); larger ones decode
    only the frames of each sampled clip."""

    def __init__(self, dataset_dir: Path, entries: list[dict], size: int, input_downsample: int,
                 frame_stride: int, cache_videos: int = 512):
        self.dataset_dir, self.entries = Path(dataset_dir), entries
        self.size, self.ds, self.stride = size, input_downsample, frame_stride
        self.cached = len(entries) <= cache_videos
        self._cache: dict[str, torch.Tensor] = {}

    def video(self, i: int) -> torch.Tensor:
        e = self.entries[i]
        if e["clip_id"] not in self._cache:
            frames = read_frames(self.dataset_dir / e["path"])[::self.stride]
            self._cache[e["clip_id"]] = to_tensor(frames, self.size, self.ds)
        return self._cache[e["clip_id"]]

    def random_clip(self, rng: np.random.Generator, clip_frames: int) -> torch.Tensor:
        """A random temporal window of `clip_frames` frames of a random video (short videos are
        padded by repeating their last frame), randomly flipped left-right."""
        i = int(rng.integers(len(self.entries)))
        if not self.cached:
            n = int(self.entries[i]["frames"])
            span = (clip_frames - 1) * self.stride + 1
            start = int(rng.integers(max(n - span, 0) + 1))
            idx = np.minimum(start + self.stride * np.arange(clip_frames), n - 1)
            frames = read_frames(self.dataset_dir / self.entries[i]["path"], idx.tolist())
            clip = to_tensor(frames, self.size, self.ds)
            return clip.flip(-1) if rng.random() < 0.5 else clip
        v = self.video(i)
        T = v.shape[1]
        if T < clip_frames:
            v = torch.cat([v, v[:, -1:].expand(-1, clip_frames - T, -1, -1)], dim=1)
            T = clip_frames
        start = int(rng.integers(T - clip_frames + 1))
        clip = v[:, start:start + clip_frames]
        return clip.flip(-1) if rng.random() < 0.5 else clip
