"""HMDB51 (6,766 clips, 51 classes, 3 official splits) from its official split files.

Split files `<class>_test_split<k>.txt` hold "<video>.avi <id>" with 1 = train, 2 = test, 0 = not
used in that split. Class ids are the class names sorted alphabetically, 0..50 (the order used by
MMAction2's HMDB51 lists). The video archive hmdb51_org.rar holds one `<class>.rar` per class; such
inner archives below the source are extracted (safely) into the work folder.
"""
from __future__ import annotations

import re
from pathlib import Path

from motionmvm.datasets.errors import DatasetError
from motionmvm.datasets.extract import safe_extract
from motionmvm.datasets.layout import Clip, Converted, index_videos

NAME = "hmdb51"
SPLITS = (1, 2, 3)
MANUAL_REASON = "HMDB51 has no stable download URL (set datasets.hmdb51.url if you have one)"
LAYOUT = """\
  <source>/testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt  "<video>.avi <id>" (1 train, 2 test, 0 unused)
  <source>/<class>/<video>.avi        (or the per-class <class>.rar archives of hmdb51_org.rar)"""
SPLIT_FILE = re.compile(r"^(?P<cls>.+)_test_split(?P<k>[123])\.txt$")


def read_splits(source: Path) -> dict[int, dict[str, dict[str, int]]]:
    """{split: {class: {video: id}}} from every `<class>_test_split<k>.txt` below `source`."""
    out: dict[int, dict[str, dict[str, int]]] = {k: {} for k in SPLITS}
    for path in sorted(source.rglob("*_test_split*.txt")):
        m = SPLIT_FILE.match(path.name)
        if not m:
            continue
        rows = {}
        for ln in path.read_text().splitlines():
            if not ln.strip():
                continue
            parts = ln.split()
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise DatasetError(f"{path}: line {ln!r} is not '<video>.avi <0|1|2>'")
            rows[parts[0]] = int(parts[1])
        out[int(m["k"])][m["cls"]] = rows
    if not any(out.values()):
        raise DatasetError(f"{NAME}: no <class>_test_split<k>.txt below {source}.\nExpected layout:\n{LAYOUT}")
    classes = sorted(out[1])
    for k in SPLITS:
        if sorted(out[k]) != classes:
            diff = sorted(set(out[k]) ^ set(classes))
            raise DatasetError(f"{NAME}: split {k} and split 1 name different classes: {diff[:5]}")
    return out


def _extract_class_archives(source: Path, work: Path, classes: list[str]) -> None:
    for rar in sorted(source.rglob("*.rar")):
        if rar.stem in classes and not (work / rar.stem).is_dir():
            safe_extract(rar, work)


def convert(source: Path, work: Path, max_missing: float) -> Converted:
    splits = read_splits(source)
    classes = sorted(splits[1])
    _extract_class_archives(source, work / "hmdb51_videos", classes)
    videos = index_videos(source)
    if (work / "hmdb51_videos").is_dir():
        videos.update(index_videos(work / "hmdb51_videos"))
    conv = Converted(classes=classes, splits={})
    missing = set()
    listed = set()
    for k in SPLITS:
        conv.splits[k] = {"train": [], "test": []}
        for label, cls in enumerate(classes):
            for name, role in sorted(splits[k][cls].items()):
                listed.add(name)
                if role == 0:
                    continue
                video = videos.get(name)
                if video is None:
                    missing.add(f"{cls}/{name}")
                    continue
                part = "train" if role == 1 else "test"
                conv.splits[k][part].append(Clip(video, f"videos/{cls}/{name}", label))
    conv.missing = sorted(missing)
    conv.listed = len(listed)
    return conv
