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
    """Arrays kept in memory by key, least recently used dropped past `max_bytes`.

    The pretraining loop keeps what each clip window makes of its motion cache entry
    (`train.samples.MaskedClips._motion`): a clip has few windows (32 frames at stride 4: 4
    starts) and without random crops one box, so they recur every epoch. Reading, dequantising and
    (for flow) chaining the entry again every time was most of a flow-guided method's sample
    time; keeping the raw entries instead (2 MB of flow per clip at 64 x 64) overflowed the budget
    at 1,000 clips and, visited in a cycle, hit nothing (docs/benchmarks.md). `max_bytes` 0 keeps
    nothing."""

    def __init__(self, max_bytes: int):
        self.max_bytes, self.bytes = int(max_bytes), 0
        self._items: OrderedDict[tuple, dict[str, np.ndarray]] = OrderedDict()

    def get(self, key: tuple, load) -> dict[str, np.ndarray]:
        """The arrays under `key`, from memory or `load()`. Kept arrays are made read-only: every
        later caller shares them."""
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        entry = load()
        size = _nbytes(entry)
        if size <= self.max_bytes:
            for a in entry.values():
                a.setflags(write=False)
            self._items[key] = entry
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self.bytes -= _nbytes(old)
        return entry
