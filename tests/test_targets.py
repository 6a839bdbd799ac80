"""Targets: layout matches the mask order, normalisation, HOG on known gradients, trajectory
validity, losses count masked (and valid) entries only."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from motionmvm import targets
from motionmvm.targets.hog import hog_cells
from motionmvm.targets.trajectory import gather_trajectories

torch.set_num_threads(1)


def test_pixel_target_shape_order_and_norm():
    g = torch.Generator().manual_seed(0)
    video = torch.rand(2, 3, 4, 32, 48, generator=g)
    tgt = targets.pixel_target(video, patch=16, tubelet=2)
    assert tgt.shape == (2, 2 * 2 * 3, 2 * 16 * 16 * 3)
    cube = tgt[1, 5].reshape(2 * 16 * 16, 3)
    assert torch.allclose(cube.mean(0), torch.zeros(3), atol=1e-5)
    assert torch.allclose(cube.std(0), torch.ones(3), atol=1e-3)
    # token 5 = (t=0, h=1, w=2): the cube at frames 0-1, rows 16-31, cols 32-47
    raw = targets.pixel_target(video, patch=16, tubelet=2, norm=False)[1, 5].reshape(2, 16, 16, 3)
    assert torch.equal(raw, video[1, :, 0:2, 16:32, 32:48].permute(1, 2, 3, 0))


def test_pixel_target_is_invariant_to_per_channel_input_normalisation():
    """The data pipeline's per-channel mean/std normalisation does not change the target."""
    torch.manual_seed(0)
    v = torch.rand(2, 3, 4, 16, 16)
    t = targets.pixel_target(v, patch=8, tubelet=2)
    scale = torch.tensor([2.0, 0.5, 3.0]).view(1, 3, 1, 1, 1)
    shift = torch.tensor([1.0, -2, 0.3]).view(1, 3, 1, 1, 1)
    assert torch.allclose(targets.pixel_target(v * scale + shift, patch=8, tubelet=2), t, atol=1e-3)


def test_pixel_target_refuses_indivisible_video():
    with pytest.raises(ValueError, match="divisible"):
        targets.pixel_target(torch.rand(1, 3, 3, 32, 32), patch=16, tubelet=2)


@pytest.mark.parametrize("angle_deg,expected_bin", [(0, 0), (90, 4), (45, 2), (135, 6), (170, 8)])
def test_hog_of_a_linear_gradient_fills_one_bin(angle_deg, expected_bin):
    y, x = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    a = math.radians(angle_deg)
    img = (x * math.cos(a) + y * math.sin(a))[None, None]
    h = hog_cells(img, bins=9, cell=8)[0, 0]                     # [9, 4, 4]
    inner = h[:, 1:3, 1:3]                                       # cells away from the borders
    assert inner.argmax(0).eq(expected_bin).all()
    assert (inner[expected_bin] > 0.99 * inner.sum(0)).all()
    # magnitude of a central difference of a unit ramp is 2, 64 pixels per cell
    assert inner.sum(0) == pytest.approx(torch.full((2, 2), 128.0), rel=1e-4)


def test_hog_target_shape_and_block_norm():
    video = torch.rand(2, 3, 4, 32, 32)
    t = targets.hog_target(video, patch=16, tubelet=2)
    assert t.shape == (2, 2 * 2 * 2, 2 * 3 * 4 * 9)
    blocks = t[0, 0].reshape(2, 3, 36)
    assert torch.allclose(blocks.norm(dim=-1), torch.ones(2, 3), atol=1e-4)


