"""The common layout every adapter writes (see the package docstring) and helpers to build it."""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from motionmvm.datasets.errors import DatasetError
from motionmvm.io import atomic_write_text, write_json

VIDEO_SUFFIXES = (".avi", ".mp4", ".webm", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".flv")


@dataclass
class Clip:
    """One listed clip: where its video is now (`source`), where it goes (`rel`), its label id."""
    source: Path
    rel: str
    label: int


@dataclass
class Converted:
    """What an adapter produced: class names by id and, per split number, train and test clips."""
    classes: list[str]
    splits: dict[int, dict[str, list[Clip]]]
    missing: list[str] = field(default_factory=list)
    listed: int = 0


def find_file(root: Path, name: str, what: str, layout: str) -> Path:
    """The single file called `name` below `root` (annotation archives nest differently)."""
    hits = sorted(p for p in root.rglob(name) if p.is_file())
    if not hits:
        raise DatasetError(f"{what}: no {name} below {root}.\nExpected layout:\n{layout}")
    if len(hits) > 1:
        raise DatasetError(f"{what}: several {name} below {root}: {[str(h) for h in hits[:5]]}; "
                           "keep one")
    return hits[0]


def index_videos(root: Path, key=lambda p: p.name) -> dict[str, Path]:
    """Video files below `root` keyed by `key(path)`; the first in sorted order wins on a tie.

    Symlinked folders are followed (datasets often live elsewhere), each real folder once, so a
    link to a parent folder cannot make the walk loop."""
    out: dict[str, Path] = {}
    visited: set[str] = set()
    for dirpath, dirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in visited:
            dirs[:] = []
            continue
        visited.add(real)
        dirs.sort()
        for f in sorted(files):
            if f.lower().endswith(VIDEO_SUFFIXES):
                p = Path(dirpath) / f
                out.setdefault(key(p), p)
    return out


def check_missing(dataset: str, missing: list[str], listed: int, max_missing: float, root: Path,
                  layout: str) -> None:
    """Refuse when more than `max_missing` of the listed clips have no video."""
    if listed == 0:
        raise DatasetError(f"{dataset}: the annotation files list no clips")
    frac = len(missing) / listed
    if frac > max_missing:
        raise DatasetError(
            f"{dataset}: {len(missing)} of {listed} listed videos ({frac:.1%}) not found below {root} "
            f"(allowed: {max_missing:.1%}, params datasets.{dataset}.max_missing), e.g. {missing[:3]}."
            f"\nExpected layout:\n{layout}")


def place(source: Path, dest: Path) -> None:
    """Hard-link `source` at `dest` (no extra disk space); symlink when on another file system."""
    if dest.is_symlink() or dest.exists():
        if os.path.realpath(dest) == os.path.realpath(source) or (
                dest.exists() and os.path.samefile(dest, source)):
            return
        dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, dest)
    except OSError:
        try:
            os.symlink(os.path.realpath(source), dest)
        except OSError:
            shutil.copy2(source, dest)


def _list_text(clips: list[Clip]) -> str:
    for c in clips:
        if any(ch.isspace() for ch in c.rel):
            raise DatasetError(f"video path {c.rel!r} contains whitespace; the '<path> <label>' lists "
                               "cannot hold it")
    return "".join(f"{c.rel} {c.label}\n" for c in clips)


def write(out: Path, conv: Converted) -> dict:
    """Link the videos and write classInd.txt and the split lists; returns the counts."""
    if not conv.classes:
        raise DatasetError(f"{out.name}: no classes found")
    placed = set()
    for split in conv.splits.values():
        for clips in split.values():
            for c in clips:
                if c.rel not in placed:
                    place(c.source, out / c.rel)
                    placed.add(c.rel)
    atomic_write_text(out / "classInd.txt", "".join(f"{i} {n}\n" for i, n in enumerate(conv.classes)))
    counts = {}
    for k, split in sorted(conv.splits.items()):
        atomic_write_text(out / f"trainlist{k:02d}.txt", _list_text(split["train"]))
        atomic_write_text(out / f"testlist{k:02d}.txt", _list_text(split["test"]))
        counts[str(k)] = {"train": len(split["train"]), "test": len(split["test"])}
    if conv.missing:
        atomic_write_text(out / "missing.txt", "".join(f"{m}\n" for m in conv.missing))
    return {"classes": len(conv.classes), "videos": len(placed), "splits": counts,
            "listed": conv.listed, "missing": len(conv.missing)}


def write_summary(out: Path, summary: dict) -> None:
    write_json(out / "prepare.json", summary)
