"""The motion cache: one compressed `.npz` per video plus `settings.json` per kind.

Layout (docs/ARCHITECTURE.md): `<cache>/<P>/<dataset>/motion/<kind>/<clip_id>.npz`, with
`settings.json` (algorithm, parameters, quantisation, library versions, `settings_hash`),
`summary.json` (counts of computed / skipped / failed clips) and `failed.json` beside.
Every npz stores `settings_hash` and the video's `video_sha256` so a rerun can tell which entries
are still valid. Readers get dequantised arrays (`flow` as float32 pixels).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from motionmvm.io import atomic_path, sha256_json

FORMAT_VERSION = 1
META_KEYS = ("settings_hash", "video_sha256")


def kind_dir(cache_root: str | Path, kind: str) -> Path:
    """`cache_root` is `cache/<P>/<dataset>/motion`."""
    return Path(cache_root) / kind


def entry_path(cache_root: str | Path, kind: str, clip_id: str) -> Path:
    return kind_dir(cache_root, kind) / f"{clip_id}.npz"


def settings_hash(settings: dict) -> str:
    """sha256 of everything that determines an entry (not the hash field itself)."""
    return sha256_json({k: v for k, v in settings.items() if k != "settings_hash"})


def write_entry(path: str | Path, arrays: dict[str, np.ndarray], settings_hash_: str,
                video_sha256: str = "") -> None:
    """Write one entry atomically (temporary file + rename): readers never see a partial npz."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, settings_hash=np.array(settings_hash_),
                                video_sha256=np.array(video_sha256 or ""), **arrays)


def entry_meta(path: str | Path) -> dict[str, str] | None:
    """(settings_hash, video_sha256) of an existing entry, None when absent or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: str(z[k]) for k in META_KEYS}
    except Exception:  # a truncated or foreign file counts as absent and is recomputed
        return None


def settings(cache_root: str | Path, kind: str) -> dict:
    path = kind_dir(cache_root, kind) / "settings.json"
    if not path.exists():
        raise FileNotFoundError(f"no motion cache settings at {path}: run `motionmvm motion {kind}`")
    return json.loads(path.read_text())


def read(cache_root: str | Path, kind: str, clip_id: str, raw: bool = False) -> dict[str, np.ndarray]:
    """Arrays of one cache entry. `cache_root` is `cache/<P>/<dataset>/motion`.

    mv:   field float16 [F, H/4, W/4, 2], known bool [F, H/4, W/4], missing bool [F], pict_type, size
    flow: flow float32 [F-1, H, W, 2] (v_{t->t+1}) and flow_backward (v_{t+1->t}), both int16 /
          scale unless raw=True
    klt:  motion_map uint8 [F-1, H/8, W/8], points float32 [N, 4], offsets int64 [F]
    traj: disp float16 [F-L, Gh, Gw, L, 2], hog float16 [F-L, Gh, Gw, L, 9], valid bool [F-L, Gh, Gw, L]
    Every entry also has settings_hash and video_sha256 (0-d str arrays).
    """
    path = entry_path(cache_root, kind, clip_id)
    if not path.exists():
        raise FileNotFoundError(f"no {kind} motion cache entry for clip {clip_id!r} at {path}")
    with np.load(path, allow_pickle=False) as z:
        out = {k: z[k] for k in z.files}
    if kind == "flow" and not raw:
        for key in ("flow", "flow_backward"):
            if key in out:
                out[key] = out[key].astype(np.float32) / float(out["scale"])
    return out