def test_flow_hof_mbh_targets():
    flow = torch.zeros(1, 2, 4, 32, 32)
    flow[:, 0] = 3.0                                              # uniform motion to the right
    f = targets.flow_target(flow, patch=16)
    assert f.shape == (1, 8, 2 * 2 * 4) and torch.allclose(f.reshape(1, 8, 2, 2, 4)[:, :, :, 0], torch.tensor(3.0))
    hof = targets.hof_target(flow, patch=16).reshape(1, 8, 2, 4, 9)
    assert hof.argmax(-1).eq(0).all()                             # orientation 0 -> bin 0
    flow[:, 1] = -3.0                                             # up-right: 315 deg -> bin 7
    assert targets.hof_target(flow, patch=16).reshape(1, 8, 2, 4, 9).argmax(-1).eq(7).all()
    # MBH: motion boundary (flow x jumps at column 16) gives energy, uniform flow gives none
    flow = torch.zeros(1, 2, 2, 32, 32)
    flow[:, 0, :, :, 16:] = 5.0
    mbh = targets.mbh_target(flow, patch=16, tubelet=2)
    assert mbh.shape == (1, 4, 2 * 2 * 4 * 9)
    assert mbh.abs().sum() > 0
    assert targets.mbh_target(torch.ones(1, 2, 2, 32, 32), patch=16).abs().sum() == 0


def _traj_cache(frames=20, hg=4, wg=4, length=3, seed=0):
    rng = np.random.default_rng(seed)
    disp = rng.normal(size=(frames - length, hg, wg, length, 2)).astype(np.float16)
    hog = rng.random((frames - length, hg, wg, length, 9)).astype(np.float16)
    valid = np.ones((frames - length, hg, wg, length), bool)
    return disp, hog, valid


def test_trajectory_alignment_dense_target_for_sparse_input():
    disp, hog, valid = _traj_cache()
    idx = np.arange(0, 16, 2)[:8]                                 # stride 2, 8 frames -> T' = 4
    tr = gather_trajectories(disp, hog, valid, idx, tubelet=2)
    assert tr["disp"].shape == (4, 4, 4, 3, 2)
    # token step k starts at clip frame 2k = video frame idx[2k] = 4k
    for k in range(4):
        assert np.array_equal(tr["disp"][k], disp[4 * k])
    # a start past the cache end is invalid, never silently shifted
    tr2 = gather_trajectories(disp, hog, valid, np.array([16, 17, 18, 19]), tubelet=2)
    assert not tr2["valid"][1].any() and tr2["valid"][0].all()


def test_trajectory_target_patch_norm_and_layout():
    disp, hog, valid = _traj_cache()
    tr = gather_trajectories(disp, hog, valid, np.arange(4), tubelet=2)
    batch = {k: v[None] for k, v in tr.items()}
    tgt, val = targets.trajectory_target(batch["disp"], batch["hog"], batch["valid"], norm="patch")
    d_pos, d_shape = 4 * 3 * 2, 4 * 3 * 9
    assert tgt.shape == (1, 2 * 2 * 2, d_pos + d_shape) and val.all()
    pos = tgt[0, :, :d_pos]
    assert torch.allclose(pos.mean(-1), torch.zeros(8), atol=1e-4)
    assert torch.allclose(pos.std(-1), torch.ones(8), atol=1e-3)
    # unnormalised: token (t=0, h=1, w=0) holds points (2..3, 0..1) in (a, c, l, d) order
    raw, _ = targets.trajectory_target(batch["disp"], batch["hog"], batch["valid"], norm="none")
    expect = torch.from_numpy(tr["disp"][0, 2:4, 0:2].astype(np.float32)).reshape(-1)
    assert torch.equal(raw[0, 2, :d_pos], expect)


