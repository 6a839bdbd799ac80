"""Clips of one dataset split, decoded once and held in memory, and the views drawn from them.

Reads the dataset's manifest (`motionmvm.data.manifest.load`) and its class index; frames come from
`motionmvm.data.video.read_frames`. A clip that the manifest quarantines, or that fails to decode
here, is listed with its reason and left out; it is never replaced by another clip.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from motionmvm.data import manifest as manifest_mod
from motionmvm.data.video import VideoError, read_frames


def class_names(dataset_dir: str | Path) -> list[str]:
    """Class names in index order from `classInd.txt` (`motionmvm.data.manifest.read_class_index`)."""
    return manifest_mod.read_class_index(dataset_dir)


def _resize_short(frames: np.ndarray, size: int) -> np.ndarray:
    """[F, H, W, 3] -> short side `size` (area interpolation when shrinking)."""
    f, h, w, _ = frames.shape
    s = size / min(h, w)
    nh, nw = max(size, round(h * s)), max(size, round(w * s))
    if (nh, nw) == (h, w):
        return frames
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    return np.stack([cv2.resize(fr, (nw, nh), interpolation=interp) for fr in frames])


@dataclass
class ClipBank:
    """Decoded clips: frames[i] uint8 [F_i, H, W, 3] with short side `size`; labels int [N]."""

    dataset_dir: str
    split: str
    clip_ids: list[str]
    labels: np.ndarray
    frames: list[np.ndarray]
    class_names: list[str]
    quarantined: list[dict] = field(default_factory=list)
    # how the clips were chosen (recorded with a run's predictions, recomputed by the audit):
    # {dataset, split, max_clips, seed}: usable clips of `split`, the seeded class-stratified subset
    # of at most max_clips (0 = all), minus clips that fail to decode (listed in `quarantined`)
    selection: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.clip_ids)

    def subset(self, idx) -> "ClipBank":
        idx = list(idx)
        return ClipBank(self.dataset_dir, self.split, [self.clip_ids[i] for i in idx], self.labels[idx],
                        [self.frames[i] for i in idx], self.class_names, self.quarantined, self.selection)


def load_bank(dataset_dir: str | Path, split: str, size: int, max_clips: int = 0,
              seed: int = 0, classes: dict[str, str] | None = None) -> ClipBank:
    """All usable clips of `split` ("train" | "test"), optionally a seeded class-stratified subset
    of at most `max_clips` (0 = all).

    classes: dataset class -> label name, in label order (a partial domain adaptation class list,
    `motionmvm.datasets.classlists`): only clips of these classes, labelled by the mapped names.
    """
    dataset_dir = Path(dataset_dir)
    names = class_names(dataset_dir)
    entries = manifest_mod.load(dataset_dir, status=None, split=split)
    if classes is not None:
        unknown = sorted(set(classes) - set(names))
        if unknown:
            raise ValueError(f"classes {unknown} are not in {dataset_dir}/classInd.txt (names must match exactly)")
        entries = [{**e, "label_name": classes[e["label_name"]]} for e in entries if e["label_name"] in classes]
        names = list(dict.fromkeys(classes.values()))
    index = {n: i for i, n in enumerate(names)}
    if not entries:
        raise ValueError(f"{dataset_dir}: no clips in split {split!r}")
    quarantined = [{"clip_id": e["clip_id"], "reason": e["reason"]} for e in entries if e["status"] != "ok"]
    ok = [e for e in entries if e["status"] == "ok"]
    if max_clips and len(ok) > max_clips:
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(ok))
        # round-robin over classes keeps the subset balanced
        by_class: dict[str, list[int]] = {}
        for i in order:
            by_class.setdefault(ok[i]["label_name"], []).append(int(i))
        pick, queues = [], [by_class[c] for c in sorted(by_class)]
        while len(pick) < max_clips:
            for q in queues:
                if q and len(pick) < max_clips:
                    pick.append(q.pop())
        ok = [ok[i] for i in sorted(pick)]
    ids, labels, frames = [], [], []
    for e in ok:
        if e["label_name"] not in index:
            raise ValueError(f"{e['clip_id']}: class {e['label_name']!r} is not in {dataset_dir}/classInd.txt")
        try:
            fr = read_frames(dataset_dir / e["path"])
        except VideoError as exc:
            quarantined.append({"clip_id": e["clip_id"], "reason": f"decode at evaluation: {exc}"})
            continue
        ids.append(e["clip_id"])
        labels.append(index[e["label_name"]])
        frames.append(_resize_short(fr, size))
    if not ids:
        raise ValueError(f"{dataset_dir}: every clip of split {split!r} is quarantined")
    return ClipBank(str(dataset_dir), split, ids, np.asarray(labels, dtype=np.int64), frames, names, quarantined,
                    {"dataset": str(dataset_dir), "split": split, "max_clips": int(max_clips), "seed": int(seed)})


def temporal_indices(num_frames: int, clip_len: int, stride: int, start: int) -> np.ndarray:
    """Frame indices start, start + stride, ... (clip_len of them), clamped to the last frame."""
    return np.minimum(start + stride * np.arange(clip_len), num_frames - 1)


def test_starts(num_frames: int, clip_len: int, stride: int, num_clips: int) -> list[int]:
    """`num_clips` starts spread evenly over the video (VideoMAE's multi-clip test)."""
    span = max(0, num_frames - (clip_len - 1) * stride - 1)
    if num_clips == 1:
        return [span // 2]
    return [round(span * i / (num_clips - 1)) for i in range(num_clips)]


def to_tchw(frames: np.ndarray) -> torch.Tensor:
    """uint8 [T, H, W, 3] -> uint8 tensor [T, 3, H, W]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)


class TrainClips(torch.utils.data.Dataset):
    """Training views: item i -> (x [R, 3, T, size, size], y [R]) with R = repeated augmentation
    (VideoMAE's `num_sample`: R differently augmented views of the same clip in one batch)."""

    def __init__(self, bank: ClipBank, clip_len: int, stride: int, transform, repeats: int, seed: int):
        self.bank, self.clip_len, self.stride = bank, clip_len, stride
        self.transform, self.repeats = transform, repeats
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.bank)

    def __getitem__(self, i: int):
        fr = self.bank.frames[i]
        views = []
        for _ in range(self.repeats):
            span = max(0, len(fr) - (self.clip_len - 1) * self.stride - 1)
            start = int(self.rng.integers(0, span + 1))
            views.append(self.transform(to_tchw(fr[temporal_indices(len(fr), self.clip_len, self.stride, start)])))
        y = torch.full((self.repeats,), int(self.bank.labels[i]), dtype=torch.long)
        return torch.stack(views), y


def collate_repeats(batch):
    xs, ys = zip(*batch)
    return torch.cat(xs), torch.cat(ys)


def test_views(bank: ClipBank, i: int, clip_len: int, stride: int, size: int, num_clips: int,
               num_crops: int) -> torch.Tensor:
    """All test views of clip i: [num_clips * num_crops, 3, T, size, size]."""
    from motionmvm.eval.augment import test_crops

    fr = bank.frames[i]
    views = []
    for start in test_starts(len(fr), clip_len, stride, num_clips):
        views += test_crops(to_tchw(fr[temporal_indices(len(fr), clip_len, stride, start)]), size, num_crops)
    return torch.stack(views)
