"""MME trajectories are tracked in the geometry the clip is trained at: the same scene at two
source resolutions gives the same clip targets (grid, HOG cell and the 20 px bound are clip
pixels, not source pixels)."""
import numpy as np
import pytest

from motionmvm.clipmotion import motion_for_clip
from motionmvm.motion import traj
from motionmvm.targets import trajectory_target

CLIP, PATCH, FRAMES, L = 64, 16, 10, 4
FLOW = {"algorithm": "dis", "dis": {"preset": "medium"}}
TCFG = {"length": L, "patch": PATCH, "bound": 20, "hog_bins": 9, "hog_cell": 8, "short_side": CLIP}


def scene(scale: int) -> np.ndarray:
    """A smooth random texture (static) with a textured square moving 2 clip px / frame to the
    right and 1 down, rendered at `scale` x the clip's resolution (64 x 80 clip pixels)."""
    import cv2

    rng = np.random.default_rng(0)
    h, w = CLIP * scale, 80 * scale
    bg = cv2.resize(rng.random((32, 40, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    tex = cv2.resize(rng.random((12, 12, 3)).astype(np.float32), (24 * scale, 24 * scale),
                     interpolation=cv2.INTER_CUBIC)
    frames = []
    for t in range(FRAMES):
        f = bg.copy()
        y0, x0 = int(round((12 + 1.0 * t) * scale)), int(round((14 + 2 * t) * scale))
        f[y0:y0 + tex.shape[0], x0:x0 + tex.shape[1]] = tex
        frames.append(np.clip(f * 255, 0, 255).astype(np.uint8))
    return np.stack(frames)


def clip_targets(scale: int):
    entry = traj.extract(scene(scale), TCFG, FLOW)
    assert tuple(entry["tracked_hw"]) == (CLIP, 80) and tuple(entry["source_hw"]) == (CLIP * scale, 80 * scale)
    crop = (8 * scale, 0, CLIP * scale, CLIP * scale)                 # x0, y0, w, h in source pixels
    out = motion_for_clip(entry, "traj", np.arange(4), crop, False, CLIP, PATCH, 2)
    return out


@pytest.fixture(scope="module")
def two_resolutions():
    return clip_targets(1), clip_targets(3)


def test_same_scene_at_two_resolutions_gives_the_same_clip_trajectories(two_resolutions):
    lo, hi = two_resolutions
    assert lo["disp"].shape == hi["disp"].shape == (2, 8, 8, L, 2)
    assert np.array_equal(lo["valid"], hi["valid"])
    # displacements in clip pixels: points well inside the square (start frame 0: clip x 6..30,
    # y 12..36; grid points at 4 + 8i) move (2, 1) per frame at both resolutions (DIS on a
    # 64-px frame underestimates by ~0.4 px; the same at both)
    for out in (lo, hi):
        inner = out["disp"][0, 2:4, 1:3].reshape(-1, 2)
        assert np.allclose(np.median(inner, 0), [2.0, 1.0], atol=0.45), np.median(inner, 0)
    assert np.abs(lo["disp"] - hi["disp"]).mean() < 0.1
    assert np.abs(lo["disp"] - hi["disp"]).max() < 1.0
    t_lo, _ = trajectory_target(lo["disp"][None], lo["hog"][None], lo["valid"][None], norm="none")
    t_hi, _ = trajectory_target(hi["disp"][None], hi["hog"][None], hi["valid"][None], norm="none")
    pos = 4 * L * 2
    assert np.corrcoef(t_lo[0, :, :pos].ravel(), t_hi[0, :, :pos].ravel())[0, 1] > 0.95
    # HOG is computed on the tracked (clip-geometry) frames: same up to resampling
    assert np.corrcoef(t_lo[0, :, pos:].ravel(), t_hi[0, :, pos:].ravel())[0, 1] > 0.95


def test_native_pixel_tracking_would_differ(two_resolutions):
    """The failure this guards against: at native pixels the high-resolution source has a
    3x finer grid and HOG cell relative to the clip, so its patch statistics differ."""
    lo, _ = two_resolutions
    native = dict(TCFG, short_side=None)
    entry = traj.extract(scene(3), native, FLOW)
    assert tuple(entry["tracked_hw"]) == (CLIP * 3, 240)
    out = motion_for_clip(entry, "traj", np.arange(4), (24, 0, CLIP * 3, CLIP * 3), False, CLIP, PATCH, 2)
    assert np.abs(out["hog"] - lo["hog"]).mean() > 3 * np.abs(lo["hog"]).mean() * 0.1


def test_resize_short_side_keeps_the_aspect_ratio():
    f = np.zeros((2, 90, 160, 3), np.uint8)
    assert traj.resize_short_side(f, 45).shape == (2, 45, 80, 3)
    assert traj.resize_short_side(f, None) is f
    with pytest.raises(ValueError, match="short_side"):
        traj.resize_short_side(f, 0)
