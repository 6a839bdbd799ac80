"""The one clip path: which videos, which frames, which crop, decoded, resized and normalised.

Pretraining (`train.samples`), evaluation (`eval.protocols` / `engine` / `probe`), the tokenizer and
`benchmarks/loader.py` all read clips through this module:

- sources: `VideoSet` (a dataset's manifest; frames from its clip store `data.store` when the
  profile enables it, else decoded from the video files, `DECODER`) and `ArrayVideos` (tests);
- sampling: `window`, `random_window`, `test_starts` (indices into the stride-1 video, clamped to
  the last frame for short videos);
- crops: `square_box` (a random square of the short side), `multiscale_box` (TSN / VideoMAE
  multi-scale crop), `test_crops`; boxes are (x0, y0, w, h) in source pixels, the geometry the
  motion caches take (`clipmotion.motion_for_clip`);
- resize and normalise: OpenCV on uint8 frames (`crop_resize`, `resize_short`, one call per frame
  straight into the output); pretraining clips stay uint8 `[T, H, W, 3]` through the DataLoader
  and `model_input` normalises the batch where it lands (the GPU in training), so the loader
  costs little beyond the decoder (docs/benchmarks.md); evaluation views are normalised by
  `normalize_tchw` after their torchvision transforms;
- evaluation banks: `load_bank` decodes a split once (short side resized) into a `ClipBank`;
  `TrainClips` / `test_views` draw its views.

A clip that the manifest quarantines, or that the store could not decode, is listed with its reason
and left out; it is never replaced by another clip.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from motionmvm.data import manifest as manifest_mod
from motionmvm.data.video import VideoError, read_frames
from motionmvm.normalize import IMAGENET_MEAN, IMAGENET_STD

# ---- sources ------------------------------------------------------------------------------------

# The decoder of the clip path and of the clip store (same pixels either way): PyAV, decoding up to
# the last frame a read needs and converting only the needed frames to RGB (data.video._read_pyav).
DECODER = "pyav"


class VideoSet:
    """The usable videos of a dataset directory (optionally one split), in clip-id order.

    store_dir: the dataset's clip store (`motionmvm data store`); frames then come from its
    memory-mapped uint8 file instead of the decoder (same pixels: tests/test_clip_store.py).
    `quarantined`: [{clip_id, reason}] of the videos left out (manifest or store).
    """

    def __init__(self, dataset_dir: str | Path, split: str | None = None, store_dir: str | Path | None = None):
        self.root = Path(dataset_dir)
        entries = manifest_mod.load(self.root, status=None, split=split)
        self.quarantined = [{"clip_id": e["clip_id"], "reason": e["reason"]} for e in entries if e["status"] != "ok"]
        ok = sorted((e for e in entries if e["status"] == "ok"), key=lambda e: e["clip_id"])
        self.store = None
        if store_dir is not None:
            from motionmvm.data.store import ClipStore

            self.store = ClipStore(store_dir, self.root)
            ok, failed = self.store.split_usable(ok)
            self.quarantined += failed
        self.entries = ok
        if not self.entries:
            raise ValueError(f"{self.root / 'manifest.jsonl'} has no usable clips"
                             + (f" in split {split!r}" if split else ""))

    def __len__(self) -> int:
        return len(self.entries)

    def clip_id(self, i: int) -> str:
        return self.entries[i]["clip_id"]

    def label(self, i: int) -> int:
        return int(self.entries[i]["label"])

    def num_frames(self, i: int) -> int:
        return int(self.entries[i]["frames"])

    def frame_hw(self, i: int) -> tuple[int, int]:
        return int(self.entries[i]["height"]), int(self.entries[i]["width"])

    def read(self, i: int, indices=None) -> np.ndarray:
        """uint8 [len(indices), H, W, 3] RGB frames of video i (all frames when indices is None)."""
        if self.store is not None:
            return self.store.frames(self.entries[i]["clip_id"], indices)
        return read_frames(self.root / self.entries[i]["path"], indices, backend=DECODER)


class ArrayVideos:
    """In-memory videos (a list of uint8 [N, H, W, 3]) with the VideoSet interface."""

    def __init__(self, videos: list[np.ndarray], labels=None):
        self.videos = videos
        self.labels = list(labels) if labels is not None else [0] * len(videos)
        self.quarantined: list[dict] = []

    def __len__(self) -> int:
        return len(self.videos)

    def clip_id(self, i: int) -> str:
        return f"clip{i}"

    def label(self, i: int) -> int:
        return int(self.labels[i])

    def num_frames(self, i: int) -> int:
        return len(self.videos[i])

    def frame_hw(self, i: int) -> tuple[int, int]:
        return tuple(self.videos[i].shape[1:3])

    def read(self, i: int, indices=None) -> np.ndarray:
        return self.videos[i] if indices is None else self.videos[i][np.asarray(indices)]


def store_dir_for(cfg: dict, dataset: str) -> Path | None:
    """The clip store a step reads for `dataset` under this profile, or None (decode the videos)."""
    if not cfg["data"]["store"]["enabled"]:
        return None
    return Path(cfg["paths"]["cache"]) / cfg["profile"] / dataset / "clips"


def open_videos(cfg: dict, dataset: str, split: str | None = None,
                dataset_dir: str | Path | None = None) -> VideoSet:
    """`dataset`'s videos as every step reads them (the clip store when the profile enables it)."""
    root = dataset_dir or Path(cfg["paths"]["data"]) / cfg["profile"] / dataset
    return VideoSet(root, split, store_dir_for(cfg, dataset))


