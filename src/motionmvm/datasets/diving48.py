"""Diving48 V2 (48 dive classes, one official train/test split) from its JSON annotations.

Labels are already 0-based; a class name joins the four vocabulary attributes of
Diving48_vocab.json with '_' (e.g. "Back_15som_05Twis_FREE"). Videos are pre-trimmed, so
start_frame/end_frame are checked but not applied.
"""
from __future__ import annotations

import json
from pathlib import Path

from motionmvm.datasets.errors import DatasetError
from motionmvm.datasets.layout import Clip, Converted, find_file, index_videos

NAME = "diving48"
SPLITS = (1,)
MANUAL_REASON = None  # downloadable from www.svcl.ucsd.edu
LAYOUT = """\
  <source>/Diving48_vocab.json      48 entries [takeoff, somersault, twist, flight]
  <source>/Diving48_V2_train.json   [{"vid_name": "-mmq0PT-u8k_00155", "label": 0, "start_frame": 0, "end_frame": 76}, ...]
  <source>/Diving48_V2_test.json
  <source>/rgb/<vid_name>.mp4       (contents of Diving48_rgb.tar.gz)"""


def _load(path: Path):
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc})") from None


def convert(source: Path, work: Path, max_missing: float) -> Converted:
    vocab = _load(find_file(source, "Diving48_vocab.json", NAME, LAYOUT))
    if not isinstance(vocab, list) or not all(isinstance(v, list) and v for v in vocab):
        raise DatasetError(f"{NAME}: Diving48_vocab.json must be a list of attribute lists")
    classes = ["_".join(str(a) for a in v) for v in vocab]
    videos = index_videos(source, key=lambda p: p.stem)
    conv = Converted(classes=classes, splits={1: {}})
    for part, fname in (("train", "Diving48_V2_train.json"), ("test", "Diving48_V2_test.json")):
        path = find_file(source, fname, NAME, LAYOUT)
        clips = []
        for row in _load(path):
            try:
                vid, label = str(row["vid_name"]), int(row["label"])
                if int(row["end_frame"]) < int(row["start_frame"]):
                    raise ValueError("end_frame < start_frame")
            except (KeyError, TypeError, ValueError) as exc:
                raise DatasetError(f"{path}: entry {row!r} lacks vid_name/label/start_frame/"
                                   f"end_frame ({exc})") from None
            if not 0 <= label < len(classes):
                raise DatasetError(f"{path}: {vid}: label {label} outside 0..{len(classes) - 1}")
            conv.listed += 1
            video = videos.get(vid)
            if video is None:
                conv.missing.append(vid)
                continue
            clips.append(Clip(video, f"videos/{vid}{video.suffix}", label))
        conv.splits[1][part] = clips
    return conv
