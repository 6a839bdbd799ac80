"""The dataset manifest: one JSON object per clip in `manifest.jsonl`, a summary in `manifest.json`.

The summary's `hash` (sha256 over the sorted entries) is the dataset's identity in provenance.
Entry keys: clip_id, path (relative to the dataset dir), label, label_name, split, domain, frames,
fps, width, height, size, sha256, status ("ok" | "quarantined"), reason.
"""
from __future__ import annotations

import json
from pathlib import Path

from motionmvm.io import atomic_write_text, sha256_json, write_json

FIELDS = ("clip_id", "path", "label", "label_name", "split", "domain", "frames", "fps", "width",
          "height", "size", "sha256", "status", "reason")


def read_class_index(dataset_dir: str | Path) -> list[str]:
    """Class names in id order from `classInd.txt` (`<id> <name>` per line; the name may contain
    spaces, as Kinetics and Mimetics names do). Ids run 1..N in the embedded benchmark (UCF101's
    convention) and 0..N-1 where `motionmvm prepare` wrote the file; both are read."""
    path = Path(dataset_dir) / "classInd.txt"
    if not path.exists():
        raise FileNotFoundError(f"no class index at {path}")
    rows = sorted((int(i), name.strip()) for i, name in
                  (line.split(maxsplit=1) for line in path.read_text().splitlines() if line.strip()))
    first = rows[0][0] if rows else 0
    if first not in (0, 1) or [i for i, _ in rows] != list(range(first, first + len(rows))):
        raise ValueError(f"{path}: ids must run 0..N-1 or 1..N without gaps")
    return [name for _, name in rows]


def class_id_base(dataset_dir: str | Path) -> int:
    """The id of the first class in `classInd.txt`: 1 (embedded benchmark) or 0 (prepared)."""
    path = Path(dataset_dir) / "classInd.txt"
    return min(int(line.split(maxsplit=1)[0]) for line in path.read_text().splitlines() if line.strip())


def manifest_hash(entries: list[dict]) -> str:
    return sha256_json(sorted(entries, key=lambda e: e["clip_id"]))


def write(dataset_dir: str | Path, entries: list[dict], extra: dict | None = None) -> dict:
    """Write manifest.jsonl and manifest.json atomically; returns the summary."""
    dataset_dir = Path(dataset_dir)
    entries = sorted(entries, key=lambda e: e["clip_id"])
    for e in entries:
        missing = set(FIELDS) - set(e)
        if missing:
            raise ValueError(f"manifest entry {e.get('clip_id')} lacks {sorted(missing)}")
    atomic_write_text(dataset_dir / "manifest.jsonl",
                      "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))
    quarantined = [{"clip_id": e["clip_id"], "path": e["path"], "reason": e["reason"]}
                   for e in entries if e["status"] != "ok"]
    summary = {"hash": manifest_hash(entries), "clips": len(entries),
               "ok": len(entries) - len(quarantined), "quarantined": quarantined, **(extra or {})}
    write_json(dataset_dir / "manifest.json", summary)
    return summary


def load(dataset_dir: str | Path, status: str | None = "ok", split: str | None = None) -> list[dict]:
    """Entries of a dataset, by default only the usable ones; optionally one split."""
    path = Path(dataset_dir) / "manifest.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"no manifest at {path}: run `motionmvm data manifest` first")
    entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [e for e in entries
            if (status is None or e["status"] == status) and (split is None or e["split"] == split)]


def summary(dataset_dir: str | Path) -> dict:
    return json.loads((Path(dataset_dir) / "manifest.json").read_text())
