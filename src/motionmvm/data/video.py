"""Read frames from a video file: decord first (fast random access), PyAV as the fallback.

Every failure is a `VideoError` carrying a short reason, so a caller can quarantine the file
and list why, instead of silently substituting another video.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np


class VideoError(RuntimeError):
    """A video that cannot be used; `reason` is a short machine-readable tag."""

    def __init__(self, path, reason: str, detail: str = ""):
        self.path, self.reason, self.detail = str(path), reason, detail
        super().__init__(f"{path}: {reason}" + (f" ({detail})" if detail else ""))


@dataclass(frozen=True)
class VideoInfo:
    frames: int
    fps: float
    width: int
    height: int


def _check_file(path: Path) -> None:
    if not path.exists():
        raise VideoError(path, "missing")
    if path.stat().st_size == 0:
        raise VideoError(path, "empty file")


def probe(path: str | Path) -> VideoInfo:
    """Frame count, fps and size from the container and stream (PyAV; counts packets if needed)."""
    import av

    path = Path(path)
    _check_file(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(path, "no video stream")
            stream = container.streams.video[0]
            frames = stream.frames
            if not frames:  # some containers do not store the count: decode to count
                frames = sum(1 for _ in container.decode(stream))
            fps = float(stream.average_rate or stream.guessed_rate or 0)
            return VideoInfo(frames, fps, stream.codec_context.width, stream.codec_context.height)
    except VideoError:
        raise
    except Exception as exc:  # av raises many error types for broken input
        raise VideoError(path, "not decodable", str(exc)[:200]) from exc


def _read_decord(path: Path, indices: Sequence[int] | None) -> np.ndarray:
    import decord

    vr = decord.VideoReader(str(path), num_threads=1)
    idx = list(range(len(vr))) if indices is None else list(indices)
    if idx and max(idx) >= len(vr):
        raise VideoError(path, "too few frames", f"needs frame {max(idx)}, has {len(vr)}")
    return vr.get_batch(idx).asnumpy()


def _read_pyav(path: Path, indices: Sequence[int] | None) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise VideoError(path, "no video stream")
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    if not frames:
        raise VideoError(path, "no decodable frames")
    if indices is None:
        return np.stack(frames)
    idx = list(indices)
    if idx and max(idx) >= len(frames):
        raise VideoError(path, "too few frames", f"needs frame {max(idx)}, has {len(frames)}")
    return np.stack([frames[i] for i in idx])


def read_frames(path: str | Path, indices: Sequence[int] | None = None,
                backend: str = "auto") -> np.ndarray:
    """Decoded RGB frames `[T, H, W, 3]` uint8 (all frames, or the given indices in order).

    backend: "auto" (decord, then PyAV), "decord" or "pyav".
    """
    path = Path(path)
    _check_file(path)
    if backend in ("auto", "decord"):
        try:
            return _read_decord(path, indices)
        except VideoError:
            raise
        except Exception as exc:
            if backend == "decord":
                raise VideoError(path, "not decodable", f"decord: {str(exc)[:200]}") from exc
    try:
        return _read_pyav(path, indices)
    except VideoError:
        raise
    except Exception as exc:
        raise VideoError(path, "not decodable", f"pyav: {str(exc)[:200]}") from exc