def read_union(videos, i: int, windows: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Decode the frames of several windows of video i once (sorted, unique): (frames, per window
    the positions of its frames in `frames`), so no window's frames are copied out."""
    if len(windows) == 1:
        return videos.read(i, windows[0].tolist()), [np.arange(len(windows[0]))]
    uniq, inverse = np.unique(np.concatenate(windows), return_inverse=True)
    sizes = np.cumsum([len(w) for w in windows])[:-1]
    return videos.read(i, uniq.tolist()), np.split(inverse, sizes)


# ---- temporal sampling --------------------------------------------------------------------------


def span(num_frames: int, stride: int) -> int:
    """Frames a window covers: (num_frames - 1) * stride + 1."""
    return (num_frames - 1) * stride + 1


def window(n_video: int, num_frames: int, stride: int, start: int) -> np.ndarray:
    """Indices start, start + stride, ... (num_frames of them), clamped to the last frame."""
    return np.minimum(start + stride * np.arange(num_frames, dtype=np.int64), n_video - 1)


def random_window(n_video: int, num_frames: int, stride: int, rng: np.random.Generator) -> np.ndarray:
    """A window at a uniformly random start (a short video repeats its last frame)."""
    start = int(rng.integers(0, max(n_video - span(num_frames, stride), 0) + 1))
    return window(n_video, num_frames, stride, start)


def test_starts(n_video: int, num_frames: int, stride: int, num_clips: int) -> list[int]:
    """`num_clips` starts spread evenly over the video (VideoMAE's multi-clip test)."""
    last = max(0, n_video - span(num_frames, stride))
    if num_clips == 1:
        return [last // 2]
    return [round(last * i / (num_clips - 1)) for i in range(num_clips)]


# ---- spatial crops: boxes (x0, y0, w, h) in source pixels ----------------------------------------


def square_box(h: int, w: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """A random square of the short side (draws y0 then x0)."""
    side = min(h, w)
    y0 = int(rng.integers(0, h - side + 1))
    x0 = int(rng.integers(0, w - side + 1))
    return x0, y0, side, side


def multiscale_box(h: int, w: int, scales, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """VideoMAE / TSN GroupMultiScaleCrop: width and height each a scale of the short side, the two
    scales at most one step apart (max_distort 1), at a random position."""
    scales = list(scales)
    if len(scales) == 1 and scales[0] == 1.0:
        return square_box(h, w, rng)
    base = min(h, w)
    pairs = [(i, j) for i in range(len(scales)) for j in range(len(scales)) if abs(i - j) <= 1]
    i, j = pairs[int(rng.integers(len(pairs)))]
    cw, ch = int(base * scales[i]), int(base * scales[j])
    x0 = int(rng.integers(0, w - cw + 1))
    y0 = int(rng.integers(0, h - ch + 1))
    return x0, y0, cw, ch


# ---- resize and normalise -----------------------------------------------------------------------


def _interp(scale: float) -> int:
    """Bilinear down to half size (VideoMAE's crops resize bilinearly, and area averaging costs
    several times more per frame), area averaging below half (antialiased: no aliasing)."""
    return cv2.INTER_AREA if scale < 0.5 else cv2.INTER_LINEAR


def crop_resize(frames: np.ndarray, box: tuple[int, int, int, int], size: int, order=None) -> np.ndarray:
    """uint8 [F, H, W, 3], box (x0, y0, w, h) -> uint8 [T, size, size, 3]: frames `order` (default
    all, in order) cropped and resized straight into the output (one OpenCV call per frame)."""
    x0, y0, bw, bh = box
    order = range(len(frames)) if order is None else order
    out = np.empty((len(order), size, size, 3), np.uint8)
    interp = _interp(size / min(bw, bh))
    for t, j in enumerate(order):
        crop = frames[j, y0:y0 + bh, x0:x0 + bw]
        if (bh, bw) == (size, size):
            out[t] = crop
        else:
            cv2.resize(crop, (size, size), dst=out[t], interpolation=interp)
    return out


def resize_short(frames: np.ndarray, size: int) -> np.ndarray:
    """uint8 [T, H, W, 3] -> short side `size` (aspect kept; area averaging whenever it shrinks,
    as evaluation and the tokenizer did before the clip path was shared)."""
    _, h, w, _ = frames.shape
    s = size / min(h, w)
    nh, nw = max(size, round(h * s)), max(size, round(w * s))
    if (nh, nw) == (h, w):
        return frames
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    return np.stack([cv2.resize(f, (nw, nh), interpolation=interp) for f in frames])


def centre_crop(frames: np.ndarray, size: int) -> np.ndarray:
    """uint8 [T, H, W, 3] with short side >= size -> the centre size x size square."""
    _, h, w, _ = frames.shape
    y0, x0 = (h - size) // 2, (w - size) // 2
    return frames[:, y0:y0 + size, x0:x0 + size]


def model_input(video: torch.Tensor) -> torch.Tensor:
    """A batch of pretraining clips as the loader yields them, uint8 [B, T, H, W, 3], -> the
    model's float [B, 3, T, H, W], ImageNet-normalised. Runs where the batch lands (on the GPU
    in training): the loader and the host-to-device copy move uint8, a quarter of the bytes."""
    mean = torch.tensor(IMAGENET_MEAN, device=video.device).view(1, 3, 1, 1, 1) * 255
    std = torch.tensor(IMAGENET_STD, device=video.device).view(1, 3, 1, 1, 1) * 255
    return ((video.permute(0, 4, 1, 2, 3).float() - mean) / std).contiguous()


def normalize_tchw(frames: torch.Tensor) -> torch.Tensor:
    """uint8 tensor [T, 3, H, W] (torchvision layout) -> float [3, T, H, W] normalised."""
    x = frames.float().div_(255)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((x - mean) / std).permute(1, 0, 2, 3).contiguous()


def to_tchw(frames: np.ndarray) -> torch.Tensor:
    """uint8 [T, H, W, 3] -> uint8 tensor [T, 3, H, W] (a view when contiguous)."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)


def test_crops(frames: torch.Tensor, size: int, num_crops: int) -> list[torch.Tensor]:
    """uint8 [T, 3, H, W] (short side already `size`) -> num_crops tensors [3, T, size, size]
    evenly spaced along the long side (VideoMAE's 3-crop test: left/centre/right or top/middle/bottom)."""
    _, _, h, w = frames.shape
    if min(h, w) < size:
        raise ValueError(f"frames {h}x{w} are smaller than the crop {size}")
    out = []
    for i in range(num_crops):
        frac = 0.5 if num_crops == 1 else i / (num_crops - 1)
        y0, x0 = round((h - size) * frac), round((w - size) * frac)
        if h > w:
            x0 = (w - size) // 2
        else:
            y0 = (h - size) // 2
        out.append(normalize_tchw(frames[:, :, y0:y0 + size, x0:x0 + size]))
    return out


# ---- pretraining views --------------------------------------------------------------------------


def sample_clips(videos, i: int, *, num_frames: int, stride: int, size: int, rng: np.random.Generator,
                 repeats: int = 1, scales=(1.0,)) -> list[dict]:
    """`repeats` clips of video i, decoded once: each a random window and a random crop
    (`multiscale_box`; scales (1.0,) = a square of the short side), resized to `size`.
    -> [{video uint8 [T, size, size, 3] (`model_input` normalises a batch), frames int64 [T],
    box (x0, y0, w, h)}]. Draw order per clip: window start, then crop; so one clip is what
    `repeats=1` gives."""
    n, (h, w) = videos.num_frames(i), videos.frame_hw(i)
    picks = []
    for _ in range(repeats):
        idx = random_window(n, num_frames, stride, rng)
        picks.append((idx, multiscale_box(h, w, scales, rng)))
    frames, orders = read_union(videos, i, [idx for idx, _ in picks])
    return [{"video": torch.from_numpy(crop_resize(frames, box, size, order)), "frames": idx, "box": box}
            for order, (idx, box) in zip(orders, picks)]


def clip_at(videos, i: int, idx: np.ndarray, box: tuple[int, int, int, int], size: int) -> torch.Tensor:
    """Frames `idx` of video i, cropped to `box`, resized to `size`: uint8 [T, size, size, 3]."""
    return torch.from_numpy(crop_resize(videos.read(i, np.asarray(idx).tolist()), box, size))


def tokenizer_tensor(frames: np.ndarray, size: int, input_downsample: int) -> torch.Tensor:
    """The tokenizers' input: frames uint8 [T, H, W, 3] -> short side size / ds, centre square,
    float [3, T, size/ds, size/ds] in [-0.5, 0.5]."""
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected frames [T, H, W, 3], got {frames.shape}")
    out = size // input_downsample
    x = centre_crop(resize_short(frames, out), out)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(3, 0, 1, 2))).float().div_(255).sub_(0.5)


# ---- evaluation banks ---------------------------------------------------------------------------


def class_names(dataset_dir: str | Path) -> list[str]:
    """Class names in index order from `classInd.txt` (`motionmvm.data.manifest.read_class_index`)."""
    return manifest_mod.read_class_index(dataset_dir)


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


def _stratified(entries: list[dict], max_clips: int, seed: int) -> list[int]:
    """A seeded class-balanced subset (round-robin over classes) of at most max_clips positions."""
    order = np.random.default_rng(seed).permutation(len(entries))
    by_class: dict[str, list[int]] = {}
    for i in order:
        by_class.setdefault(entries[i]["label_name"], []).append(int(i))
    pick, queues = [], [by_class[c] for c in sorted(by_class)]
    while len(pick) < max_clips:
        for q in queues:
            if q and len(pick) < max_clips:
                pick.append(q.pop())
    return sorted(pick)


def load_bank(dataset_dir: str | Path, split: str, size: int, max_clips: int = 0, seed: int = 0,
              store_dir: str | Path | None = None, classes: dict[str, str] | None = None) -> ClipBank:
    """All usable clips of `split` ("train" | "test"), optionally a seeded class-stratified subset
    of at most `max_clips` (0 = all), each decoded once (from the clip store when given) with its
    short side resized to `size`.

    classes: dataset class -> label name, in label order (a partial domain adaptation class list,
    `motionmvm.datasets.classlists`): only clips of these classes, labelled by the mapped names.
    """
    dataset_dir = Path(dataset_dir)
    names = class_names(dataset_dir)
    videos = VideoSet(dataset_dir, split, store_dir)
    if classes is not None:
        unknown = sorted(set(classes) - set(names))
        if unknown:
            raise ValueError(f"classes {unknown} are not in {dataset_dir}/classInd.txt (names must match exactly)")
        kept = {e["clip_id"] for e in manifest_mod.load(dataset_dir, status=None, split=split)
                if e["label_name"] in classes}
        videos.entries = [{**e, "label_name": classes[e["label_name"]]} for e in videos.entries if e["clip_id"] in kept]
        videos.quarantined = [q for q in videos.quarantined if q["clip_id"] in kept]
        names = list(dict.fromkeys(classes.values()))
    index = {n: i for i, n in enumerate(names)}
    quarantined = list(videos.quarantined)
    pos = list(range(len(videos)))
    if max_clips and len(pos) > max_clips:
        pos = _stratified(videos.entries, max_clips, seed)
    ids, labels, frames = [], [], []
    for i in pos:
        e = videos.entries[i]
        if e["label_name"] not in index:
            raise ValueError(f"{e['clip_id']}: class {e['label_name']!r} is not in {dataset_dir}/classInd.txt")
        try:
            fr = videos.read(i)
        except VideoError as exc:
            quarantined.append({"clip_id": e["clip_id"], "reason": f"decode at evaluation: {exc}"})
            continue
        ids.append(e["clip_id"])
        labels.append(index[e["label_name"]])
        frames.append(resize_short(fr, size))
    if not ids:
        raise ValueError(f"{dataset_dir}: every clip of split {split!r} is quarantined")
    return ClipBank(str(dataset_dir), split, ids, np.asarray(labels, dtype=np.int64), frames, names, quarantined,
                    {"dataset": str(dataset_dir), "split": split, "max_clips": int(max_clips), "seed": int(seed)})


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
        views = [self.transform(to_tchw(fr[random_window(len(fr), self.clip_len, self.stride, self.rng)]))
                 for _ in range(self.repeats)]
        y = torch.full((self.repeats,), int(self.bank.labels[i]), dtype=torch.long)
        return torch.stack(views), y


def collate_repeats(batch):
    xs, ys = zip(*batch)
    return torch.cat(xs), torch.cat(ys)


def test_views(bank: ClipBank, i: int, clip_len: int, stride: int, size: int, num_clips: int,
               num_crops: int) -> torch.Tensor:
    """All test views of clip i: [num_clips * num_crops, 3, T, size, size]."""
    fr = bank.frames[i]
    views = []
    for start in test_starts(len(fr), clip_len, stride, num_clips):
        views += test_crops(to_tchw(fr[window(len(fr), clip_len, stride, start)]), size, num_crops)
    return torch.stack(views)