def test_trajectory_target_masks_invalid_points_out_of_the_loss():
    disp, hog, valid = _traj_cache()
    valid[:, 0, 0, 1:] = False                                    # point (0, 0) leaves after step 0
    tr = gather_trajectories(disp, hog, valid, np.arange(4), tubelet=2)
    batch = {k: v[None] for k, v in tr.items()}
    tgt, val = targets.trajectory_target(batch["disp"], batch["hog"], batch["valid"])
    v0 = val[0, 0, :24].reshape(2, 2, 3, 2)                       # token 0's position validity
    assert not v0[0, 0, 1:].any() and v0[0, 0, 0].all() and v0[1].all()
    assert (tgt[~val] == 0).all()
    mask = torch.zeros(1, 8, dtype=torch.bool)
    mask[0, 0] = True
    pred = tgt.clone()
    pred[~val] = 1e6                                              # garbage where invalid: ignored
    assert targets.masked_mse(pred, tgt, mask, val) == 0
    pred[0, 0, 0] += 2.0                                          # a valid entry counts
    assert targets.masked_mse(pred, tgt, mask, val) == pytest.approx(4.0 / val[0, 0].sum().item())


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 1000), ratio=st.floats(0.05, 0.95))
def test_masked_mse_counts_masked_tokens_only(seed, ratio):
    g = torch.Generator().manual_seed(seed)
    target = torch.randn(2, 16, 5, generator=g)
    mask = torch.rand(2, 16, generator=g) < ratio
    if not mask.any():
        mask[0, 0] = True
    pred = target.clone()
    pred[~mask] += 100.0                                          # errors on visible: ignored
    assert targets.masked_mse(pred, target, mask) == 0
    pred = target + 1.0
    assert targets.masked_mse(pred, target, mask) == pytest.approx(1.0)
    # masked-only predictions in row-major order give the same loss
    assert targets.masked_mse(pred[mask], target, mask) == pytest.approx(1.0)


def test_token_target_and_cross_entropy_on_masked_only():
    ids = torch.randint(0, 7, (2, 2, 3, 3))
    flat = targets.token_target(ids)
    assert flat.shape == (2, 18) and flat.dtype == torch.int64
    mask = torch.zeros(2, 2, 3, 3, dtype=torch.bool)
    mask[:, 1] = True
    logits = torch.full((2, 18, 7), -20.0)
    logits.scatter_(2, flat[..., None], 20.0)                    # perfect prediction
    logits[:, :9] = 0.0                                          # visible tokens: uninformative
    assert targets.token_loss(logits, ids, mask) < 1e-6
    assert targets.token_loss(torch.zeros(2, 18, 7), ids, mask) == pytest.approx(math.log(7), rel=1e-5)
    with pytest.raises(ValueError, match="codebook"):
        targets.token_loss(torch.zeros(2, 18, 3), ids + 3, mask)
    with pytest.raises(ValueError, match="integer"):
        targets.token_target(torch.rand(2, 2, 3, 3))


def test_trajectory_target_per_step_norm_is_over_the_k_trajectories():
    """Default norm (official MME): each (step, coordinate) over the K = 4 trajectories of a patch.
    A rigidly moving patch -> 0; a patch where one point moves differently is non-zero; invalid
    trajectories are left out of the statistics."""
    disp, hog, valid = _traj_cache()
    disp[0, 0:2, 0:2] = disp[0, 0, 0]                             # patch (0, 0) of start 0 rigid
    disp[0, 0:2, 2:4] = disp[0, 0, 2]
    disp[0, 1, 3] += 1.0                                          # patch (0, 1): one point differs
    disp[0, 2:4, 0:2] = disp[0, 2, 0]
    disp[0, 3, 1] = 50.0                                          # patch (1, 0): odd point invalid
    valid[0, 3, 1] = False
    tr = gather_trajectories(disp, hog, valid, np.arange(4), tubelet=2)
    batch = {k: v[None] for k, v in tr.items()}
    tgt, val = targets.trajectory_target(batch["disp"], batch["hog"], batch["valid"])
    d_pos = 4 * 3 * 2
    assert torch.equal(tgt[0, 0, :d_pos], torch.zeros(d_pos))
    assert tgt[0, 1, :d_pos].abs().max() > 0.5
    assert torch.equal(tgt[0, 2, :d_pos], torch.zeros(d_pos)) and not val[0, 2, :d_pos].all()
    pos = tgt[0, 4:, :d_pos].reshape(-1, 4, 3 * 2)                # other tokens: zero mean over K
    assert torch.allclose(pos.mean(1), torch.zeros(pos.shape[0], 6), atol=1e-5)
    with pytest.raises(ValueError, match="norm must be one of"):
        targets.trajectory_target(batch["disp"], batch["hog"], batch["valid"], norm="nope")
