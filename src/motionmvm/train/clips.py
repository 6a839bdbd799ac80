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

from motionmvm.normalize import IMAGENET_MEAN, IMAGENET_STD


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

    def frame_hw(self, i: int) -> tuple[int, int]:
        return int(self.entries[i]["height"]), int(self.entries[i]["width"])

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

    def frame_hw(self, i: int) -> tuple[int, int]:
        return self.videos[i].shape[1:3]

    def read(self, i: int, indices) -> np.ndarray:
        return self.videos[i][np.asarray(indices)]


def load_clip(videos, i: int, idx: np.ndarray, crop: tuple[int, int, int], size: int) -> torch.Tensor:
    """Frames `idx` of video i, square crop (y0, x0, side), resized to `size` (bilinear,
    antialiased) -> float [3, T, size, size] normalised with ImageNet mean/std."""
    frames = videos.read(i, idx.tolist())
    y0, x0, side = crop
    clip = torch.from_numpy(np.ascontiguousarray(frames[:, y0:y0 + side, x0:x0 + side]))
    clip = clip.permute(0, 3, 1, 2).float() / 255
    if side != size:
        clip = F.interpolate(clip, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((clip - mean) / std).permute(1, 0, 2, 3).contiguous()


def sample_clip(videos, i: int, num_frames: int, stride: int, size: int,
                rng: np.random.Generator) -> tuple[torch.Tensor, np.ndarray, tuple, tuple]:
    """Video i -> (clip float [3, num_frames, size, size], frame indices [num_frames],
    crop (y0, x0, side), video (H, W)).

    A random window of num_frames frames at `stride` (indices clamped to the last frame for short
    videos) and a random square crop of the short side, resized to `size`.
    """
    n = videos.num_frames(i)
    span = (num_frames - 1) * stride + 1
    start = int(rng.integers(0, max(n - span, 0) + 1))
    idx = np.minimum(start + stride * np.arange(num_frames), n - 1)
    h, w = videos.frame_hw(i)
    side = min(h, w)
    crop = (int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1)), side)
    return load_clip(videos, i, idx, crop, size), idx, crop, (h, w)


def sample_token_clip(videos, i: int, tokens: dict, num_frames: int, tubelet: int, size: int,
                      rng: np.random.Generator):
    """A clip on the tokenizer's grid (DEMVM): it starts on a random token step, samples frames at
    the tokenizer's stride and takes the centre square crop (the tokenizer's preprocessing), so
    the token ids of steps k0 .. k0 + T' - 1 are exactly this clip's targets.

    tokens: a `cache/P/D/tokens/<clip>.npz` dict (tokens [T_tok, h, w], frame_index, frame_stride,
    size). -> (clip, frame indices, crop, video (H, W), ids int64 [T', h, w]).
    """
    if int(tokens["size"]) != size:
        raise ValueError(f"token targets were made at size {int(tokens['size'])}, the model takes "
                         f"clips of {size}; re-encode the tokens or rebuild the model")
    steps = num_frames // tubelet
    ids = tokens["tokens"]
    if len(ids) < steps:
        raise ValueError(f"video {i} has {len(ids)} token steps, a clip needs {steps}")
    k0 = int(rng.integers(0, len(ids) - steps + 1))
    n = videos.num_frames(i)
    idx = np.minimum(int(tokens["frame_index"][k0]) + int(tokens["frame_stride"]) * np.arange(num_frames), n - 1)
    h, w = videos.frame_hw(i)
    side = min(h, w)
    crop = ((h - side) // 2, (w - side) // 2, side)
    return (load_clip(videos, i, idx, crop, size), idx, crop, (h, w),
            ids[k0:k0 + steps].astype(np.int64))


class MaskedClips(Dataset):
    """Indexed by (epoch, index) or (epoch, index, progress): {video: [3, T, S, S],
    mask: bool [T', H', W'], index}. `progress` (fractional epochs, train/order.py) is what
    epoch-scheduled masking (DEMVM's PMR) reads; the sample's randomness depends on (epoch, index).

    `videos`: ManifestVideos or ArrayVideos (`__len__`, `num_frames(i)`, `read(i, indices)`).
    """

    def __init__(self, videos, spec, *, grid, num_frames: int, stride: int, size: int, seed: int,
                 tubelet: int = 2, masking_cfg: dict | None = None, motion_root=None,
                 tokens_root=None, traj_cache_patch: int | None = None):
        self.videos, self.spec, self.grid = videos, spec, tuple(grid)
        self.num_frames, self.stride, self.size, self.seed = num_frames, stride, size, seed
        self.tubelet, self.masking_cfg, self.motion_root = tubelet, masking_cfg, motion_root
        self.tokens_root, self.traj_cache_patch = tokens_root, traj_cache_patch

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, key: tuple) -> dict:
        epoch, i = key[0], key[1]
        progress = float(key[2]) if len(key) > 2 else float(epoch)
        rng = np.random.default_rng([self.seed, epoch, i])
        ids = None
        if self.spec.target == "tokens":
            if self.tokens_root is None or not hasattr(self.videos, "clip_id"):
                raise ValueError(f"method {self.spec.name!r} needs token targets of a manifest dataset")
            path = Path(self.tokens_root) / self.spec.tokens_dir / f"{self.videos.clip_id(i)}.npz"
            if not path.exists():
                raise FileNotFoundError(f"no token targets at {path}: run `motionmvm tokenizer encode`")
            with np.load(path) as z:
                tokens = {k: z[k] for k in z.files}
            video, idx, crop, hw, ids = sample_token_clip(self.videos, i, tokens, self.num_frames,
                                                          self.tubelet, self.size, rng)
        else:
            video, idx, crop, hw = sample_clip(self.videos, i, self.num_frames, self.stride, self.size, rng)
        motion = {}
        kind = self.spec.mask_motion(self.masking_cfg)  # e.g. mgm: mv, or flow (guidance ablation)
        if kind:
            if self.motion_root is None or not hasattr(self.videos, "clip_id"):
                raise ValueError(f"method {self.spec.name!r} needs the {kind} motion cache of a "
                                 "manifest dataset")
            motion = self._motion(kind, i, idx, crop)
        mask = self.spec.mask_fn(self.grid, progress, rng, motion, self.masking_cfg, self.tubelet)
        sample = {"video": video, "mask": torch.from_numpy(mask), "index": i}
        if ids is not None:
            sample["tokens"] = torch.from_numpy(ids)
        if self.spec.target == "trajectory":
            if self.motion_root is None or not hasattr(self.videos, "clip_id"):
                raise ValueError(f"method {self.spec.name!r} needs the traj motion cache of a manifest dataset")
            traj = self._motion("traj", i, idx, crop)
            sample.update({f"traj_{k}": torch.from_numpy(np.ascontiguousarray(traj[k]))
                           for k in ("disp", "hog", "valid")})
        return sample

    def _motion(self, kind: str, i: int, idx: np.ndarray, crop: tuple[int, int, int]) -> dict:
        """The clip's `kind` motion inputs (clipmotion: frames, crop and resize applied); maps
        are at the mask grid, whose cell is size / grid_w pixels of the clip."""
        from motionmvm.clipmotion import motion_for_clip, read_entry

        entry = read_entry(self.motion_root, kind, self.videos.clip_id(i))
        y0, x0, side = crop
        return motion_for_clip(entry, kind, idx, (x0, y0, side, side), False, self.size,
                               self.size // self.grid[2], self.tubelet,
                               cache_patch=self.traj_cache_patch if kind == "traj" else None)
