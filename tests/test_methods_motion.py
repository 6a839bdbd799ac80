"""Motion-guided methods (mgmae, mgm, smm, mme and its ablations) through the real pretraining
loop, with motion caches written in the documented format (docs/ARCHITECTURE.md). Needs the
masking, targets and motion packages; skipped in a checkout without them."""
import numpy as np
import pytest
import torch

pytest.importorskip("motionmvm.masking")
pytest.importorskip("motionmvm.targets")
cache = pytest.importorskip("motionmvm.motion.cache")

from motionmvm import config, methods  # noqa: E402
from motionmvm.train.loop import pretrain  # noqa: E402
from motionmvm.train.motion_inputs import clip_trajectories  # noqa: E402
from pretrain_helpers import write_params, write_videos  # noqa: E402

FRAMES, H, W, L = 10, 40, 48, 6


def write_caches(root, clip_ids, rng):
    """Synthetic cache entries with the documented shapes (values random but well formed)."""
    for cid in clip_ids:
        cache.write_entry(root / "mv" / f"{cid}.npz",
                          {"field": rng.normal(size=(FRAMES, H // 4, W // 4, 2)).astype(np.float16),
                           "missing": np.zeros(FRAMES, bool)}, "x")
        cache.write_entry(root / "flow" / f"{cid}.npz",
                          {"flow": (rng.normal(size=(FRAMES - 1, H, W, 2)) * 100).astype(np.int16),
                           "scale": np.array(100.0)}, "x")
        g = (FRAMES - L, H // 4, W // 4, L)  # point grid spacing p/2 = 4 px for p = 8
        cache.write_entry(root / "traj" / f"{cid}.npz",
                          {"disp": rng.normal(size=(*g, 2)).astype(np.float16),
                           "hog": rng.random(size=(*g, 9)).astype(np.float16),
                           "valid": rng.random(size=g) > 0.1}, "x")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("motion_methods")
    params = write_params(tmp, "smoke", pretrain={"epochs": 1, "threads": 1})
    write_videos(tmp / "data" / "smoke" / "synth", n=4, frames=FRAMES, size=(H, W))
    write_caches(tmp / "cache" / "smoke" / "synth" / "motion", [f"clip{i}" for i in range(4)],
                 np.random.default_rng(0))
    return tmp, config.load(params, "smoke")


@pytest.mark.parametrize("method", ["mgmae", "mgm", "smm", "mme", "mme_hog", "mme_pixel"])
def test_motion_method_pretrains_through_the_loop(project, method):
    tmp, cfg = project
    m = pretrain(cfg, method, "synth", 0, run_dir=tmp / method, progress=False)
    assert m["steps"] == 2 and np.isfinite(m["loss_last"])
    enc = torch.load(tmp / method / "encoder.pt", weights_only=True)
    assert enc["method"] == method


def test_trajectories_follow_the_crop_and_scale():
    # One point grid, identity crop at the same resolution: indices are the identity, disp unscaled.
    from motionmvm.train.motion_inputs import _nearest_points

    assert _nearest_points(8, 0, 32, 32, 4.0, 8).tolist() == list(range(8))
    # A 16-px crop at y0 = 16 resized to 32: clip points at 4, 12, 20, 28 clip px are video px
    # 18, 22, 26, 30, i.e. the cache points (spacing 4, first at 2) 4..7.
    assert _nearest_points(4, 16, 16, 32, 4.0, 16).tolist() == [4, 5, 6, 7]


def test_methods_declare_their_motion_caches():
    assert methods.get("mgmae").motion_kinds == ("flow",)
    assert methods.get("mgm").motion_kinds == ("mv",)
    assert methods.get("mme").motion_kinds == ("traj",)
    assert methods.get("smm").motion_kinds == () and methods.get("mme").mask_ratio == 0.7
