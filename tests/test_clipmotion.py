"""Per-clip motion from cache entries: analytic checks of crop / resize / flip / stride / grids."""
import numpy as np
import pytest
import torch

from motionmvm.clipmotion import collate_motion, motion_for_clip, read_entry

torch.set_num_threads(1)
H, W = 64, 96                      # original video size
CROP = (16, 8, 40, 32)             # x0, y0, w, h
S = 32                             # model input size
SX, SY = S / 40, S / 32            # resize factors


def const_flow(frames=9, dx=3.0, dy=-2.0):
    f = np.zeros((frames - 1, H, W, 2), np.float32)
    f[..., 0], f[..., 1] = dx, dy
    return f


@pytest.mark.parametrize("flip", [False, True])
def test_constant_flow_is_scaled_and_negated_by_crop_resize_flip(flip):
    out = motion_for_clip({"flow": const_flow()}, "flow", [0, 1, 2, 3], CROP, flip, S, 8, 2)
    flow = out["flow"]
    assert flow.shape == (3, S, S, 2) and flow.dtype == np.float32
    np.testing.assert_allclose(flow[..., 0], (-3.0 if flip else 3.0) * SX, atol=1e-5)
    np.testing.assert_allclose(flow[..., 1], -2.0 * SY, atol=1e-5)


def test_flow_composed_over_stride_two_doubles_a_translation():
    out = motion_for_clip({"flow": const_flow()}, "flow", [0, 2, 4, 6], CROP, True, S, 8, 2)
    np.testing.assert_allclose(out["flow"][..., 0], -6.0 * SX, atol=1e-4)
    np.testing.assert_allclose(out["flow"][..., 1], -4.0 * SY, atol=1e-4)


def test_backward_flow_is_chained_from_the_later_frame_and_follows_the_crop():
    """flow_backward[t] = v_{t+1 -> t}: over stride 2, v_{c->a}(x) = v_{c->c-1}(x) +
    v_{c-1->a}(x + v_{c->c-1}(x)). A field growing with x (0.1 x px) chains to 0.1 x + 0.1 (1.1 x)
    = 0.21 x, not 0.2 x; the crop / resize / flip apply as to forward flow."""
    from motionmvm.masking.align import compose_flow_backward

    f = np.zeros((4, H, W, 2), np.float32)
    f[..., 0] = 0.1 * np.arange(W, dtype=np.float32)[None, None]
    two = compose_flow_backward(f, [0, 2])[0, :, :40, 0]
    np.testing.assert_allclose(two, np.broadcast_to(0.21 * np.arange(40, dtype=np.float32), two.shape), atol=1e-3)
    entry = {"flow": const_flow(), "flow_backward": -const_flow()}
    out = motion_for_clip(entry, "flow", [0, 2, 4, 6], CROP, True, S, 8, 2)
    np.testing.assert_allclose(out["flow_backward"][..., 0], 6.0 * SX, atol=1e-4)
    np.testing.assert_allclose(out["flow_backward"][..., 1], 4.0 * SY, atol=1e-4)
    assert "flow_backward" not in motion_for_clip({"flow": const_flow()}, "flow", [0, 1], CROP,
                                                  False, S, 8, 1)


def test_flow_repeated_index_is_zero_and_int16_cache_is_dequantised():
    q = np.round(const_flow() * 16).astype(np.int16)
    out = motion_for_clip({"flow": q, "scale": np.float32(16)}, "flow", [6, 7, 8, 8],
                          CROP, False, S, 8, 2)["flow"]
    np.testing.assert_allclose(out[:2, ..., 0], 3.0 * SX, atol=1e-5)
    assert np.all(out[2] == 0)


def test_flow_field_is_mirrored_by_the_flip():
    f = np.zeros((3, H, W, 2), np.float32)
    f[:, :, :36, 0] = 1.0                          # motion in x < 36: the crop's left half
    right = motion_for_clip({"flow": f}, "flow", [0, 1], CROP, True, S, 8, 1)["flow"][0, ..., 0]
    left = motion_for_clip({"flow": f}, "flow", [0, 1], CROP, False, S, 8, 1)["flow"][0, ..., 0]
    assert np.allclose(left[:, :15], SX) and np.allclose(left[:, 17:], 0)
    assert np.allclose(right[:, 17:], -SX) and np.allclose(right[:, :15], 0)


