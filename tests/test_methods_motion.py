"""Motion-guided methods (mgmae, mgm, smm, mme and its ablations) through the real pretraining
loop, with motion caches written in the documented format (docs/ARCHITECTURE.md) and cut to each
clip by motionmvm.clipmotion."""
import numpy as np
import pytest
import torch

from motionmvm import config, methods
from motionmvm.train.loop import pretrain
from pretrain_helpers import write_params, write_videos

FRAMES, H, W, L = 10, 40, 48, 6


def write_entry(path, **arrays):
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, settings_hash=np.array("x"), video_sha256=np.array(""), **arrays)


def write_caches(root, clip_ids, rng, h=H, w=W):
    """Synthetic cache entries with the documented shapes (values random but well formed)."""
    for cid in clip_ids:
        write_entry(root / "mv" / f"{cid}.npz",
                    field=rng.normal(size=(FRAMES, h // 4, w // 4, 2)).astype(np.float16),
                    missing=np.zeros(FRAMES, bool))
        write_entry(root / "flow" / f"{cid}.npz",
                    flow=(rng.normal(size=(FRAMES - 1, h, w, 2)) * 100).astype(np.int16),
                    scale=np.array(100.0))
        g = (FRAMES - L, h // 4, w // 4, L)  # point grid spacing p/2 = 4 px for p = 8
        write_entry(root / "traj" / f"{cid}.npz", disp=rng.normal(size=(*g, 2)).astype(np.float16),
                    hog=rng.random(size=(*g, 9)).astype(np.float16), valid=rng.random(size=g) > 0.1)


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


def test_methods_declare_their_motion_caches():
    assert methods.get("mgmae").motion_kinds == ("flow",)
    assert methods.get("mgm").motion_kinds == ("mv",)
    assert methods.get("mme").motion_kinds == ("traj",)
    assert methods.get("smm").motion_kinds == () and methods.get("mme").mask_ratio == 0.7


def _mme_loss(cfg, code_loss_weight: bool) -> float:
    """MME's loss on one fixed batch (smoke: 4 frames of 32 px, patch 8, L = 6) with fixed weights."""
    cfg = {**cfg, "targets": {**cfg["targets"], "trajectory": {
        **cfg["targets"]["trajectory"], "code_loss_weight": code_loss_weight}}}
    torch.manual_seed(0)
    model = methods.get("mme").build(cfg)
    g = torch.Generator().manual_seed(1)
    t, s, p = cfg["pretrain"]["frames"], cfg["pretrain"]["size"], cfg["model"]["patch"]
    pts = (1, t // 2, 2 * s // p, 2 * s // p, cfg["motion"]["traj"]["length"])
    mask = torch.zeros(1, t // 2, s // p, s // p, dtype=torch.bool)
    mask[..., : s // p // 2] = True
    batch = {"video": torch.randn(1, 3, t, s, s, generator=g), "mask": mask,
             "traj_disp": torch.randn(*pts, 2, generator=g), "traj_hog": torch.rand(*pts, 9, generator=g),
             "traj_valid": torch.ones(pts, dtype=torch.bool)}
    with torch.no_grad():
        out = model(batch)
    return out["loss"].item(), out["target"].shape[-1]


def test_mme_code_loss_weight_is_off_by_default_and_scales_by_32_over_dim(project):
    _, cfg = project
    assert cfg["targets"]["trajectory"]["code_loss_weight"] is False  # the paper's plain L2
    plain, dim = _mme_loss(cfg, False)
    weighted, _ = _mme_loss(cfg, True)
    assert dim == 4 * cfg["motion"]["traj"]["length"] * 11
    assert weighted == pytest.approx(plain * 32 / dim, rel=1e-5)


def test_mgm_guidance_chooses_its_motion_cache():
    mgm = methods.get("mgm")
    assert mgm.motion_caches(None) == ("mv",)
    assert mgm.motion_caches({"mgm": {"ratio": 0.75, "guidance": "mv"}}) == ("mv",)
    assert mgm.motion_caches({"mgm": {"ratio": 0.75, "guidance": "flow"}}) == ("flow",)
    assert methods.get("mme").motion_caches({"mgm": {"guidance": "flow"}}) == ("traj",)
    with pytest.raises(ValueError, match="guidance"):
        mgm.mask_motion({"mgm": {"guidance": "klt"}})


def test_mgm_flow_guidance_reads_the_flow_cache_and_follows_it(tmp_path):
    """masking.mgm.guidance: flow with only a flow cache on disk: the block sits on the moving
    corner (bottom right) from the second token step on, and the real loop pretrains."""
    from motionmvm.data.clips import VideoSet
    from motionmvm.train.samples import MaskedClips

    params = write_params(tmp_path, "smoke", pretrain={"epochs": 1, "threads": 1},
                          masking={"mgm": {"guidance": "flow"}})
    cfg = config.load(params, "smoke")
    write_videos(tmp_path / "data" / "smoke" / "synth", n=2, frames=FRAMES, size=(H, W))
    flow = np.zeros((FRAMES - 1, H, W, 2), np.int16)
    flow[:, H - 12:, W - 12:, 0] = 800  # 8 px / frame in the bottom-right corner only (scale 100)
    for cid in ("clip0", "clip1"):
        write_entry(tmp_path / "cache" / "smoke" / "synth" / "motion" / "flow" / f"{cid}.npz",
                    flow=flow, scale=np.array(100.0))
    spec, p = methods.get("mgm"), cfg["pretrain"]
    grid = (p["frames"] // 2, p["size"] // cfg["model"]["patch"], p["size"] // cfg["model"]["patch"])
    clips = MaskedClips(VideoSet(tmp_path / "data" / "smoke" / "synth", "train"), spec, grid=grid,
                        num_frames=p["frames"], stride=p["stride"], size=p["size"], seed=0,
                        masking_cfg=cfg["masking"],
                        motion_root=tmp_path / "cache" / "smoke" / "synth" / "motion")
    for i in range(2):
        mask = clips[(0, i)]["mask"].numpy()
        assert mask[1:, -1, -1].all(), mask
    m = pretrain(cfg, "mgm", "synth", 0, run_dir=tmp_path / "run", progress=False)
    assert np.isfinite(m["loss_last"])


@pytest.mark.parametrize("method", ["mgmae", "mgm", "mme"])
def test_kept_motion_gives_the_samples_that_reading_every_time_gives(tmp_path, method):
    """motion_memo_mb keeps each clip window's motion in memory: the masks and
    targets of three epochs are the ones that reloading every time gives. Square videos, so every
    crop is the whole frame and only the window's frames tell two draws of a clip apart."""
    from motionmvm.data.clips import VideoSet
    from motionmvm.train.samples import MaskedClips

    params = write_params(tmp_path, "smoke", pretrain={"epochs": 1, "threads": 1})
    write_videos(tmp_path / "data" / "smoke" / "synth", n=4, frames=FRAMES, size=(H, H))
    motion_root = tmp_path / "cache" / "smoke" / "synth" / "motion"
    write_caches(motion_root, [f"clip{i}" for i in range(4)], np.random.default_rng(0), h=H, w=H)
    cfg = config.load(params, "smoke")
    spec, p = methods.get(method), cfg["pretrain"]
    grid = (p["frames"] // 2, p["size"] // cfg["model"]["patch"], p["size"] // cfg["model"]["patch"])
    draws = []
    for mb in (0, 64):
        clips = MaskedClips(VideoSet(tmp_path / "data" / "smoke" / "synth", "train"), spec, grid=grid,
                            num_frames=p["frames"], stride=p["stride"], size=p["size"], seed=0,
                            masking_cfg=cfg["masking"], motion_root=motion_root, motion_memo_mb=mb)
        draws.append([clips[(e, i)] for e in range(3) for i in range(4)])
    assert draws[1][0].keys() == draws[0][0].keys()
    for kept, read in zip(*draws[::-1]):
        for k, v in read.items():
            assert torch.equal(kept[k], v) if torch.is_tensor(v) else kept[k] == v, k
