"""Something-Something v2 (174 classes, webm) from its official JSON files.

labels.json maps a class name to its id ("0".."173"); an entry's class is its `template` with the
brackets removed ("Putting [something] on [something]" -> "Putting something on something").
train.json is the training list and validation.json the test list (test.json has no labels).
"""
from __future__ import annotations

import json
from pathlib import Path

from motionmvm.datasets.errors import DatasetError
from motionmvm.datasets.layout import Clip, Converted, find_file, index_videos

NAME = "ssv2"
SPLITS = (1,)
MANUAL_REASON = "Something-Something v2 is licensed; download it after registering with Qualcomm"
LAYOUT = """\
  <source>/labels.json        {"Approaching something with your camera": "0", ...} (174 classes)
  <source>/train.json         [{"id": "78687", "label": "...", "template": "Holding [something] next to [something]", "placeholders": [...]}, ...]
  <source>/validation.json    (used as the test list)
  <source>/20bn-something-something-v2/<id>.webm"""


def _load(path: Path):
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc})") from None


def class_of(template: str) -> str:
    return template.replace("[", "").replace("]", "")


def convert(source: Path, work: Path, max_missing: float) -> Converted:
    lpath = find_file(source, "labels.json", NAME, LAYOUT)
    labels = _load(lpath)
    try:
        ids = {name: int(i) for name, i in labels.items()}
    except (AttributeError, ValueError):
        raise DatasetError(f"{lpath}: must map class names to ids") from None
    if sorted(ids.values()) != list(range(len(ids))):
        raise DatasetError(f"{lpath}: ids must be 0..{len(ids) - 1}, each once")
    classes = [n for n, _ in sorted(ids.items(), key=lambda kv: kv[1])]
    videos = index_videos(source, key=lambda p: p.stem)
    conv = Converted(classes=classes, splits={1: {}})
    for part, fname in (("train", "train.json"), ("test", "validation.json")):
        path = find_file(source, fname, NAME, LAYOUT)
        clips = []
        for row in _load(path):
            try:
                vid, name = str(row["id"]), class_of(row["template"])
            except (KeyError, TypeError):
                raise DatasetError(f"{path}: entry {row!r} lacks id/template") from None
            if name not in ids:
                raise DatasetError(f"{path}: {vid}: class {name!r} (from the template) is not in labels.json")
            conv.listed += 1
            video = videos.get(vid)
            if video is None:
                conv.missing.append(vid)
                continue
            clips.append(Clip(video, f"videos/{vid}{video.suffix}", ids[name]))
        conv.splits[1][part] = clips
    return conv
