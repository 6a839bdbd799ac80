"""Kinetics-400 (400 classes) from the official CSVs: train.csv is the training list and
validate.csv the test list (test.csv is not used, as in VideoMAE/MMAction2)."""
from __future__ import annotations

from pathlib import Path

from motionmvm.datasets import youtube
from motionmvm.datasets.layout import Converted, find_file, index_videos

NAME = "k400"
SPLITS = (1,)
MANUAL_REASON = ("Kinetics-400 is distributed as YouTube ids; fetch the clips yourself (e.g. the "
                 "CVDF tarballs at github.com/cvdfoundation/kinetics-dataset)")
LAYOUT = """\
  <source>/train.csv      label,youtube_id,time_start,time_end,split
  <source>/validate.csv   (used as the test list)
  <source>/<any folders>/<youtube_id>_<time_start:06d>_<time_end:06d>.mp4"""


def convert(source: Path, work: Path, max_missing: float) -> Converted:
    train = youtube.read_csv(find_file(source, "train.csv", NAME, LAYOUT))
    test = youtube.read_csv(find_file(source, "validate.csv", NAME, LAYOUT))
    classes = sorted({r["label"] for r in train})
    ids = {n: i for i, n in enumerate(classes)}
    videos = index_videos(source, key=lambda p: p.stem)
    conv = Converted(classes=classes, splits={1: {}}, listed=len(train) + len(test))
    conv.splits[1]["train"] = youtube.to_clips(train, ids, videos, "train", conv.missing)
    conv.splits[1]["test"] = youtube.to_clips(test, ids, videos, "val", conv.missing)
    return conv
