"""Codec motion vectors from H.264 (or any FFmpeg codec that exports them) via PyAV.

FFmpeg's `AVMotionVector` (PyAV side data `MOTION_VECTORS`) gives, per predicted block of the
current frame: `dst_x, dst_y` (block centre in the current frame), `w, h`, `source` (< 0: the
reference lies in the past, > 0: in the future) and `motion_x, motion_y` in units of
1/`motion_scale` pixel (quarter-pel for H.264), with `src = dst + motion / motion_scale`: the
vector points from the current block to where its content sits in the reference frame.

Direction convention of the cache (checked in tests/test_motion_mv.py against a clip with a known
translation): forward motion, (dx, dy) = displacement of content from the earlier frame to the
later one, x right, y down. Hence
  - past reference (source < 0): forward = -motion / scale / d,  d = frames back to the reference;
  - future reference (source > 0, B-frames): forward = +motion / scale / d, d = frames ahead.
`d` is not in the side data (FFmpeg exports only the direction of the reference, not which frame):
we take the display distance to the nearest *reference* frame in that direction. For H.264 a frame
is a reference when its slice NAL units have nal_ref_idc > 0 (read from the packets, so B-pyramid
reference B-frames count); for other codecs I and P frames are taken as the references. That is
exact for streams with one reference frame per direction (IPPP, I(BB)P, B-pyramid); with several
reference frames (x264's default ref=3) a block predicted from an older frame reports a multiple
of the per-frame motion (recorded as `normalize` in settings).
The vectors of decoded frame t+1 thus give the per-frame motion t -> t+1 (on frame t+1's block
grid, where the codec places them); the cache stores them as `field[t]`, following the cache-wide
convention that index t holds the motion from frame t to t+1. `missing[t]` is true when frame
t+1 has no vectors (an intra frame) and for the last frame; cells of intra blocks inside
predicted frames have `known == False`. Neither is ever motion zero. `pict_type[t]` and
`reference[t]` describe decoded frame t itself.

Speed: only the compressed stream's side data is needed, so frames are never converted to RGB,
and the loop filter and inverse transform are skipped (they change pixels, never the vectors:
tests/test_motion_mv.py checks the fields are identical).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from motionmvm.data.video import VideoError

CELL = 4  # the cache stores one vector per 4x4 pixel cell (smallest H.264 partition)
_ANCHOR = {"I", "P", "S", "i", "p"}
# FFmpeg AVPictureType values (PyAV gives the int): I, P, B, S(GMC), SI, SP, BI.
_PICT_TYPES = {1: "I", 2: "P", 3: "B", 4: "S", 5: "i", 6: "p", 7: "b"}


def _frame_vectors(frame) -> np.ndarray | None:
    sd = frame.side_data.get("MOTION_VECTORS")
    if sd is None:
        return None
    arr = sd.to_ndarray()
    return arr if len(arr) else None


def _h264_length_size(extradata: bytes | None) -> int:
    """NAL length prefix size of AVCC (mp4) H.264, 0 for Annex-B start codes."""
    if extradata and len(extradata) > 4 and extradata[0] == 1:
        return (extradata[4] & 3) + 1
    return 0


def _h264_is_reference(data: bytes, length_size: int) -> bool | None:
    """nal_ref_idc > 0 of the first slice NAL unit (types 1 and 5) of a packet; None if none."""
    if length_size:
        pos = 0
        while pos + length_size < len(data):
            n = int.from_bytes(data[pos:pos + length_size], "big")
            nal = data[pos + length_size]
            if nal & 0x1F in (1, 5):
                return (nal >> 5) & 3 > 0
            pos += length_size + n
        return None
    pos = data.find(b"\x00\x00\x01")
    while 0 <= pos < len(data) - 3:
        nal = data[pos + 3]
        if nal & 0x1F in (1, 5):
            return (nal >> 5) & 3 > 0
        pos = data.find(b"\x00\x00\x01", pos + 3)
    return None


def read_vectors(path: str | Path, threads: int = 1, skip_loop_filter: bool = True,
                 max_frames: int | None = None, skip_idct: bool = True):
    """Raw per-frame motion vector records in display order.

    Returns (vectors: list[np.ndarray structured | None], pict_types: list[str],
    is_reference: list[bool], width, height); with max_frames, only the first frames in display
    order (decoding stops as soon as they are all out).
    """
    import av

    path = Path(path)
    if not path.exists():
        raise VideoError(path, "missing")
    options = {"flags2": "+export_mvs"}
    if skip_loop_filter:
        options["skip_loop_filter"] = "all"
    if skip_idct:  # H.264 vector prediction uses neighbouring vectors, never pixels
        options["skip_idct"] = "all"
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(path, "no video stream")
            stream = container.streams.video[0]
            ctx = stream.codec_context
            ctx.options = options
            ctx.thread_count = max(1, int(threads))
            ctx.thread_type = "SLICE" if threads <= 1 else "AUTO"
            h264 = ctx.name == "h264"
            length_size = _h264_length_size(ctx.extradata) if h264 else 0
            ref_by_pts: dict = {}
            decoded = []
            for packet in container.demux(stream):
                if h264 and packet.size:
                    ref_by_pts[packet.pts] = _h264_is_reference(bytes(packet), length_size)
                for frame in packet.decode():
                    decoded.append((frame.pts, _frame_vectors(frame),
                                    _PICT_TYPES.get(int(frame.pict_type), "?")))
                if max_frames and len(decoded) >= max_frames + 4:  # margin for B-frame reordering
                    break
            decoded = decoded[:max_frames] if max_frames else decoded
            vectors = [v for _, v, _ in decoded]
            types = [t for _, _, t in decoded]
            refs = []
            for pts, _, t in decoded:
                r = ref_by_pts.get(pts)
                refs.append(t in _ANCHOR if r is None else bool(r))
            width, height = ctx.width, ctx.height
    except VideoError:
        raise
    except Exception as exc:  # PyAV raises several error types on broken streams
        raise VideoError(path, "not decodable", f"pyav: {str(exc)[:200]}") from exc
    if not vectors:
        raise VideoError(path, "no decodable frames")
    return vectors, types, refs, width, height


def _reference_distances(refs: list[bool]) -> tuple[np.ndarray, np.ndarray]:
    """Display distance from each frame to the previous / next reference frame (0 = none)."""
    n = len(refs)
    back, ahead = np.zeros(n, np.int32), np.zeros(n, np.int32)
    last = None
    for t in range(n):
        if last is not None:
            back[t] = t - last
        if refs[t]:
            last = t
    nxt = None
    for t in range(n - 1, -1, -1):
        if nxt is not None:
            ahead[t] = nxt - t
        if refs[t]:
            nxt = t
    return back, ahead


def block_field(vectors, refs, width: int, height: int) -> dict[str, np.ndarray]:
    """Per-frame forward motion on the 4x4 cell grid.

    vectors: per frame a structured AVMotionVector array or None; refs: per frame whether it is a
    reference frame. Returns field float32 [F, ceil(H/4), ceil(W/4), 2] (dx, dy), known bool
    [F, H/4, W/4] (a vector covers the cell) and missing bool [F] (no vectors in the frame).
    Bi-predicted cells average their normalised past and future estimates.
    """
    n = len(vectors)
    gh, gw = -(-height // CELL), -(-width // CELL)
    size = n * gh * gw
    back, ahead = _reference_distances(refs)
    have = [t for t, v in enumerate(vectors) if v is not None]
    # Per-direction estimates as complex64 dx + i*dy: one 8-byte item per cell makes the scattered
    # assignment ~10x cheaper than into a [size, 2] array (a cell has at most one vector per
    # direction, so assignment, not accumulation, is enough).
    est = {d: np.zeros(size, np.complex64) for d in (-1, 1)}
    hit = {d: np.zeros(size, bool) for d in (-1, 1)}
    if have:
        vec = np.concatenate([vectors[t] for t in have])
        t_of = np.repeat(np.array(have, np.int64), [len(vectors[t]) for t in have])
        past = vec["source"] < 0
        dist = np.where(past, np.maximum(back[t_of], 1), np.maximum(ahead[t_of], 1)).astype(np.float32)
        k = np.where(past, -1.0, 1.0).astype(np.float32) / dist / np.maximum(vec["motion_scale"], 1)
        motion = (vec["motion_x"] * k + 1j * (vec["motion_y"] * k)).astype(np.complex64)
        x0 = (vec["dst_x"].astype(np.int64) - vec["w"] // 2) // CELL
        y0 = (vec["dst_y"].astype(np.int64) - vec["h"] // 2) // CELL
        cw = np.maximum(vec["w"].astype(np.int64) // CELL, 1)
        ch = np.maximum(vec["h"].astype(np.int64) // CELL, 1)
        # Group by block size so each group expands to its cells in one vectorised step.
        for bw, bh in set(zip(cw.tolist(), ch.tolist())):
            oy, ox = np.divmod(np.arange(bw * bh), bw)
            for d in (-1, 1):
                sel = np.flatnonzero((cw == bw) & (ch == bh) & (past == (d < 0)))
                if not len(sel):
                    continue
                ys = (y0[sel, None] + oy[None]).ravel()
                xs = (x0[sel, None] + ox[None]).ravel()
                ok = (ys >= 0) & (ys < gh) & (xs >= 0) & (xs < gw)
                idx = ((np.repeat(t_of[sel], bw * bh) * gh + ys) * gw + xs)[ok]
                est[d][idx] = np.repeat(motion[sel], bw * bh)[ok]
                hit[d][idx] = True
    both = hit[-1] & hit[1]
    field = np.where(hit[-1], est[-1], est[1])
    field[both] = 0.5 * (est[-1][both] + est[1][both])
    field = field.view(np.float32)  # complex64 -> interleaved (dx, dy) float32
    known = (hit[-1] | hit[1]).reshape(n, gh, gw)
    missing = ~known.reshape(n, -1).any(axis=1)
    return {"field": field.reshape(n, gh, gw, 2), "known": known, "missing": missing}


def extract(path: str | Path, threads: int = 1, skip_loop_filter: bool = True,
            max_frames: int | None = None, skip_idct: bool = True) -> dict[str, np.ndarray]:
    """Cache entry arrays for one video: field float16 [F, H/4, W/4, 2] (index t: motion t -> t+1),
    known bool [F, H/4, W/4], missing bool [F],
    pict_type uint8 [F] (ASCII of I/P/B), reference bool [F]."""
    vectors, types, refs, width, height = read_vectors(path, threads, skip_loop_filter, max_frames,
                                                       skip_idct)
    per_frame = block_field(vectors, refs, width, height)
    # Frame t+1's vectors are the motion t -> t+1: shift by one; the last frame has no successor.
    out = {}
    for key, fill in (("field", 0.0), ("known", False), ("missing", True)):
        arr = per_frame[key]
        out[key] = np.concatenate([arr[1:], np.full_like(arr[:1], fill)])
    out["field"] = out["field"].astype(np.float16)
    out["pict_type"] = np.frombuffer("".join(types).encode(), np.uint8).copy()
    out["reference"] = np.array(refs, bool)
    out["size"] = np.array([height, width], np.int32)
    return out
