"""Build a dataset's manifest from its split lists: probe, decode-check and hash every video.

Corrupt input is quarantined with its reason (never replaced by another video); the step fails,
naming every quarantined clip, when their fraction exceeds `data.max_quarantine_fraction`.
"""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from motionmvm.data import manifest, resize, video
from motionmvm.io import sha256_file


def split_files(split: int = 1) -> dict[str, str]:
    """The split lists of official split `split` (real datasets: params datasets.<name>.split)."""
    return {"train": f"trainlist{split:02d}.txt", "test": f"testlist{split:02d}.txt"}


class QuarantineError(RuntimeError):
    """Too many corrupt videos in a dataset."""


class ListError(ValueError):
    """classInd.txt or a split list that cannot be read (the message names the file, line and fix)."""


def _lines(path: Path) -> list[tuple[str, int]]:
    """(stripped line, line number) of every non-empty line of `path`."""
    if not path.is_file():
        raise ListError(f"no {path}: write the dataset first (`motionmvm data synth` or `motionmvm prepare`)")
    return [(line.strip(), n) for n, line in enumerate(path.read_text().splitlines(), 1) if line.strip()]


def read_lists(dataset_dir: Path, split_number: int = 1) -> list[dict]:
    """Entries (path, label from 0, label_name, split) from classInd.txt and the split lists of
    official split `split_number`.

    The label is the rank of the list's class id among the classInd.txt ids, so 1-based ids (the
    embedded benchmark, UCF101's own files) and 0-based ids (`motionmvm prepare`) both give 0..C-1.
    Class names may contain spaces (Kinetics, Mimetics): `<id> <name ...>`, `<path> <label>`.
    """
    names = {}
    for line, n in _lines(dataset_dir / "classInd.txt"):
        idx, _, name = line.partition(" ")
        if not idx.lstrip("-").isdigit() or not name.strip():
            raise ListError(f"{dataset_dir / 'classInd.txt'} line {n}: expected '<id> <name>', got {line!r}")
        names[int(idx)] = name.strip()
    rank = {idx: i for i, idx in enumerate(sorted(names))}
    items = []
    for split, fname in split_files(split_number).items():
        for line, n in _lines(dataset_dir / fname):
            rel, _, label = line.rpartition(" ")
            if not rel or not label.lstrip("-").isdigit() or int(label) not in names:
                lo, hi = (min(names), max(names)) if names else ("none", "none")
                raise ListError(f"{dataset_dir / fname} line {n}: label {label} of {rel} is not a class id "
                                f"of classInd.txt (ids {lo}..{hi}): fix the list or add the class to classInd.txt")
            items.append({"path": rel.strip(), "label": rank[int(label)], "label_name": names[int(label)], "split": split})
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
          short_side: int = 0, split: int = 1) -> dict:
    """Write manifest.jsonl/manifest.json for `dataset_dir` (split lists of official split
    `split`); raises QuarantineError above the limit.

    short_side > 0: the videos were pre-resized (`data.resize`, `motionmvm data resize`); the
    manifest describes the resized copies, and its summary records resize.json's hash."""
    dataset_dir = Path(dataset_dir)
    items, failed, extra = read_lists(dataset_dir, split), [], {}
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
