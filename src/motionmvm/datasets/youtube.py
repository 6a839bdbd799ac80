"""Shared parts of the YouTube-sourced datasets (Kinetics-400, Mimetics): CSV rows
`label,youtube_id,time_start,time_end[,split]` and clips named
`<youtube_id>_<time_start:06d>_<time_end:06d>.<ext>` (the naming of the CVDF Kinetics tarballs and
of the ActivityNet crawler); a file named just `<youtube_id>.<ext>` is accepted too. Some videos are
no longer online, so up to `max_missing` of the listed clips may be absent (listed in missing.txt).
Class ids are the label names sorted alphabetically (MMAction2's order).
"""
from __future__ import annotations

import csv
from pathlib import Path

from motionmvm.datasets.errors import DatasetError
from motionmvm.datasets.layout import Clip

REQUIRED = ("label", "youtube_id", "time_start", "time_end")


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        fields = [h.strip() for h in reader.fieldnames or []]
        if not set(REQUIRED) <= set(fields):
            raise DatasetError(f"{path}: header {fields} lacks {sorted(set(REQUIRED) - set(fields))}; "
                               f"expected {','.join(REQUIRED)}[,split]")
        rows = []
        for i, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            try:
                row["time_start"] = int(float(row["time_start"]))
                row["time_end"] = int(float(row["time_end"]))
            except ValueError:
                raise DatasetError(f"{path}:{i}: time_start/time_end must be numbers, got "
                                   f"{row['time_start']!r}, {row['time_end']!r}") from None
            if not row["youtube_id"] or not row["label"]:
                raise DatasetError(f"{path}:{i}: empty label or youtube_id")
            rows.append(row)
    return rows


def clip_stem(row: dict) -> str:
    return f"{row['youtube_id']}_{row['time_start']:06d}_{row['time_end']:06d}"


def to_clips(rows: list[dict], ids: dict[str, int], videos: dict[str, Path], folder: str,
             missing: list[str]) -> list[Clip]:
    """Clips of `rows` whose video exists (by stem); the others are appended to `missing`."""
    clips = []
    for row in rows:
        if row["label"] not in ids:
            raise DatasetError(f"label {row['label']!r} of {row['youtube_id']} is not a training class")
        stem = clip_stem(row)
        video = videos.get(stem) or videos.get(row["youtube_id"])
        if video is None:
            missing.append(stem)
            continue
        clips.append(Clip(video, f"videos/{folder}/{stem}{video.suffix}", ids[row["label"]]))
    return clips
