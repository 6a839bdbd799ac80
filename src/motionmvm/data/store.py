"""The clip store: a dataset's usable videos decoded once into one memory-mapped uint8 file.

`cache/<profile>/<dataset>/clips/` holds `frames.u8` (every frame of every stored video, RGB,
[F, H, W, 3] per video, back to back) and `index.json`: per clip its byte offset, frame count and
size, the video's sha256 from the manifest; the quarantined clips (the manifest's, and any that do
not decode here) with their reasons; and `hash` = sha256 of (manifest hash, store settings), the
store's link in the manifest hash chain (a changed video changes the manifest hash and so this).

Frames are decoded by `data.video.read_frames` with the clip path's decoder (`data.clips.DECODER`,
recorded in the settings), so a step that reads
the store sees exactly the pixels it would decode (tests/test_clip_store.py). Readers check that
the store was built from the dataset's current manifest and stop otherwise.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from motionmvm.data import manifest as manifest_mod
from motionmvm.data.video import VideoError, read_frames
from motionmvm.io import read_json, sha256_json, write_json

FORMAT = 1
SETTINGS = {"format": FORMAT, "layout": "uint8 RGB [F, H, W, 3] per clip", "decoder": "pyav"}


class StoreError(RuntimeError):
    """A clip store that does not match its dataset."""


def store_hash(manifest_hash: str, enabled: bool = True) -> str:
    return sha256_json({"manifest_hash": manifest_hash, "settings": SETTINGS, "enabled": enabled})


def build(dataset_dir: str | Path, out_dir: str | Path, enabled: bool = True, log=print) -> dict:
    """Decode every usable video of `dataset_dir`'s manifest into `out_dir`; returns the index.

    enabled False (data.store.enabled off, e.g. paper: K400 does not fit) writes the index alone
    (no frames): the step and its hash stay in the DAG and the chain, and the steps decode videos.
    """
    dataset_dir, out_dir = Path(dataset_dir), Path(out_dir)
    m_hash = manifest_mod.summary(dataset_dir)["hash"]
    entries = manifest_mod.load(dataset_dir, status=None)
    quarantined = [{"clip_id": e["clip_id"], "reason": e["reason"]} for e in entries if e["status"] != "ok"]
    tmp = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    clips, offset = {}, 0
    ok = [e for e in entries if e["status"] == "ok"] if enabled else []
    with open(tmp / "frames.u8", "wb") as f:  # empty when disabled
        for n, e in enumerate(ok, 1):
            try:
                frames = read_frames(dataset_dir / e["path"], backend=SETTINGS["decoder"])
            except VideoError as exc:  # listed, never replaced
                quarantined.append({"clip_id": e["clip_id"], "reason": f"decode at store: {exc.reason}"
                                    + (f": {exc.detail}" if exc.detail else "")})
                continue
            frames = np.ascontiguousarray(frames, dtype=np.uint8)
            f.write(frames.tobytes())
            clips[e["clip_id"]] = {"offset": offset, "frames": int(frames.shape[0]), "height": int(frames.shape[1]),
                                   "width": int(frames.shape[2]), "sha256": e["sha256"]}
            offset += frames.nbytes
            if n % 100 == 0 or n == len(ok):
                log(f"store {dataset_dir.name}: {n}/{len(ok)} videos, {offset / 2**20:.0f} MiB")
    index = {"hash": store_hash(m_hash, enabled), "enabled": enabled, "manifest_hash": m_hash,
             "settings": SETTINGS, "bytes": offset,
             "clips": clips, "quarantined": sorted(quarantined, key=lambda q: q["clip_id"])}
    write_json(tmp / "index.json", index)
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return index


class ClipStore:
    """Read side: frames of one stored clip as a view into the memory-mapped file (opened lazily,
    per process, so DataLoader workers do not pickle it)."""

    def __init__(self, store_dir: str | Path, dataset_dir: str | Path):
        self.dir = Path(store_dir)
        path = self.dir / "index.json"
        if not path.exists():
            raise StoreError(f"no clip store at {self.dir}: run `motionmvm data store --dataset "
                             f"{Path(dataset_dir).name}` (or turn data.store.enabled off)")
        self.index = read_json(path)
        if not self.index["enabled"]:
            raise StoreError(f"{self.dir} was built with data.store.enabled off: rerun `motionmvm data store "
                             f"--dataset {Path(dataset_dir).name}` under the profile that enables it")
        current = manifest_mod.summary(dataset_dir)["hash"]
        if self.index["manifest_hash"] != current:
            raise StoreError(f"{self.dir} was built from manifest {self.index['manifest_hash'][:12]}, the dataset's "
                             f"is {current[:12]}: rerun `motionmvm data store --dataset {Path(dataset_dir).name}`")
        self._mm = None

    def __getstate__(self):
        return {**self.__dict__, "_mm": None}

    def split_usable(self, entries: list[dict]) -> tuple[list[dict], list[dict]]:
        """(entries stored, [{clip_id, reason}] of those the store quarantined)."""
        reasons = {q["clip_id"]: q["reason"] for q in self.index["quarantined"]}
        stored = [e for e in entries if e["clip_id"] in self.index["clips"]]
        failed = [{"clip_id": e["clip_id"], "reason": reasons[e["clip_id"]]} for e in entries if e["clip_id"] in reasons]
        missing = [e["clip_id"] for e in entries if e["clip_id"] not in self.index["clips"] and e["clip_id"] not in reasons]
        if missing:
            raise StoreError(f"{self.dir} lacks {missing[:3]}: rebuild it with `motionmvm data store`")
        return stored, failed

    def frames(self, clip_id: str, indices=None) -> np.ndarray:
        """uint8 [F or len(indices), H, W, 3]: a read-only view (all frames) or a gathered copy."""
        if self._mm is None:
            self._mm = np.memmap(self.dir / "frames.u8", dtype=np.uint8, mode="r")
        c = self.index["clips"][clip_id]
        shape = (c["frames"], c["height"], c["width"], 3)
        video = self._mm[c["offset"]:c["offset"] + int(np.prod(shape))].reshape(shape)
        if indices is None:
            return video
        idx = np.asarray(indices, dtype=np.int64)
        if len(idx) and idx.max() >= c["frames"]:
            raise VideoError(self.dir / clip_id, "too few frames", f"needs frame {idx.max()}, has {c['frames']}")
        return video[idx]
