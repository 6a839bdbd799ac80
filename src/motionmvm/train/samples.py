"""Pretraining samples: clips from the clip path (`motionmvm.data.clips`) plus per-clip masks,
motion inputs and token targets.

Every sample is a pure function of (seed, epoch, index): its clip windows, crops and masks come
from `numpy.random.default_rng([seed, epoch, index])`, so the data order and content survive a
restart (exact resume) and do not depend on how many DataLoader workers run or on which rank.

Repeated sampling (`pretrain.repeated_sampling` = k, mae_st / VideoMAE V2): item (epoch, i) decodes
video i once and returns k clips of it, each with its own window, crop and mask, all from the same
generator (the k windows and crops first, then the k masks; k = 1 is exactly the single clip of
before). `collate` flattens them into the batch.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from motionmvm.clipmotion.cache_io import EntryMemo, read_entry
from motionmvm.data import clips as cp


def sample_token_clip(videos, i: int, tokens: dict, num_frames: int, tubelet: int, size: int,
                      rng: np.random.Generator):
    """A clip on the tokenizer's grid (DEMVM): it starts on a random token step, samples frames at
    the tokenizer's stride and takes the centre square crop (the tokenizer's preprocessing), so
    the token ids of steps k0 .. k0 + T' - 1 are exactly this clip's targets.

    tokens: a `cache/P/D/tokens/<clip>.npz` dict (tokens [T_tok, h, w], frame_index, frame_stride,
    size). -> (clip, frame indices, box (x0, y0, w, h), ids int64 [T', h, w]).
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
    idx = cp.window(n, num_frames, int(tokens["frame_stride"]), int(tokens["frame_index"][k0]))
    h, w = videos.frame_hw(i)
    side = min(h, w)
    box = ((w - side) // 2, (h - side) // 2, side, side)
    return cp.clip_at(videos, i, idx, box, size), idx, box, ids[k0:k0 + steps].astype(np.int64)


def collate(items: list) -> dict:
    """A micro-batch: one sample dict per item (k = 1) or k per item, flattened in order."""
    flat = [s for it in items for s in (it if isinstance(it, list) else [it])]
    return default_collate(flat)


class MaskedClips(Dataset):
    """Indexed by (epoch, index) or (epoch, index, progress): {video: [3, T, S, S],
    mask: bool [T', H', W'], index} (a list of `repeats` such dicts when repeats > 1). `progress`
    (fractional epochs, train/order.py) is what epoch-scheduled masking (DEMVM's PMR) reads; the
    sample's randomness depends on (epoch, index) only.

    `videos`: a `data.clips.VideoSet` or `ArrayVideos`.
    """

    def __init__(self, videos, spec, *, grid, num_frames: int, stride: int, size: int, seed: int,
                 tubelet: int = 2, masking_cfg: dict | None = None, motion_root=None,
                 tokens_root=None, traj_cache_patch: int | None = None, repeats: int = 1,
                 scales=(1.0,), motion_memo_mb: int = 0):
        self.videos, self.spec, self.grid = videos, spec, tuple(grid)
        self.num_frames, self.stride, self.size, self.seed = num_frames, stride, size, seed
        self.tubelet, self.masking_cfg, self.motion_root = tubelet, masking_cfg, motion_root
        self.tokens_root, self.traj_cache_patch = tokens_root, traj_cache_patch
        self.repeats, self.scales = repeats, tuple(scales)
        self.memo = EntryMemo(motion_memo_mb * 2**20)

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, key: tuple):
        epoch, i = key[0], key[1]
        progress = float(key[2]) if len(key) > 2 else float(epoch)
        rng = np.random.default_rng([self.seed, epoch, i])
        if self.spec.target == "tokens":
            tokens = self._tokens(i)
            views = []
            for _ in range(self.repeats):
                video, idx, box, ids = sample_token_clip(self.videos, i, tokens, self.num_frames,
                                                         self.tubelet, self.size, rng)
                views.append({"video": video, "frames": idx, "box": box, "ids": ids})
        else:
            views = cp.sample_clips(self.videos, i, num_frames=self.num_frames, stride=self.stride,
                                    size=self.size, rng=rng, repeats=self.repeats, scales=self.scales)
        out = [self._finish(v, progress, i, rng) for v in views]
        return out[0] if self.repeats == 1 else out

    def _tokens(self, i: int) -> dict:
        if self.tokens_root is None or not hasattr(self.videos, "entries"):
            raise ValueError(f"method {self.spec.name!r} needs token targets of a manifest dataset")
        path = Path(self.tokens_root) / self.spec.tokens_dir / f"{self.videos.clip_id(i)}.npz"
        if not path.exists():
            raise FileNotFoundError(f"no token targets at {path}: run `motionmvm tokenizer encode`")
        with np.load(path) as z:
            return {k: z[k] for k in z.files}

    def _finish(self, view: dict, progress: float, i: int, rng: np.random.Generator) -> dict:
        """Mask (and motion / trajectory targets) of one clip, drawn after its window and crop."""
        idx, box = view["frames"], view["box"]
        motion = {}
        kind = self.spec.mask_motion(self.masking_cfg)  # e.g. mgm: mv, or flow (guidance ablation)
        if kind:
            motion = self._motion(kind, i, idx, box)
        mask = self.spec.mask_fn(self.grid, progress, rng, motion, self.masking_cfg, self.tubelet)
        sample = {"video": view["video"], "mask": torch.from_numpy(mask), "index": i}
        if "ids" in view:
            sample["tokens"] = torch.from_numpy(view["ids"])
        if self.spec.target == "trajectory":
            traj = self._motion("traj", i, idx, box)  # kept arrays are read-only: copy them
            sample.update({f"traj_{k}": torch.tensor(np.ascontiguousarray(traj[k]))
                           for k in ("disp", "hog", "valid")})
        return sample

    def _motion(self, kind: str, i: int, idx: np.ndarray, box: tuple[int, int, int, int]) -> dict:
        """The clip's `kind` motion inputs (clipmotion: frames, crop and resize applied); maps
        are at the mask grid, whose cell is size / grid_w pixels of the clip. The cache was
        extracted from the manifest's video, the one the clip store holds."""
        from motionmvm.clipmotion import motion_for_clip

        if self.motion_root is None or not hasattr(self.videos, "entries"):
            raise ValueError(f"method {self.spec.name!r} needs the {kind} motion cache of a manifest dataset")
        clip_id = self.videos.clip_id(i)

        def load() -> dict:
            entry = read_entry(self.motion_root, kind, clip_id)
            return motion_for_clip(entry, kind, idx, box, False, self.size,
                                   self.size // self.grid[2], self.tubelet,
                                   cache_patch=self.traj_cache_patch if kind == "traj" else None)

        # A clip has few windows (32 frames at stride 4: 4 starts) and, without random crops, one
        # box: its windows recur every epoch, so keep what they make too.
        window = ("window", str(self.motion_root), kind, clip_id, tuple(np.asarray(idx).tolist()),
                  tuple(np.asarray(box).tolist()))
        return self.memo.get(window, load)
