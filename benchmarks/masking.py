"""Masks per second per strategy on one CPU core.

    PYTHONPATH=src python benchmarks/masking.py [--batch 32] [--seconds 2]

Grids: paper (16x224x224 clip, patch 16, tubelet 2 -> 8x14x14 tokens) and small (16x112x112,
patch 16 -> 8x7x7). Each clip of the batch gets its own synthetic motion arrays with the cache
shapes (mv [16, H/4, W/4, 2], klt [16, H/8, W/8], flow [15, H, W, 2]); the motion arrays are built
once outside the timed loop (reading them is the data loader's cost). Prints a markdown table.
Targets: >= 500 clips/s per core for every strategy but mgmae (>= 50).
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from _common import machine, timed_for
from motionmvm import masking

RATIOS = {"cell_running": 0.5, "fgdm": 0.8, "mgmae": 0.9, "tube": 0.9, "random": 0.9}


def motion_inputs(name, rng, batch, frames, size):
    if name == "fgdm":
        return {"klt": (rng.random((batch, frames, size // 8, size // 8)) > 0.9).astype(np.uint8)}
    if name in ("mgm", "mgm_sparse"):
        return {"mv": rng.normal(size=(batch, frames, size // 4, size // 4, 2)).astype(np.float16)}
    if name == "mgmae":
        return {"flow": torch.from_numpy(
            rng.normal(scale=2.0, size=(batch, frames - 1, size, size, 2)).astype(np.float32))}
    return {}


def clips_per_second(fn, grid, ratio, batch, motion, seconds, **kw):
    """(clips per CPU-second of this single-threaded process, clips per wall-second). CPU time
    is the per-core figure; wall time also counts waiting for a shared, busy machine."""
    g = np.random.default_rng(0)
    calls, wall, cpu = timed_for(lambda: fn(grid, ratio, generator=g, batch=batch, **motion, **kw), seconds)
    return calls * batch / cpu, calls * batch / wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--only", nargs="*", default=None, help="strategy names (default: all)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    grids = {"paper 16x224x224 -> 8x14x14": ((8, 14, 14), 224),
             "small 16x112x112 -> 8x7x7": ((8, 7, 7), 112)}
    print(machine())
    print(f"torch threads: {torch.get_num_threads()}; batch {args.batch}")
    print("clips/s = clips per CPU-second of one thread (wall-clock clips/s in brackets)")
    print("| strategy | " + " | ".join(f"{g}" for g in grids) + " |")
    print("|---|" + "---|" * len(grids))
    names = args.only or masking.names()
    rows = [(n, {}) for n in names]
    if "mgmae" in names:
        rows.append(("mgmae", {"flow_scale": 4}))
    for name, opt in rows:
        cells = []
        for grid, size in grids.values():
            batch = args.batch if name != "mgmae" else max(1, args.batch // 4)
            flow_size = size // opt.get("flow_scale", 1)
            motion = motion_inputs(name, rng, batch, 2 * grid[0], flow_size)
            ratio = RATIOS.get(name, 0.75)
            if name == "cell_running" or (name == "uniform"):
                ratio = 0.5
            cpu, wall = clips_per_second(masking.get(name), grid, ratio, batch, motion,
                                         args.seconds)
            cells.append(f"{cpu:,.0f} ({wall:,.0f})")
        label = name if not opt else f"{name} (flow at 1/{opt['flow_scale']} resolution)"
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
