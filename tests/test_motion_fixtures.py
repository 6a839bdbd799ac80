"""Clips with known motion for the motion tests, encoded as real H.264 (PyAV libx264).

Other test_motion*.py modules import the fixtures from here (`from test_motion_fixtures import
...`). Until the embedded benchmark (`motionmvm data synth`) lands, these are the ground truth:
- `translate`: a 40x40 noise-textured square moving by VELOCITY px/frame over a static noise
  background (forward motion, dx right, dy down);
- `pan`: the whole frame is a window sliding over a larger texture, so every pixel moves by PAN;
- `zoom`: the camera zooms in about the frame centre by ZOOM per frame, so content at p in frame t
  is at c + ZOOM (p - c) in frame t+1 (spatially varying motion).
Both 160x128, 24 frames, yuv420p, GOP 12 (intra frames 0 and 12), no B-frames, one reference frame (ref=1).
"""
from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

W, H, FRAMES, GOP = 160, 128, 24, 12
VELOCITY = (3, 2)     # object motion, px per frame (dx, dy)
PAN = (-2, 1)         # content motion of the pan clip, px per frame
OBJ, OBJ_START = 40, (20, 30)
ZOOM = 1.02           # scale factor per frame of the zoom clip
CENTRE = ((W - 1) / 2, (H - 1) / 2)


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Smooth-ish RGB noise: blurred so H.264 keeps it and gradients are well defined."""
    import cv2

    tex = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    return cv2.GaussianBlur(tex, (0, 0), 1.2)


def object_box(t: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the moving square in frame t (x1, y1 exclusive)."""
    x0, y0 = OBJ_START[0] + VELOCITY[0] * t, OBJ_START[1] + VELOCITY[1] * t
    return x0, y0, x0 + OBJ, y0 + OBJ


def make_translate(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    bg, obj = _texture(rng, H, W), _texture(rng, OBJ, OBJ)
    frames = np.repeat(bg[None], FRAMES, 0)
    for t in range(FRAMES):
        x0, y0, x1, y1 = object_box(t)
        frames[t, y0:y1, x0:x1] = obj
    return frames


def make_pan(seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    big = _texture(rng, H + abs(PAN[1]) * FRAMES, W + abs(PAN[0]) * FRAMES)
    ox, oy = abs(PAN[0]) * FRAMES if PAN[0] > 0 else 0, abs(PAN[1]) * FRAMES if PAN[1] > 0 else 0
    # Content moving by +PAN means the window moves by -PAN over the big texture.
    return np.stack([big[oy - PAN[1] * t: oy - PAN[1] * t + H, ox - PAN[0] * t: ox - PAN[0] * t + W]
                     for t in range(FRAMES)])


def make_zoom(seed: int = 2) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.integers(0, 256, (H, W, 3), dtype=np.uint8), (0, 0), 2.0)
    cx, cy = CENTRE
    frames = []
    for t in range(FRAMES):
        s = ZOOM ** t
        m = np.array([[s, 0, cx * (1 - s)], [0, s, cy * (1 - s)]], np.float32)
        frames.append(cv2.warpAffine(tex, m, (W, H), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT))
    return np.stack(frames)


def encode_h264(frames: np.ndarray, path: Path, gop: int = GOP, fps: int = 25) -> Path:
    """Real H.264 (libx264, yuv420p, fixed GOP, no B-frames, CRF 18) in an mp4."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"crf": "18", "preset": "medium",
                          "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:ref=1"}
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@functools.lru_cache(maxsize=1)
def _clip_dir() -> Path:
    # Built once per test session (several modules import the fixtures).
    d = Path(tempfile.mkdtemp(prefix="motion_clips_"))
    encode_h264(make_translate(), d / "translate.mp4")
    encode_h264(make_pan(), d / "pan.mp4")
    encode_h264(make_zoom(), d / "zoom.mp4")
    return d


@pytest.fixture(scope="session")
def motion_clips() -> dict[str, Path]:
    d = _clip_dir()
    return {"translate": d / "translate.mp4", "pan": d / "pan.mp4", "zoom": d / "zoom.mp4"}


def build_dataset(root: Path, clips: dict[str, Path]) -> Path:
    """A dataset dir with a manifest: the two clips (+ a copy), a corrupt file listed as ok (the
    extractor must detect it) and a quarantined clip."""
    from motionmvm.data import manifest
    from motionmvm.io import sha256_file

    ds = root / "motiontest"
    (ds / "videos").mkdir(parents=True)
    names = {"translate": clips["translate"], "pan": clips["pan"], "translate_copy": clips["translate"]}  # noqa: E501
    entries = []
    for cid, src in names.items():
        dst = ds / "videos" / f"{cid}.mp4"
        shutil.copy(src, dst)
        entries.append(dict(clip_id=cid, path=f"videos/{cid}.mp4", label=0, label_name="x",
                            split="train", domain="A", frames=FRAMES, fps=25.0, width=W, height=H,
                            size=dst.stat().st_size, sha256=sha256_file(dst), status="ok", reason=""))
    bad = ds / "videos" / "corrupt.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    entries.append(dict(entries[0], clip_id="corrupt", path="videos/corrupt.mp4", size=4096,
                        sha256=sha256_file(bad)))
    entries.append(dict(entries[0], clip_id="quarantined", path="videos/gone.mp4", status="quarantined",
                        reason="not decodable"))
    manifest.write(ds, entries)
    return ds


def test_fixture_clips_are_real_h264_with_known_gop(motion_clips):
    from motionmvm.motion import mv

    for name, path in motion_clips.items():
        _vectors, types, _refs, w, h = mv.read_vectors(path)
        assert (w, h) == (W, H) and len(types) == FRAMES, name
        assert [t for t, p in enumerate(types) if p == "I"] == [0, GOP], (name, types)
        assert set(types) == {"I", "P"}, (name, types)
