"""Pretraining clips: a manifest-backed video dataset plus per-sample masks.

Every sample is a pure function of (seed, epoch, index): its clip start and its mask come from
`numpy.random.default_rng([seed, epoch, index])`, so the data order and content survive a restart
(exact resume) and do not depend on how many DataLoader workers run or on which rank.

`ManifestVideos` reads the "ok" clips of split "train" from `data/P/<D>/manifest.jsonl` through
`motionmvm.data` (decord first, PyAV fallback), decoding only the frames a clip needs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from motionmvm.train.motion_inputs import KIND_OF, clip_motion, clip_trajectories

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ManifestVideos:
    """The usable training videos of a dataset directory (motionmvm.data manifest + video reader)."""

    def __init__(self, dataset_dir: str | Path, split: str = "train"):
        from motionmvm.data import manifest

        self.root = Path(dataset_dir)
        self.entries = manifest.load(self.root, status="ok", split=split)
        if not self.entries:
            raise ValueError(f"{self.root / 'manifest.jsonl'} has no usable clips in split {split!r}")

    def __len__(self) -> int:
        return len(self.entries)

    def num_frames(self, i: int) -> int:
        return int(self.entries[i]["frames"])

    def clip_id(self, i: int) -> str:
        return self.entries[i]["clip_id"]

    def read(self, i: int, indices) -> np.ndarray:
        """uint8 [len(indices), H, W, 3] RGB frames of video i."""
        from motionmvm.data.video import read_frames

        return read_frames(self.root / self.entries[i]["path"], indices)


class ArrayVideos:
    """In-memory videos (a list of uint8 [N, H, W, 3]) with the ManifestVideos interface."""

    def __init__(self, videos: list[np.ndarray]):
        self.videos = videos

    def __len__(self) -> int:
        return len(self.videos)

    def num_frames(self, i: int) -> int:
        return len(self.videos[i])

    def read(self, i: int, indices) -> np.ndarray:
        return self.videos[i][np.asarray(indices)]


def sample_clip(videos, i: int, num_frames: int, stride: int, size: int,
                rng: np.random.Generator) -> tuple[torch.Tensor, np.ndarray, tuple, tuple]:
    """Video i -> (clip float [3, num_frames, size, size] normalised with ImageNet mean/std,
    frame indices [num_frames], crop (y0, x0, side), video (H, W)).

    A random window of num_frames frames at `stride` (indices clamped to the last frame for short
    videos), a random square crop of the short side, resized to `size` (bilinear, antialiased).
    """
    n = videos.num_frames(i)
    span = (num_frames - 1) * stride + 1
    start = int(rng.integers(0, max(n - span, 0) + 1))
    idx = np.minimum(start + stride * np.arange(num_frames), n - 1)
    frames = videos.read(i, idx.tolist())
    _, h, w, _ = frames.shape
    side = min(h, w)
    y0, x0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    clip = torch.from_numpy(np.ascontiguousarray(frames[:, y0:y0 + side, x0:x0 + side])).permute(0, 3, 1, 2).float() / 255
    if side != size:
        clip = F.interpolate(clip, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    clip = ((clip - mean) / std).permute(1, 0, 2, 3).contiguous()
    return clip, idx, (y0, x0, side), (h, w)


class MaskedClips(Dataset):
    """Indexed by (epoch, index): {video: [3, T, S, S], mask: bool [T', H', W'], index}.

    `videos`: ManifestVideos or ArrayVideos (`__len__`, `num_frames(i)`, `read(i, indices)`).
    """

    def __init__(self, videos, spec, *, grid, num_frames: int, stride: int, size: int, seed: int,
                 tubelet: int = 2, masking_cfg: dict | None = None, motion_root=None):
        self.videos, self.spec, self.grid = videos, spec, tuple(grid)
        self.num_frames, self.stride, self.size, self.seed = num_frames, stride, size, seed
        self.tubelet, self.masking_cfg, self.motion_root = tubelet, masking_cfg, motion_root

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        epoch, i = key
        rng = np.random.default_rng([self.seed, epoch, i])
        video, idx, crop, hw = sample_clip(self.videos, i, self.num_frames, self.stride, self.size, rng)
        motion = {}
        if KIND_OF.get(self.spec.masking):
            if self.motion_root is None or not hasattr(self.videos, "clip_id"):
                raise ValueError(f"method {self.spec.name!r} needs the {KIND_OF[self.spec.masking]} "
                                 "motion cache of a manifest dataset")
            motion = clip_motion(self.motion_root, self.spec.masking, self.videos.clip_id(i), idx,
                                 crop, hw)
        mask = self.spec.mask_fn(self.grid, epoch, rng, motion, self.masking_cfg, self.tubelet)
        sample = {"video": video, "mask": torch.from_numpy(mask), "index": i}
        if self.spec.target == "trajectory":
            if self.motion_root is None or not hasattr(self.videos, "clip_id"):
                raise ValueError(f"method {self.spec.name!r} needs the traj motion cache of a manifest dataset")
            traj = clip_trajectories(self.motion_root, self.videos.clip_id(i), idx, crop, hw,
                                     self.grid[1:], self.size, self.tubelet)
            sample.update({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in traj.items()})
        return sample
