"""clipmotion outputs fed to the real masking strategies and the MME target, batched."""
import numpy as np
import pytest
import torch

from motionmvm import masking
from motionmvm.clipmotion import collate_motion, motion_for_clip
from motionmvm.targets import trajectory_target

torch.set_num_threads(1)
H, W, F = 64, 96, 20
S, P, TUB = 32, 8, 2
IDX = [0, 2, 4, 6, 8, 10, 12, 14]                 # 8 frames, stride 2 -> T' = 4
GRID = (len(IDX) // TUB, S // P, S // P)
CLIPS = [((16, 8, 40, 32), False), ((16, 8, 40, 32), True), ((0, 0, 64, 64), False)]


def batch(entry, kind, clips=CLIPS, idx=IDX, patch=P):
    return collate_motion([motion_for_clip(entry, kind, idx, box, flip, S, patch, TUB)
                           for box, flip in clips])


def test_mgmae_runs_on_composed_flow_with_exact_visible_counts():
    rng = np.random.default_rng(0)
    flow = rng.normal(scale=2.0, size=(F - 1, H, W, 2)).astype(np.float32)
    motion = batch({"flow": flow}, "flow")
    assert motion["flow"].shape == (3, len(IDX) - 1, S, S, 2)
    mask = masking.get("mgmae")(GRID, 0.75, generator=np.random.default_rng(1), batch=3,
                                tubelet=TUB, **motion)
    assert mask.shape == (3,) + GRID
    n_vis = int(np.floor(0.25 * GRID[1] * GRID[2]))
    assert np.all((~mask).sum(axis=(2, 3)) == n_vis)


@pytest.mark.parametrize("flip", [False, True])
def test_mgm_block_follows_the_cropped_flipped_motion(flip):
    field = np.zeros((F, H // 4, W // 4, 2), np.float16)
    field[:, :, 16 // 4: 36 // 4, 0] = 5.0           # motion in x 16..35: the crop's left half
    missing = np.zeros(F, bool)
    missing[[4, 5]] = True                           # frame 4 is sampled (clip frame 2)
    motion = batch({"field": field, "missing": missing}, "mv", clips=[((16, 8, 40, 32), flip)] * 2)
    assert motion["mv_missing"][0].tolist() == [False, False, True] + [False] * 5
    mask = masking.get("mgm")(GRID, 0.25, generator=np.random.default_rng(2), batch=2,
                              tubelet=TUB, jitter=0, **motion)
    assert np.all(mask.sum(axis=(2, 3)) == int(0.25 * GRID[1] * GRID[2]))
    cols = mask[:, 1:].any(axis=(0, 1, 2))           # steps after the random first one
    assert cols.tolist() == ([False, False, True, True] if flip else [True, True, False, False])


def test_mgm_all_missing_keeps_the_block_in_place():
    field = np.full((F, H // 4, W // 4, 2), 3.0, np.float16)
    motion = batch({"field": field, "missing": np.ones(F, bool)}, "mv")
    mask = masking.get("mgm")(GRID, 0.5, generator=np.random.default_rng(3), batch=3,
                              tubelet=TUB, jitter=0, **motion)
    assert np.array_equal(mask, np.broadcast_to(mask[:, :1], mask.shape))


@pytest.mark.parametrize("flip", [False, True])
def test_fgdm_masks_exactly_the_klt_region_of_the_crop(flip):
    maps = np.zeros((F - 1, H // 8, W // 8), np.uint8)
    maps[:, :, 4:6] = 1                               # x 32..47: crop (16, 8, 32, 32) columns 2, 3
    motion = batch({"motion_map": maps}, "klt", clips=[((16, 8, 32, 32), flip)] * 2)
    assert motion["klt"].shape == (2, len(IDX)) + GRID[1:]
    # P_spa = 0.5, P_den = 1: N_den = 8 = |V| tokens -> P_act = 1, P_bg = 0 on every step
    mask = masking.get("fgdm")(GRID, 0.5, generator=np.random.default_rng(4), batch=2,
                               p_den=1.0, p_tmp=1.0, tubelet=TUB, **motion)
    expect = np.zeros(GRID[1:], bool)
    expect[:, :2] = flip
    expect[:, 2:] = not flip
    assert np.array_equal(mask, np.broadcast_to(expect, mask.shape))
    # documented count: floor(P_tmp T') steps get the mask; with P_spa = 1 they are full
    full = masking.get("fgdm")(GRID, 1.0, generator=np.random.default_rng(5), batch=2,
                               p_tmp=0.5, tubelet=TUB, **motion)
    assert np.all(full.all(axis=(2, 3)).sum(1) == 2) and np.all(full.any(axis=(2, 3)).sum(1) == 2)


def test_trajectory_target_runs_on_collated_trajectories():
    rng = np.random.default_rng(6)
    length, patch = 4, 16
    gh, gw = H // (patch // 2), W // (patch // 2)
    entry = {"disp": rng.normal(size=(F - length, gh, gw, length, 2)).astype(np.float16),
             "hog": rng.random((F - length, gh, gw, length, 9)).astype(np.float16),
             "valid": rng.random((F - length, gh, gw, length)) > 0.1}
    motion = batch(entry, "traj", patch=patch)
    t, hp, wp = len(IDX) // TUB, S // patch, S // patch
    assert motion["disp"].shape == (3, t, 2 * hp, 2 * wp, length, 2)
    target, valid = trajectory_target(**motion)
    d = 4 * length * (2 + 9)
    assert target.shape == valid.shape == (3, t * hp * wp, d)
    assert torch.isfinite(target).all() and valid.any()
    mask = masking.get("tube")((t, hp, wp), 0.75, generator=np.random.default_rng(7), batch=3)
    assert mask.reshape(3, -1).shape[1] == target.shape[1]
