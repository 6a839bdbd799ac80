"""Clip dataset for torch DataLoaders: decoded, sampled, cropped, normalised clips from a manifest.

Each item: `video` float32 `[C, T, H, W]` (ImageNet mean/std), `label`, `clip_id`, `frames`
int64 `[T]` (indices into the full video, to align motion caches/targets), `crop` float32
`[4]` (x0, y0, x1, y1 in source pixels), `flip` bool, `view` (multi-view index).
Randomness per item comes from a torch.Generator seeded by (seed, epoch, index), so results do not
depend on the number of workers. Only manifest entries with status "ok" are used.

Horizontal flip is off by default: it mirrors motion (translate_right <-> translate_left, cw <->
ccw), which changes the label of direction classes in synth (and SSv2-like data).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from motionmvm.data import manifest, sampling, video

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def three_crops(h: int, w: int, side: int) -> list[tuple[int, int, int, int]]:
    """Left/centre/right squares of `side` (top/centre/bottom for portrait frames)."""
    if w >= h:
        xs = [0, (w - side) // 2, w - side]
        y = (h - side) // 2
        return [(x, y, x + side, y + side) for x in xs]
    ys = [0, (h - side) // 2, h - side]
    x = (w - side) // 2
    return [(x, y, x + side, y + side) for y in ys]


def multiscale_crop(h: int, w: int, scales, g: torch.Generator) -> tuple[int, int, int, int]:
    """TSN-style multi-scale crop: width and height each a scale of the short side, random position."""
    base = min(h, w)
    pick = lambda: scales[int(torch.randint(len(scales), (1,), generator=g))]
    cw, ch = int(base * pick()), int(base * pick())
    x0 = int(torch.randint(w - cw + 1, (1,), generator=g))
    y0 = int(torch.randint(h - ch + 1, (1,), generator=g))
    return x0, y0, x0 + cw, y0 + ch


class ClipDataset(torch.utils.data.Dataset):
    def __init__(self, dataset_dir, split: str, num_frames: int = 16, stride: int = 2, size: int = 112,
                 train: bool = True, clips: int = 1, crops: int = 1, flip: bool = False,
                 scales=(1.0, 0.875, 0.75, 0.66), seed: int = 0):
        self.dir = Path(dataset_dir)
        self.entries = manifest.load(self.dir, status="ok", split=split)
        self.num_frames, self.stride, self.size, self.train = num_frames, stride, size, train
        self.clips, self.crops = (1, 1) if train else (clips, crops)
        self.flip, self.scales, self.seed, self.epoch = flip, tuple(scales), seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.entries) * self.clips * self.crops

    def __getitem__(self, i: int) -> dict:
        e = self.entries[i // (self.clips * self.crops)]
        view = i % (self.clips * self.crops)
        g = torch.Generator().manual_seed(hash((self.seed, self.epoch, i)) & 0x7FFFFFFF)
        rng = np.random.default_rng(int(torch.randint(2**31 - 1, (1,), generator=g)))
        if self.train:
            idx = sampling.sparse_indices(e["frames"], self.num_frames, self.stride, train=True, rng=rng)
        else:
            idx = sampling.multiview_indices(e["frames"], self.num_frames, self.stride, self.clips)[view // self.crops]
        frames = video.read_frames(self.dir / e["path"], idx)
        h, w = frames.shape[1:3]
        if self.train:
            box = multiscale_crop(h, w, self.scales, g)
            flip = self.flip and bool(torch.rand(1, generator=g) < 0.5)
        else:
            side = min(h, w)
            box = three_crops(h, w, side)[view % self.crops if self.crops == 3 else 1]
            flip = False
        x0, y0, x1, y1 = box
        out = np.stack([cv2.resize(f[y0:y1, x0:x1], (self.size, self.size), interpolation=cv2.INTER_LINEAR)
                        for f in frames])
        if flip:
            out = out[:, :, ::-1]
        x = (out.astype(np.float32) / 255.0 - MEAN) / STD
        return {"video": torch.from_numpy(np.ascontiguousarray(x.transpose(3, 0, 1, 2))), "label": e["label"],
                "clip_id": e["clip_id"], "frames": torch.from_numpy(idx), "crop": torch.tensor(box, dtype=torch.float32),
                "flip": flip, "view": view}


def make_loader(ds: ClipDataset, batch_size: int, workers: int = 2, shuffle: bool = True, seed: int = 0):
    """A DataLoader with worker processes and a seeded shuffling generator."""
    return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=shuffle, num_workers=workers,
                                       generator=torch.Generator().manual_seed(seed),
                                       persistent_workers=False)