def test_mv_vectors_scaled_flipped_and_missing_frames_kept():
    field = np.zeros((10, H // 4, W // 4, 2), np.float16)
    field[..., 0] = 4.0
    field[:, :, : 36 // 4, 1] = 2.0                 # dy only where x < 36
    missing = np.zeros(10, bool)
    missing[[2, 8]] = True
    out = motion_for_clip({"field": field, "missing": missing}, "mv", [0, 2, 4, 6], CROP, True, S, 8, 2)
    mv = out["mv"]
    assert mv.shape == (4, S // 4, S // 4, 2) and mv.dtype == np.float32
    np.testing.assert_allclose(mv[..., 0], -4.0 * SX)
    # flipped: the dy region (crop's left half) is now on the right
    assert np.allclose(mv[:, :, 5:, 1], 2.0 * SY) and np.allclose(mv[:, :, :3, 1], 0)
    assert out["mv_missing"].tolist() == [False, True, False, False]


def test_klt_region_lands_on_the_token_it_overlaps_and_is_mirrored():
    maps = np.zeros((8, H // 8, W // 8), np.uint8)
    maps[3, 2, 3] = 1                                # pixels y 16..23, x 24..31
    crop = (16, 8, 32, 32)                           # tokens of 8 px (p = 8, S = 32): 1 cell each
    plain = motion_for_clip({"motion_map": maps}, "klt", [2, 3, 8, 8], crop, False, S, 8, 2)["klt"]
    assert plain.shape == (4, 4, 4) and plain.dtype == np.uint8
    assert plain[1].sum() == 1 and plain[1, 1, 1] == 1 and plain[[0, 2, 3]].sum() == 0
    flipped = motion_for_clip({"motion_map": maps}, "klt", [2, 3, 8, 8], crop, True, S, 8, 2)["klt"]
    assert flipped[1, 1, 2] == 1 and flipped.sum() == 1
    # 16 px tokens (p = 16): the cell at x 24..31 overlaps the token covering x 16..31
    coarse = motion_for_clip({"motion_map": maps}, "klt", [3, 4], crop, False, S, 16, 2)["klt"]
    assert coarse[0].tolist() == [[1, 0], [0, 0]]


def traj_entry(frames=12, length=3, gh=H // 8, gw=W // 8):
    """Cache for p = 16 (points at 4 + 8i); hog encodes (column, row, start frame) per point."""
    s = frames - length
    t, y, x = np.meshgrid(np.arange(s), np.arange(gh), np.arange(gw), indexing="ij")
    hog = np.zeros((s, gh, gw, length, 9), np.float16)
    hog[..., 0], hog[..., 1], hog[..., 2] = x[..., None], y[..., None], t[..., None]
    disp = np.zeros((s, gh, gw, length, 2), np.float16)
    disp[..., 0], disp[..., 1] = 2.0, -1.0
    return {"disp": disp, "hog": hog, "valid": np.ones((s, gh, gw, length), bool)}


def test_traj_crop_selects_the_points_inside_at_matching_scale():
    # crop 32 x 32 -> S = 32 with p = 16: scale 1, the cache grid maps onto the clip grid exactly
    out = motion_for_clip(traj_entry(), "traj", [0, 2, 4, 6], (16, 8, 32, 32), False, 32, 16, 2)
    assert out["disp"].shape == (2, 4, 4, 3, 2) and out["valid"].shape == (2, 4, 4, 3)
    hog = out["hog"]
    # clip point (i, j) at original (8 + 4 + 8i, 16 + 4 + 8j) = cache point (1 + i, 2 + j)
    assert np.array_equal(hog[0, :, :, 0, 0], np.tile(np.arange(2, 6), (4, 1)))
    assert np.array_equal(hog[0, :, :, 0, 1], np.tile(np.arange(1, 5)[:, None], (1, 4)))
    # token step k starts at the first dense frame of its tubelet: idx[0] = 0, idx[2] = 4
    assert hog[0, ..., 2].max() == 0 and np.all(hog[1, ..., 2] == 4)
    np.testing.assert_allclose(out["disp"][..., 0], 2.0)


def test_traj_resampled_when_scale_does_not_match_and_flip_reverses_hog_bins():
    # crop 48 x 32 (w x h) -> 32 x 32 with p = 16: clip points every 12 original px in x
    out = motion_for_clip(traj_entry(), "traj", [0, 1], (8, 8, 48, 32), False, 32, 16, 2)
    # clip column j at x = 8 + (j + 0.5) * 12 = 14, 26, 38, 50 -> nearest cache points
    # (at 4 + 8i) 12, 28, 36, 52 = indices 1, 3, 4, 6
    assert out["hog"][0, 0, :, 0, 0].tolist() == [1, 3, 4, 6]
    np.testing.assert_allclose(out["disp"][..., 0], 2.0 * 32 / 48, rtol=1e-6)
    np.testing.assert_allclose(out["disp"][..., 1], -1.0)
    flip = motion_for_clip(traj_entry(), "traj", [0, 1], (8, 8, 48, 32), True, 32, 16, 2)
    np.testing.assert_array_equal(flip["hog"], out["hog"][:, :, ::-1, :, ::-1])
    np.testing.assert_allclose(flip["disp"][..., 0], -out["disp"][..., 0][:, :, ::-1])


def test_traj_starts_past_the_cache_are_invalid():
    # F = 12, L = 3: trajectories start at frames 0..8; step 1 would start at frame 9
    out = motion_for_clip(traj_entry(frames=12, length=3), "traj", [4, 6, 9, 11], (16, 8, 32, 32),
                          False, 32, 16, 2)
    assert out["valid"][0].all() and not out["valid"][1].any()


def test_bad_inputs_name_the_problem():
    flow = {"flow": const_flow()}
    with pytest.raises(ValueError, match="unknown motion kind"):
        motion_for_clip(flow, "hof", [0, 1], CROP, False, S, 8, 2)
    with pytest.raises(ValueError, match="leaves the 96x64"):
        motion_for_clip(flow, "flow", [0, 1], (80, 0, 40, 32), False, S, 8, 2)
    with pytest.raises(ValueError, match="frame_indices"):
        motion_for_clip(flow, "flow", [0, 1, 2, 9], CROP, False, S, 8, 2)
    with pytest.raises(ValueError, match="multiple of tubelet_t"):
        motion_for_clip(flow, "flow", [0, 1, 2], CROP, False, S, 8, 2)
    with pytest.raises(ValueError, match="lacks \\['missing'\\]"):
        motion_for_clip({"field": np.zeros((4, 16, 24, 2))}, "mv", [0, 1], CROP, False, S, 8, 2)
    with pytest.raises(ValueError, match="multiple of patch"):
        motion_for_clip({"motion_map": np.zeros((8, 8, 12))}, "klt", [0, 1], CROP, False, 30, 8, 2)


def test_collate_stacks_and_rejects_mismatches():
    a = {"mv": np.zeros((4, 8, 8, 2), np.float32), "mv_missing": np.zeros(4, bool)}
    b = {"mv": np.ones((4, 8, 8, 2), np.float32), "mv_missing": np.ones(4, bool)}
    out = collate_motion([a, b])
    assert out["mv"].shape == (2, 4, 8, 8, 2) and out["mv_missing"].dtype == torch.bool
    assert out["mv"][1].sum() == 4 * 8 * 8 * 2
    with pytest.raises(ValueError, match="differs in shape"):
        collate_motion([a, {"mv": np.zeros((4, 4, 4, 2)), "mv_missing": np.zeros(4, bool)}])
    with pytest.raises(ValueError, match="keys"):
        collate_motion([a, {"mv": a["mv"]}])
    with pytest.raises(ValueError, match="empty"):
        collate_motion([])


def test_read_entry_dequantises_flow(tmp_path):
    (tmp_path / "flow").mkdir()
    np.savez(tmp_path / "flow" / "c1.npz", flow=np.full((2, 4, 4, 2), 8, np.int16), scale=np.float32(4))
    entry = read_entry(tmp_path, "flow", "c1")
    assert entry["flow"].dtype == np.float32 and np.all(entry["flow"] == 2.0)
    with pytest.raises(FileNotFoundError, match="c2"):
        read_entry(tmp_path, "flow", "c2")
