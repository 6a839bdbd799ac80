"""Pieces every benchmark script shares: the machine line, timing, and a tiny H.264 clip writer.

The scripts run as `python benchmarks/<name>.py`, so this module is imported as `_common`.
"""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np


def cpu_model() -> str:
    """`lscpu`'s "Model name" (what docs/benchmarks.md records), else what platform knows."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name"))
    except Exception:
        return platform.processor() or platform.machine() or "unknown"


def machine() -> str:
    """One line: CPU model, logical cores, GPU (when torch is loaded and sees one), UTC date."""
    gpu = "none"
    torch = sys.modules.get("torch")  # never import torch here: scripts set thread env vars first
    if torch is not None and torch.cuda.is_available():
        gpu = torch.cuda.get_device_name(0)
    return (f"machine: {cpu_model()}, {os.cpu_count()} logical cores; gpu: {gpu}; "
            f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


def _sync(cuda: bool) -> None:
    if cuda:
        import torch

        torch.cuda.synchronize()


def timed(fn: Callable[[], object], steps: int = 1, warmup: int = 0,
          cuda: bool = False) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) per call of `fn()`, after `warmup` untimed calls.
    CPU time is the robust figure on a shared host; `cuda` waits for the GPU before each clock read."""
    for _ in range(warmup):
        fn()
    _sync(cuda)
    t, c = time.perf_counter(), time.process_time()
    for _ in range(steps):
        fn()
    _sync(cuda)
    return (time.perf_counter() - t) / steps, (time.process_time() - c) / steps


def timed_for(fn: Callable[[], object], seconds: float, warmup: int = 1) -> tuple[int, float, float]:
    """Call `fn()` until `seconds` of wall time have passed (after `warmup` untimed calls):
    (calls, wall seconds, process CPU seconds)."""
    for _ in range(warmup):
        fn()
    n, t, c = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t < seconds:
        fn()
        n += 1
    return n, time.perf_counter() - t, time.process_time() - c


def write_h264(path: Path, frames: np.ndarray, fps: int = 25) -> Path:
    """frames: uint8 [T, H, W, 3] RGB -> an H.264 (libx264, yuv420p) mp4 at `path` (PyAV)."""
    import av

    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 [T, H, W, 3], got {frames.dtype} {frames.shape}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=fps)
        st.width, st.height, st.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for f in frames:
            for pkt in st.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return path
