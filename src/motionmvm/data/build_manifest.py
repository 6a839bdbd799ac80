"""Build a dataset's manifest from its split lists: probe, decode-check and hash every video.

Corrupt input is quarantined with its reason (never replaced by another video); the step fails,
naming every quarantined clip, when their fraction exceeds `data.max_quarantine_fraction`.
"""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from motionmvm.data import manifest, resize, video
from motionmvm.io import sha256_file

SPLIT_FILES = {"train": "trainlist01.txt", "test": "testlist01.txt"}


class QuarantineError(RuntimeError):
    """Too many corrupt videos in a dataset."""


def read_lists(dataset_dir: Path) -> list[dict]:
    """Entries (path, label from 0, label_name, split) from classInd.txt and the split lists."""
    names = {}
    for line in (dataset_dir / "classInd.txt").read_text().splitlines():
        if line.strip():
            idx, name = line.split()
            names[int(idx)] = name
    items = []
    for split, fname in SPLIT_FILES.items():
        for line in (dataset_dir / fname).read_text().splitlines():
            if line.strip():
                rel, label = line.split()
                if int(label) not in names:
                    raise ValueError(f"{dataset_dir / fname}: label {label} of {rel} is not in classInd.txt")
                items.append({"path": rel, "label": int(label) - 1, "label_name": names[int(label)], "split": split})
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


def _resized_items(dataset_dir: Path, items: list[dict], summary: dict) -> tuple[list[dict], list[dict]]:
    """(items pointing at their resized copies, with the source's sha256; entries of the videos the
    resize step could not read, quarantined with its reason)."""
    by_path = {r["path"]: r for r in summary["videos"]}
    out, failed = [], []
    for item in items:
        rec = by_path.get(item["path"])
        if rec is None:
            raise ValueError(f"{dataset_dir}: {item['path']} is listed but not in {resize.DIR}/resize.json: "
                             f"rerun `motionmvm data resize --dataset {dataset_dir.name}`")
        if "reason" in rec:
            failed.append({**item, "clip_id": Path(item["path"]).stem, "domain": "", "frames": 0, "fps": 0.0,
                           "width": 0, "height": 0, "size": 0, "sha256": "", "status": "quarantined",
                           "reason": f"resize: {rec['reason']}"})
        else:
            out.append({**item, "path": rec["out"], "source_sha256": rec["source_sha256"]})
    return out, failed


def build(dataset_dir: str | Path, domain: str, min_frames: int, max_fraction: float, workers: int = 1,
          short_side: int = 0) -> dict:
    """Write manifest.jsonl/manifest.json for `dataset_dir`; raises QuarantineError above the limit.

    short_side > 0: the videos were pre-resized (`data.resize`, `motionmvm data resize`); the
    manifest describes the resized copies, and its summary records resize.json's hash."""
    dataset_dir = Path(dataset_dir)
    items, failed, extra = read_lists(dataset_dir), [], {}
    if short_side:
        summary = resize.lookup(dataset_dir)
        if summary is None or summary["settings"]["short_side"] != short_side:
            raise ValueError(f"{dataset_dir}: data.resize.short_side is {short_side} but {resize.DIR}/resize.json "
                             f"is absent or made at another size: run `motionmvm data resize --dataset {dataset_dir.name}`")
        items, failed = _resized_items(dataset_dir, items, summary)
        failed = [{**e, "domain": domain} for e in failed]
        extra = {"resize": {"short_side": short_side, "hash": summary["hash"]}}
    jobs = [(str(dataset_dir), item, domain, min_frames) for item in items]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            entries = list(pool.map(check, jobs, chunksize=8))
    else:
        entries = [check(j) for j in jobs]
    entries += failed
    bad = [e for e in entries if e["status"] != "ok"]
    if entries and len(bad) / len(entries) > max_fraction:
        listing = "\n  ".join(f"{e['path']}: {e['reason']}" for e in bad)
        raise QuarantineError(f"{dataset_dir}: {len(bad)} of {len(entries)} videos quarantined, more than "
                              f"data.max_quarantine_fraction={max_fraction}:\n  {listing}")
    return manifest.write(dataset_dir, entries, extra)
