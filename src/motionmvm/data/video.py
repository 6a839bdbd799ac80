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


def _rgb(frame, out: np.ndarray | None = None) -> np.ndarray:
    """A decoded frame as uint8 RGB [H, W, 3]. yuv420p (H.264's usual format): OpenCV's BT.601
    conversion of the raw planes, several times faster than swscale (PyAV's to_ndarray, used for
    every other format); it upsamples chroma differently (measured on 320p H.264: mean absolute
    difference 1 level, at most 6, against decord's frames)."""
    import cv2

    if frame.format.name != "yuv420p":
        rgb = frame.to_ndarray(format="rgb24")
        if out is not None:
            out[...] = rgb
        return rgb if out is None else out
    h, w = frame.height, frame.width
    i420 = np.empty(h * w * 3 // 2, np.uint8)
    y, u, v = frame.planes
    i420[:h * w].reshape(h, w)[...] = np.frombuffer(y, np.uint8).reshape(h, y.line_size)[:, :w]
    q = (h // 2) * (w // 2)
    i420[h * w:h * w + q].reshape(h // 2, w // 2)[...] = np.frombuffer(u, np.uint8).reshape(h // 2, u.line_size)[:, :w // 2]
    i420[h * w + q:].reshape(h // 2, w // 2)[...] = np.frombuffer(v, np.uint8).reshape(h // 2, v.line_size)[:, :w // 2]
    return cv2.cvtColor(i420.reshape(h * 3 // 2, w), cv2.COLOR_YUV2RGB_I420, dst=out)


def _read_pyav(path: Path, indices: Sequence[int] | None) -> np.ndarray:
    """Decode from the first frame up to the last wanted one (one thread), converting only the
    wanted frames to RGB, straight into the output: for short clips whose keyframes are far apart
    (x264's default interval is 250 frames) this decodes no more than a seek would, and converts
    16 frames where decord converts every frame it returns the slow way (docs/benchmarks.md)."""
    import av

    want = None if indices is None else np.unique(np.asarray(indices, dtype=np.int64))
    if want is not None and len(want) == 0:
        raise VideoError(path, "no frames asked for")
    frames: list[np.ndarray] = []
    out = None
    n = 0
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise VideoError(path, "no video stream")
        stream = container.streams.video[0]
        stream.thread_type, stream.codec_context.thread_count = "NONE", 1
        for n, frame in enumerate(container.decode(stream), 1):
            if want is None:
                frames.append(_rgb(frame))
                continue
            k = len(frames) if out is None else int(np.searchsorted(want, n - 1))
            if k < len(want) and want[k] == n - 1:
                if out is None:
                    out = np.empty((len(want), frame.height, frame.width, 3), np.uint8)
                _rgb(frame, out[k])
                frames.append(out[k])
            if n - 1 >= want[-1]:
                break
    if not frames:
        raise VideoError(path, "no decodable frames")
    if want is None:
        return np.stack(frames)
    if len(frames) < len(want):
        raise VideoError(path, "too few frames", f"needs frame {int(want[-1])}, has {n}")
    pos = np.searchsorted(want, np.asarray(indices, dtype=np.int64))
    return out if len(pos) == len(want) and (pos == np.arange(len(want))).all() else out[pos]


def read_frames(path: str | Path, indices: Sequence[int] | None = None,
                backend: str = "auto") -> np.ndarray:
    """Decoded RGB frames `[T, H, W, 3]` uint8 (all frames, or the given indices in order).

    backend: "auto" (decord, then PyAV), "decord" or "pyav" (the clip path's: `data.clips.DECODER`).
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
