"""Pretraining clips: a manifest-backed video dataset plus per-sample masks.

Every sample is a pure function of (seed, epoch, index): its clip start and its mask come from
`numpy.random.default_rng([seed, epoch, index])`, so the data order and content survive a restart
(exact resume) and do not depend on how many DataLoader workers run or on which rank.

Until `motionmvm.data` provides the dataset, `ManifestVideos` reads `data/P/<D>/manifest.jsonl`
(status "ok", split "train") and decodes with PyAV.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def read_frames(path: str | Path) -> np.ndarray:
    """All frames of a video as np.uint8 [T, H, W, 3] (RGB) via PyAV."""
    import av

    try:
        with av.open(str(path)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    except (av.error.FFmpegError, OSError) as exc:
        raise RuntimeError(f"cannot decode {path}: {exc}") from exc
    if not frames:
        raise RuntimeError(f"no frames decoded from {path}")
    return np.stack(frames)


class ManifestVideos:
    """The training videos of a dataset directory (`manifest.jsonl` entries with status ok)."""

    def __init__(self, dataset_dir: str | Path, split: str = "train"):
        self.root = Path(dataset_dir)
        manifest = self.root / "manifest.jsonl"
        if not manifest.exists():
            raise FileNotFoundError(f"no manifest at {manifest}; prepare the dataset first")
        rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
        self.entries = [r for r in rows if r.get("status", "ok") == "ok" and r.get("split") == split]
        if not self.entries:
            raise ValueError(f"{manifest} has no usable clips in split {split!r}")

    def __len__(self) -> int:
        return len(self.entries)

    def frames(self, i: int) -> np.ndarray:
        path = Path(self.entries[i]["path"])
        return read_frames(path if path.is_absolute() else self.root / path)

    def clip_id(self, i: int) -> str:
        return self.entries[i]["clip_id"]


def sample_clip(frames: np.ndarray, num_frames: int, stride: int, size: int,
                rng: np.random.Generator) -> torch.Tensor:
    """frames: uint8 [N, H, W, 3] -> normalised float [3, num_frames, size, size].

    A random window of num_frames frames at `stride` (indices clamped to the last frame for short
    videos), a random square crop of the short side, resized to `size` (bilinear).
    """
    n, h, w, _ = frames.shape
    span = (num_frames - 1) * stride + 1
    start = int(rng.integers(0, max(n - span, 0) + 1))
    idx = np.minimum(start + stride * np.arange(num_frames), n - 1)
    side = min(h, w)
    y0, x0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    clip = torch.from_numpy(frames[idx, y0:y0 + side, x0:x0 + side]).permute(0, 3, 1, 2).float() / 255
    if side != size:
        clip = F.interpolate(clip, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((clip - mean) / std).permute(1, 0, 2, 3).contiguous()


class MaskedClips(Dataset):
    """Indexed by (epoch, index): {video: [3, T, S, S], mask: bool [T', H', W'], index}.

    `videos` needs `__len__` and `frames(i) -> uint8 [N, H, W, 3]`.
    """

    def __init__(self, videos, spec, *, grid, num_frames: int, stride: int, size: int, seed: int):
        self.videos, self.spec, self.grid = videos, spec, tuple(grid)
        self.num_frames, self.stride, self.size, self.seed = num_frames, stride, size, seed

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        epoch, i = key
        rng = np.random.default_rng([self.seed, epoch, i])
        video = sample_clip(self.videos.frames(i), self.num_frames, self.stride, self.size, rng)
        mask = self.spec.mask_fn(self.grid, epoch, rng)
        return {"video": video, "mask": torch.from_numpy(mask), "index": i}
