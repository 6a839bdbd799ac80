"""Build a dataset's manifest from its split lists: probe, decode-check and hash every video.

Corrupt input is quarantined with its reason (never replaced by another video); the step fails,
naming every quarantined clip, when their fraction exceeds `data.max_quarantine_fraction`.
"""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from motionmvm.data import manifest, video
from motionmvm.io import sha256_file



def split_files(split: int = 1) -> dict[str, str]:
    """The split lists of official split `split` (real datasets: params datasets.<name>.split)."""
    return {"train": f"trainlist{split:02d}.txt", "test": f"testlist{split:02d}.txt"}


SPLIT_FILES = split_files(1)


class QuarantineError(RuntimeError):
    """Too many corrupt videos in a dataset."""


def read_lists(dataset_dir: Path, split_number: int = 1) -> list[dict]:
    """Entries (path, label from 0, label_name, split) from classInd.txt and the split lists of
    official split `split_number` (ids in classInd.txt and the lists start at 1 or 0, alike)."""
    base = manifest.class_id_base(dataset_dir)
    names = dict(enumerate(manifest.read_class_index(dataset_dir), base))
    items = []
    for split, fname in split_files(split_number).items():
        for line in (dataset_dir / fname).read_text().splitlines():
            if line.strip():
                rel, label = line.rsplit(maxsplit=1)
                if int(label) not in names:
                    raise ValueError(f"{dataset_dir / fname}: label {label} of {rel} is not in classInd.txt")
                items.append({"path": rel, "label": int(label) - base, "label_name": names[int(label)], "split": split})
    return items


def check(job: tuple) -> dict:
    """Manifest entry for one video; status "quarantined" with a reason when it is unusable."""
    dataset_dir, item, domain, min_frames = job
    path = Path(dataset_dir) / item["path"]
    entry = {**item, "clip_id": Path(item["path"]).stem, "domain": domain, "frames": 0, "fps": 0.0,
             "width": 0, "height": 0, "size": path.stat().st_size if path.exists() else 0,
             "sha256": sha256_file(path) if path.exists() else "", "status": "ok", "reason": ""}
    try:
        info = video.probe(path)
        entry.update(frames=info.frames, fps=info.fps, width=info.width, height=info.height)
        if info.width % 2 or info.height % 2:
            raise video.VideoError(path, "odd size", f"{info.width}x{info.height}")
        if info.frames < min_frames:
            raise video.VideoError(path, "too few frames", f"has {info.frames}, a clip needs {min_frames}")
        decoded = len(video.read_frames(path, backend="pyav"))  # decode check: truncation shows here
        if decoded < max(min_frames, info.frames):
            raise video.VideoError(path, "truncated", f"decoded {decoded} of {info.frames} frames")
    except video.VideoError as exc:
        entry.update(status="quarantined", reason=f"{exc.reason}" + (f": {exc.detail}" if exc.detail else ""))
    return entry


def build(dataset_dir: str | Path, domain: str, min_frames: int, max_fraction: float, workers: int = 1,
          split: int = 1) -> dict:
    """Write manifest.jsonl/manifest.json for `dataset_dir` (split lists of official split
    `split`); raises QuarantineError above the limit."""
    dataset_dir = Path(dataset_dir)
    jobs = [(str(dataset_dir), item, domain, min_frames) for item in read_lists(dataset_dir, split)]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            entries = list(pool.map(check, jobs, chunksize=8))
    else:
        entries = [check(j) for j in jobs]
    bad = [e for e in entries if e["status"] != "ok"]
    if entries and len(bad) / len(entries) > max_fraction:
        listing = "\n  ".join(f"{e['path']}: {e['reason']}" for e in bad)
        raise QuarantineError(f"{dataset_dir}: {len(bad)} of {len(entries)} videos quarantined, more than "
                              f"data.max_quarantine_fraction={max_fraction}:\n  {listing}")
    return manifest.write(dataset_dir, entries)
