"""Reading one per-video motion cache entry (docs/ARCHITECTURE.md "Motion cache formats").

`read_entry` reads one file; `EntryMemo` keeps what a training process has read.
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

KINDS = ("mv", "flow", "klt", "traj")


def read_entry(cache_root: str | Path, kind: str, clip_id: str) -> dict[str, np.ndarray]:
    """Arrays of `<cache_root>/<kind>/<clip_id>.npz` (`cache_root` = `cache/<P>/<dataset>/motion`);
    the int16 `flow` / `flow_backward` come back as float32 pixels (int16 / scale)."""
    if kind not in KINDS:
        raise ValueError(f"unknown motion cache kind {kind!r}; known: {KINDS}")
    path = Path(cache_root) / kind / f"{clip_id}.npz"
    if not path.exists():
        raise FileNotFoundError(f"no {kind} motion cache entry for clip {clip_id!r} at {path}")
    with np.load(path, allow_pickle=False) as z:
        out = {k: z[k] for k in z.files}
    if kind == "flow":
        for key in ("flow", "flow_backward"):
            if key in out:
                out[key] = flow_pixels(out, key)
    return out


def flow_pixels(entry: dict[str, np.ndarray], key: str = "flow") -> np.ndarray:
    """The `flow` (or `flow_backward`) array in float32 pixels: quantised int16 values are
    divided by `scale`."""
    flow = np.asarray(entry[key])
    if np.issubdtype(flow.dtype, np.integer):
        if "scale" not in entry:
            raise ValueError(f"flow cache entry holds {flow.dtype} values but no 'scale' to dequantise them")
        return flow.astype(np.float32) / float(entry["scale"])
    return flow.astype(np.float32, copy=False)


def _nbytes(entry: dict[str, np.ndarray]) -> int:
    return sum(a.nbytes for a in entry.values())


class EntryMemo:
    """Motion cache entries kept in memory, least recently used dropped past `max_bytes`.

    A pretraining run reads each clip's entry once per epoch; decompressing and dequantising it
    again every time was most of a flow-guided method's step time (MGMAE at the small profile:
    ~2/3 of its sample time). `max_bytes` 0 keeps nothing (every call reads the file)."""

    def __init__(self, max_bytes: int):
        self.max_bytes, self.bytes = int(max_bytes), 0
        self._items: OrderedDict[tuple, dict[str, np.ndarray]] = OrderedDict()

    def read(self, cache_root: str | Path, kind: str, clip_id: str) -> dict[str, np.ndarray]:
        key = (str(cache_root), kind, clip_id)
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        entry = read_entry(cache_root, kind, clip_id)
        size = _nbytes(entry)
        if size <= self.max_bytes:
            self._items[key] = entry
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self.bytes -= _nbytes(old)
        return entry
