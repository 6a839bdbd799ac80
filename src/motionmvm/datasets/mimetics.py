"""Mimetics (713 clips, 50 Kinetics classes performed by mimes) from its CSV of YouTube ids.

Mimetics is an evaluation set: rows go to testlist01.txt unless a `split` column says "train".
Few-shot protocols draw their k shots per class from testlist01.txt. Class ids are the 50 label
names sorted alphabetically (not Kinetics ids).
"""
from __future__ import annotations

from pathlib import Path

from motionmvm.datasets import youtube
from motionmvm.datasets.errors import DatasetError
from motionmvm.datasets.layout import Converted, index_videos

NAME = "mimetics"
SPLITS = (1,)
MANUAL_REASON = "Mimetics is distributed as YouTube ids with time ranges; fetch the clips yourself"
LAYOUT = """\
  <source>/mimetics*.csv   label,youtube_id,time_start,time_end[,split]  (e.g. mimetics_v1.0.csv)
  <source>/<any folders>/<youtube_id>_<time_start:06d>_<time_end:06d>.mp4"""


def convert(source: Path, work: Path, max_missing: float) -> Converted:
    found = sorted(p for p in source.rglob("mimetics*.csv") if p.is_file())
    if len(found) != 1:
        raise DatasetError(f"{NAME}: expected one mimetics*.csv below {source}, found "
                           f"{[str(p) for p in found]}.\nExpected layout:\n{LAYOUT}")
    rows = youtube.read_csv(found[0])
    classes = sorted({r["label"] for r in rows})
    ids = {n: i for i, n in enumerate(classes)}
    videos = index_videos(source, key=lambda p: p.stem)
    train = [r for r in rows if r.get("split", "").lower() == "train"]
    test = [r for r in rows if r.get("split", "").lower() != "train"]
    conv = Converted(classes=classes, splits={1: {}}, listed=len(rows))
    conv.splits[1]["train"] = youtube.to_clips(train, ids, videos, "clips", conv.missing)
    conv.splits[1]["test"] = youtube.to_clips(test, ids, videos, "clips", conv.missing)
    return conv
