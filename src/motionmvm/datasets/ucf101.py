"""UCF101 (13,320 clips, 101 classes, 3 official splits) from its official files.

classInd.txt ids are 1-based in the original and become 0-based here (id - 1, same order).
Test lists carry no label; it comes from the class folder of the path via classInd.txt.
"""
from __future__ import annotations

from pathlib import Path

from motionmvm.datasets.errors import DatasetError
from motionmvm.datasets.layout import Clip, Converted, find_file, index_videos

NAME = "ucf101"
SPLITS = (1, 2, 3)
MANUAL_REASON = None  # downloadable: UCF101.rar + UCF101TrainTestSplits-RecognitionTask.zip
LAYOUT = """\
  <source>/ucfTrainTestlist/classInd.txt          "1 ApplyEyeMakeup" (ids 1..101)
  <source>/ucfTrainTestlist/trainlist0{1,2,3}.txt "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1"
  <source>/ucfTrainTestlist/testlist0{1,2,3}.txt  "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"
  <source>/UCF-101/<Class>/v_<Class>_gXX_cYY.avi  (contents of UCF101.rar; any folder name)"""


def _lines(path: Path) -> list[list[str]]:
    return [ln.split() for ln in path.read_text().splitlines() if ln.strip()]


def read_class_index(path: Path) -> list[str]:
    """Class names in id order from the 1-based official classInd.txt."""
    rows = _lines(path)
    try:
        ids = [int(r[0]) for r in rows]
    except (ValueError, IndexError):
        raise DatasetError(f"{path}: lines must read '<id> <ClassName>'") from None
    if sorted(ids) != list(range(1, len(ids) + 1)) or any(len(r) != 2 for r in rows):
        raise DatasetError(f"{path}: expected ids 1..{len(ids)} once each, lines '<id> <ClassName>'")
    return [name for _, name in sorted((int(i), n) for i, n in rows)]


def convert(source: Path, work: Path, max_missing: float) -> Converted:
    class_index = find_file(source, "classInd.txt", NAME, LAYOUT)
    classes = read_class_index(class_index)
    split_dir = class_index.parent
    by_name = {n: i for i, n in enumerate(classes)}
    videos = index_videos(source, key=lambda p: p.name.lower())
    conv = Converted(classes=classes, splits={})
    missing, seen = set(), set()
    for k in SPLITS:
        conv.splits[k] = {}
        for part in ("train", "test"):
            path = split_dir / f"{part}list{k:02d}.txt"
            if not path.is_file():
                raise DatasetError(f"{NAME}: missing {path}.\nExpected layout:\n{LAYOUT}")
            clips = []
            for row in _lines(path):
                rel = row[0]
                cls = rel.split("/")[0]
                if cls not in by_name or "/" not in rel:
                    raise DatasetError(f"{path}: {rel!r} is not '<Class>/<video>.avi' with a class "
                                       "from classInd.txt")
                label = by_name[cls]
                if part == "train" and (len(row) != 2 or int(row[1]) - 1 != label):
                    raise DatasetError(f"{path}: {' '.join(row)!r}: label must be the classInd id of {cls}")
                seen.add(rel)
                name = rel.split("/")[-1]
                video = videos.get(name.lower())
                if video is None:
                    missing.add(rel)
                    continue
                clips.append(Clip(video, f"videos/{cls}/{video.name}", label))
            conv.splits[k][part] = clips
    conv.missing = sorted(missing)
    conv.listed = len(seen)
    return conv
