"""Masking strategies: shapes, exact counts, determinism and each strategy's defining property."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from motionmvm import masking
from motionmvm.masking import align
from motionmvm.masking.mgm import motion_magnitude

torch.set_num_threads(1)
GRID = (8, 14, 14)


def _mv(rng, t=16, h=56, w=56):
    return rng.normal(size=(t, h, w, 2)).astype(np.float16)


def motion_for(name, rng, grid=GRID, patch=16):
    """Motion keyword inputs a strategy needs for a clip of grid[0]*2 frames."""
    t, h, w = grid
    if name == "fgdm":
        return {"klt": (rng.random((2 * t, h * 2, w * 2)) > 0.8).astype(np.uint8)}
    if name in ("mgm", "mgm_sparse"):
        return {"mv": _mv(rng, 2 * t, h * 4, w * 4)}
    if name == "mgmae":
        return {"flow": rng.normal(size=(2 * t - 1, h * 4, w * 4, 2)).astype(np.float32)}
    return {}


def ratio_for(name):
    # a 0.75 block has only a few positions on 14 x 14; 0.3 leaves room to differ per clip
    return {"cell_running": 0.5, "block": 0.3}.get(name, 0.75)


@pytest.mark.parametrize("name", masking.names())
def test_shape_dtype_determinism(name):
    rng = np.random.default_rng(0)
    motion = motion_for(name, rng)
    fn = masking.get(name)
    a = fn(GRID, ratio_for(name), generator=np.random.default_rng(7), batch=3, **motion)
    b = fn(GRID, ratio_for(name), generator=np.random.default_rng(7), batch=3, **motion)
    c = fn(GRID, ratio_for(name), generator=np.random.default_rng(8), batch=3, **motion)
    assert a.shape == (3,) + GRID and a.dtype == np.bool_
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    # the batch is not one mask repeated
    assert not np.array_equal(a[0], a[1])


@pytest.mark.parametrize("name", masking.names())
def test_bad_ratio_and_generator_are_refused(name):
    fn = masking.get(name)
    motion = motion_for(name, np.random.default_rng(0))
    with pytest.raises(ValueError, match=name):
        fn(GRID, 1.5, generator=np.random.default_rng(0), **motion)
    with pytest.raises(TypeError, match="Generator"):
        fn(GRID, ratio_for(name), generator=0, **motion)


def test_unknown_name_lists_known():
    with pytest.raises(KeyError, match="tube"):
        masking.get("nope")


@settings(max_examples=25, deadline=None)
@given(t=st.integers(1, 8), h=st.integers(1, 14), w=st.integers(1, 14),
       ratio=st.floats(0, 1), seed=st.integers(0, 2**31))
def test_exact_counts_random_tube_frame_block(t, h, w, ratio, seed):
    g = np.random.default_rng(seed)
    k = int(np.floor(ratio * h * w + 1e-9))
    r = masking.get("random")((t, h, w), ratio, generator=g, batch=2)
    assert (r.sum(axis=(1, 2, 3)) == int(np.floor(ratio * t * h * w + 1e-9))).all()
    tube = masking.get("tube")((t, h, w), ratio, generator=g, batch=2)
    assert (tube.sum(axis=(2, 3)) == k).all()
    assert (tube == tube[:, :1]).all()
    block = masking.get("block")((t, h, w), ratio, generator=g, batch=2)
    assert (block.sum(axis=(2, 3)) == k).all() and (block == block[:, :1]).all()
    frame = masking.get("frame")((t, h, w), ratio, generator=g, batch=2)
    per_step = frame.mean(axis=(2, 3))
    assert set(np.unique(per_step)) <= {0.0, 1.0}
    assert (per_step.sum(1) == int(np.floor(ratio * t + 1e-9))).all()


def test_block_is_one_contiguous_block():
    m = masking.get("block")((2, 14, 14), 0.5, generator=np.random.default_rng(1), batch=4)
    for b in range(4):
        ys, xs = np.nonzero(m[b, 0])
        # bounding box holds at most one partial row beyond the full rows
        box = (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
        assert box - m[b, 0].sum() < xs.max() - xs.min() + 1


@pytest.mark.parametrize("ratio,k", [(0.25, 1), (0.5, 2), (0.75, 3)])
@pytest.mark.parametrize("spatial", ["repeated", "random"])
@pytest.mark.parametrize("temporal", ["fixed", "shuffled", "shuffled_period"])
def test_cell_running_visibility_rate(ratio, k, spatial, temporal):
    m = masking.get("cell_running")((8, 14, 14), ratio, generator=np.random.default_rng(3),
                                     batch=4, spatial=spatial, temporal=temporal)
    assert (m.sum(axis=(2, 3)) == k * 49).all()            # exact count, 49 cells
    assert (m.sum(axis=1) == 2 * k).all()                  # each token: k of every 4 steps overall
    if temporal != "shuffled":                             # the full shuffle breaks the periods
        for start in (0, 4):
            assert (m[:, start:start + 4].sum(axis=1) == k).all()
    cells = m.reshape(4, 8, 7, 2, 7, 2).sum(axis=(3, 5))
    assert (cells == k).all()                              # k of 4 per cell at every step


def test_cell_running_fixed_order_rotates_in_raster_order():
    """The official cell list is rotated in raster order (0,0), (0,1), (1,0), (1,1): at 25% the
    masked token visits them in that order; at 50% the states are top row, anti-diagonal, bottom
    row, main diagonal (a ring order would give the right and left columns instead)."""
    run = masking.get("cell_running")
    m = run((4, 2, 2), 0.25, generator=np.random.default_rng(0), temporal="fixed", start_state=0)[0]
    assert [tuple(np.argwhere(m[t])[0]) for t in range(4)] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    m = run((4, 2, 2), 0.5, generator=np.random.default_rng(0), temporal="fixed", start_state=0)[0]
    assert m.astype(int).tolist() == [[[1, 1], [0, 0]], [[0, 1], [1, 0]], [[0, 0], [1, 1]],
                                      [[1, 0], [0, 1]]]
    ring = run((4, 2, 2), 0.5, generator=np.random.default_rng(0), temporal="fixed", start_state=0,
               order="ring")[0]
    assert ring.astype(int).tolist() == [[[1, 1], [0, 0]], [[0, 1], [0, 1]], [[0, 0], [1, 1]],
                                         [[1, 0], [1, 0]]]


def test_cell_running_shuffle_permutes_every_step():
    """Official "shuffled": one random permutation of the T' steps per clip (2 copies of each of
    the 4 states at T' = 8), so two consecutive steps share a state with probability
    (T'/4 - 1) / (T' - 1) = 1/7 = 0.14; the period-wise shuffle never repeats a state there."""
    run = masking.get("cell_running")
    m = run((8, 2, 2), 0.5, generator=np.random.default_rng(0), batch=4000)
    same = (m[:, 1:] == m[:, :-1]).all(axis=(2, 3)).mean()
    assert abs(same - 1 / 7) < 0.01
    p = run((8, 2, 2), 0.5, generator=np.random.default_rng(0), batch=500, temporal="shuffled_period")
    assert not (p[:, 1:] == p[:, :-1]).all(axis=(2, 3)).any()
    assert (p[:, :4] == p[:, 4:]).all()                      # the period repeats


def test_cell_running_refuses_other_ratios():
    with pytest.raises(ValueError, match="0.25, 0.5 or 0.75"):
        masking.get("cell_running")(GRID, 0.6, generator=np.random.default_rng(0))


def test_uniform_running_rate():
    m = masking.get("uniform")((8, 14, 14), 0.5, generator=np.random.default_rng(0), batch=2)
    assert (m[:, 0:4].sum(axis=1) == 2).all()
    assert (m.sum(axis=(2, 3)) == 98).all()


def test_pmr_endpoints_monotone_sqrt():
    assert masking.pmr(0.3, 0.8, 0) == pytest.approx(0.3)
    assert masking.pmr(0.3, 0.8, 100, 100) == pytest.approx(0.8)
    assert masking.pmr(0.3, 0.8, 250, 100) == pytest.approx(0.8)
    eps = np.linspace(0, 100, 101)
    p = masking.pmr(0.3, 0.9, eps, 100)
    assert np.all(np.diff(p) > 0)
    assert masking.pmr(0.3, 0.9, 25, 100) == pytest.approx(0.3 + 0.6 * 0.5)   # sqrt(1/4)
    # concave: the first quarter of the epochs covers half of the way
    assert masking.pmr(0.0, 1.0, 10, 40) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="end"):
        masking.pmr(0.3, 1.2, 1)


def _fgdm_klt(t=8, h=14, w=14, region=(slice(2, 9), slice(3, 10))):
    klt = np.zeros((2 * t, h, w), np.uint8)
    klt[:, region[0], region[1]] = 1
    return klt


def test_fgdm_dense_inside_sparse_outside():
    klt = _fgdm_klt(region=(slice(2, 9), slice(0, 14)))   # |V| = 98 of 196 tokens
    v = np.zeros((14, 14), bool)
    v[2:9, :] = True
    p_spa, p_den = 0.6, 0.7
    m = masking.get("fgdm")(GRID, p_spa, generator=np.random.default_rng(0), batch=400,
                            klt=klt, p_den=p_den, p_tmp=1.0)
    inside = m[..., v].mean()
    outside = m[..., ~v].mean()
    assert inside == pytest.approx(p_den * p_spa * 196 / 98, abs=0.01)        # 0.84
    assert outside == pytest.approx((1 - p_den) * p_spa * 196 / 98, abs=0.01)  # 0.36
    assert m.mean() == pytest.approx(p_spa, abs=0.01)


def test_fgdm_fallback_to_random_when_a_ratio_exceeds_one():
    klt = _fgdm_klt(region=(slice(0, 2), slice(0, 2)))   # |V| = 4: P_act = 0.7*0.8*196/4 > 1
    m = masking.get("fgdm")(GRID, 0.8, generator=np.random.default_rng(0), batch=400,
                            klt=klt, p_den=0.7, p_tmp=1.0)
    v = np.zeros((14, 14), bool)
    v[0:2, 0:2] = True
    assert m[..., v].mean() == pytest.approx(0.8, abs=0.03)
    assert m[..., ~v].mean() == pytest.approx(0.8, abs=0.01)
    # no motion at all: P_act = N_den / 0 -> fallback as well
    m0 = masking.get("fgdm")(GRID, 0.5, generator=np.random.default_rng(0), batch=200,
                             klt=np.zeros((16, 14, 14), np.uint8), p_tmp=1.0)
    assert m0.mean() == pytest.approx(0.5, abs=0.01)


def test_fgdm_ptmp_selects_whole_steps():
    m = masking.get("fgdm")(GRID, 0.8, generator=np.random.default_rng(0), batch=50,
                            klt=_fgdm_klt(), p_tmp=0.5)
    touched = m.any(axis=(2, 3))
    assert (touched.sum(axis=1) == 4).all()               # floor(0.5 * 8) steps get a mask
    assert not np.array_equal(touched[0], touched[1])     # which steps varies


def test_fgdm_motion_region_pools_finer_maps_with_max():
    klt = np.zeros((16, 28, 28), np.uint8)
    klt[3, 5, 7] = 1                                      # frame 3 -> token step 1, token (2, 3)
    from motionmvm.masking.fgdm import motion_region
    v = motion_region(klt, GRID, 1)
    assert v.sum() == 1 and v[0, 1, 2, 3]


def test_mgmae_backward_warp_moves_mask_with_the_object():
    """Object translating right: masks after the base frame must move right, before it left.
    Reversing the flow direction of eq 2 makes the mask move the other way and fails here."""
    from motionmvm.masking.mgmae import backward_warp
    h = w = 32
    m = torch.zeros(1, h, w)
    m[0, 10:14, 10:14] = 1.0
    u = 3.0
    # next frame i = b + 1 from M_b with v_{i->i-1} = -u on the moved object
    v_back = torch.zeros(1, h, w, 2)
    v_back[0, :, :, 0] = -u
    nxt = backward_warp(m, v_back)
    cx = lambda a: float((a[0].sum(0) * torch.arange(w)).sum() / a[0].sum())
    assert cx(nxt) == pytest.approx(cx(m) + u, abs=0.01)


@pytest.mark.parametrize("backward_given", [False, True])
def test_mgmae_volume_moves_right_with_a_translating_clip(backward_given):
    """The whole scene moves right by u px per frame: the visibility volume's centre of mass must
    move right by 2u px per token step (forward in time), whichever way v_{i->i-1} is obtained."""
    from motionmvm.masking.mgmae import mgmae_volume
    t, h, w, u = 16, 16, 512, 2.0
    flow = np.zeros((t - 1, h, w, 2), np.float32)
    flow[..., 0] = u
    back = -flow if backward_given else None
    # rho = 0.96 on 1 x 32 tokens: a single Gaussian (N_v = 1), so its centre of mass is its centre
    vol = mgmae_volume((8, 1, 32), 0.96, generator=np.random.default_rng(0), batch=16, flow=flow,
                       flow_backward=back, hole_fill="invisible").numpy()
    cols = np.arange(32) * 16 + 8.0
    com = (vol.sum(axis=2) * cols).sum(-1) / vol.sum(axis=(2, 3))        # [B, T'] in px
    inner = (com[:, 4] > 128) & (com[:, 4] < 384)                       # no border effects
    assert inner.sum() >= 4
    step = np.diff(com[inner], axis=1)
    # token step = 2 frames: the blob moves right by 2u px per step (reversed eq 2: -2u)
    assert step == pytest.approx(np.full_like(step, 2 * u), abs=0.5)


def test_mgmae_frame_and_clip_topk_counts_and_cuda_free():
    rng = np.random.default_rng(0)
    flow = rng.normal(size=(15, 56, 56, 2)).astype(np.float32)
    m = masking.get("mgmae")(GRID, 0.9, generator=np.random.default_rng(0), batch=2, flow=flow)
    n_vis = int(np.floor(0.1 * 196 + 1e-9))
    assert ((~m).sum(axis=(2, 3)) == n_vis).all()
    mc = masking.get("mgmae")(GRID, 0.9, generator=np.random.default_rng(0), batch=2, flow=flow,
                              topk="clip")
    assert ((~mc).sum(axis=(1, 2, 3)) == n_vis * 8).all()
    for fill in ("previous", "visible", "random", "tube"):
        masking.get("mgmae")(GRID, 0.9, generator=np.random.default_rng(0), flow=flow,
                             hole_fill=fill)
    with pytest.raises(ValueError, match="T-1"):
        masking.get("mgmae")(GRID, 0.9, generator=np.random.default_rng(0), flow=flow[:10])


def test_mgmae_zero_flow_is_tube_masking():
    flow = np.zeros((15, 56, 56, 2), np.float32)
    m = masking.get("mgmae")(GRID, 0.9, generator=np.random.default_rng(0), batch=2, flow=flow)
    assert (m == m[:, :1]).all()


def test_gaussian_mixture_map_formula():
    """official: max of exp(-d^2 / s^2); paper (default): sum of exp(-d^2 / (2 s^2)) (the
    mixture sum_i N(c_i, s^2)). Ratios of pixel values pin each form."""
    from motionmvm.masking.mgmae import gaussian_mixture_map
    c = torch.tensor([[[8.0, 8.0], [8.0, 40.0]]])
    m = gaussian_mixture_map(c, (16, 48), 16.0, "official")
    assert m.max() == pytest.approx(np.exp(-2 * (0.5 / 16) ** 2), rel=1e-4) or m.max() == 1.0
    # value at pixel centre (y=7.5, x=23.5): max of the two Gaussians, normalised
    expected = np.exp(-((0.5 / 16) ** 2 + (15.5 / 16) ** 2)) / np.exp(-2 * (0.5 / 16) ** 2)
    assert float(m[0, 7, 23]) == pytest.approx(expected, rel=1e-4)

    def g(y, x, cy, cx):
        return np.exp(-0.5 * (((y - cy) / 16) ** 2 + ((x - cx) / 16) ** 2))

    def mix(y, x):
        return g(y, x, 8, 8) + g(y, x, 8, 40)

    p = gaussian_mixture_map(c, (16, 48), 16.0)
    assert float(p.max()) == pytest.approx(1.0)
    assert float(p[0, 7, 23] / p[0, 7, 7]) == pytest.approx(mix(7.5, 23.5) / mix(7.5, 7.5), rel=1e-4)
    assert float(p[0, 0, 40] / p[0, 7, 7]) == pytest.approx(mix(0.5, 40.5) / mix(7.5, 7.5), rel=1e-4)


def _mgm_peaks_mv(t, h, w, peaks):
    mv = np.zeros((2 * t, h * 4, w * 4, 2), np.float16)
    for k, (i, j) in enumerate(peaks):
        mv[2 * k:2 * k + 2, i * 4:(i + 1) * 4, j * 4:(j + 1) * 4, 0] = 5.0
    return mv


def test_mgm_eq7_square_block_of_side_sqrt_gamma_hw_centred_on_the_argmax():
    """Paper 004 eq. 7 without jitter: w_t = h_t = w0 = sqrt(gamma H'W') (7 at gamma 0.25 on
    14 x 14) and [x_t, y_t] = centre - w_t / 2 with the centre at the top-1 magnitude token.
    The exact mask is pinned: a strip, a block of another aspect or an off-centre block fails."""
    t, h, w = 8, 14, 14
    peaks = [(3, 3), (4, 5), (6, 7), (7, 9), (8, 10), (9, 9), (7, 6), (6, 4)]
    m = masking.get("mgm")((t, h, w), 0.25, generator=np.random.default_rng(0), batch=3,
                           mv=_mgm_peaks_mv(t, h, w, peaks), jitter=0)
    for k in range(1, t):
        i, j = peaks[k]
        expect = np.zeros((h, w), bool)
        expect[i - 3:i + 4, j - 3:j + 4] = True          # centre (i + 0.5, j + 0.5) - 3.5
        assert (m[:, k] == expect).all(), k
    ys, xs = np.nonzero(m[0, 0])                        # step 0: random corner, same square
    assert (ys.max() - ys.min() + 1, xs.max() - xs.min() + 1, len(ys)) == (7, 7, 49)


def test_mgm_eq7_jitter_keeps_a_rectangle_whose_steps_sum_to_zero():
    """With jitter, w_t = w_{t-1} + s_xt, h_t = h_{t-1} + s_yt, sum s_xt = sum s_yt = 0: the
    first and last steps have w0 x h0; every step is one rectangle of w_t columns (full rows plus
    at most one left-aligned partial row) holding exactly floor(gamma H'W') tokens."""
    t, h, w = 8, 14, 14
    gamma, k = 0.75, int(0.75 * 196)
    w0 = round(np.sqrt(gamma * h * w))                  # 12
    peaks = [(7, 7)] * t
    m = masking.get("mgm")((t, h, w), gamma, generator=np.random.default_rng(5), batch=16,
                           mv=_mgm_peaks_mv(t, h, w, peaks), jitter=1)
    widths = np.zeros((16, t), int)
    for b in range(16):
        for s in range(t):
            ys, xs = np.nonzero(m[b, s])
            width = xs.max() - xs.min() + 1
            widths[b, s] = width
            rows = m[b, s].sum(axis=1)[ys.min():ys.max() + 1]
            assert len(ys) == k
            assert (rows[:-1] == width).all() and 0 < rows[-1] <= width   # one partial row at most
            assert m[b, s, ys.max(), xs.min()]                           # left-aligned
    assert (np.abs(widths - w0) <= 1).all()
    assert (widths[:, 0] == w0).all() and (widths[:, -1] == w0).all()   # sum_t s_xt = 0
    assert len(np.unique(widths)) > 1                                     # it does jitter


def test_mgm_optical_flow_guidance_and_missing_frames():
    t, h, w = 8, 14, 14
    flow = np.zeros((2 * t, h * 16, w * 16, 2), np.float32)
    flow[:, 100:116, 180:196, 1] = 3.0                   # token (6, 11)
    mag = motion_magnitude((t, h, w), 1, flow=flow)
    assert np.unravel_index(np.nanargmax(mag[0, 3]), (h, w)) == (6, 11)
    mv = np.ones((2 * t, h * 4, w * 4, 2), np.float16)
    missing = np.zeros(2 * t, bool)
    missing[4:6] = True                                   # token step 2 has no vectors
    mag = motion_magnitude((t, h, w), 1, mv=mv, mv_missing=missing)
    assert np.isnan(mag[0, 2]).all() and not np.isnan(mag[0, 1]).any()
    m = masking.get("mgm")((t, h, w), 0.5, generator=np.random.default_rng(0), mv=mv,
                           mv_missing=missing)
    assert (m.sum(axis=(2, 3)) == 98).all()
    with pytest.raises(ValueError, match="exactly one"):
        masking.get("mgm")((t, h, w), 0.5, generator=np.random.default_rng(0))


def test_mgm_sparse_prefers_motion_and_smm_counts():
    t, h, w = 8, 14, 14
    mv = np.zeros((2 * t, h * 4, w * 4, 2), np.float16)
    mv[:, :28, :, 0] = 4.0                                 # top half moves
    m = masking.get("mgm_sparse")((t, h, w), 0.25, generator=np.random.default_rng(0), batch=4,
                                  mv=mv)
    assert (m.sum(axis=(2, 3)) == 49).all()
    assert m[:, :, :7].sum() == m.sum()                   # all masks land on the moving half
    for name in ("smm", "smm_sparse"):
        s = masking.get(name)((t, h, w), 0.75, generator=np.random.default_rng(0), batch=4)
        assert (s.sum(axis=(2, 3)) == 147).all()
        assert not (s == s[:, :1]).all()                   # it moves


def test_compose_flow_chains_constant_motion():
    flow = np.zeros((10, 32, 32, 2), np.float32)
    flow[..., 0] = 1.5
    out = align.compose_flow(flow, [0, 2, 4, 7])
    assert out.shape == (3, 32, 32, 2)
    assert out[0, 16, 8, 0] == pytest.approx(3.0)
    assert out[2, 16, 8, 0] == pytest.approx(4.5)
    sel = align.select_frames(np.arange(10), [8, 9, 10])
    assert list(sel) == [8, 9, 9]


@settings(max_examples=30, deadline=None)
@given(t=st.integers(1, 8), h=st.integers(1, 12), w=st.integers(1, 12),
       gamma=st.floats(0, 1), jitter=st.integers(0, 3), seed=st.integers(0, 2**31))
def test_moving_blocks_keep_exact_area_on_any_grid(t, h, w, gamma, jitter, seed):
    k = int(np.floor(gamma * h * w + 1e-9))
    rng = np.random.default_rng(seed)
    mv = rng.normal(size=(2 * t, 2 * h, 2 * w, 2)).astype(np.float32)
    for name, kw in (("mgm", {"mv": mv, "jitter": jitter}), ("smm", {"jitter": jitter}),
                     ("mgm_sparse", {"mv": mv}), ("smm_sparse", {})):
        m = masking.get(name)((t, h, w), gamma, generator=np.random.default_rng(seed), batch=2, **kw)
        assert m.shape == (2, t, h, w)
        assert (m.sum(axis=(2, 3)) == k).all(), name


@settings(max_examples=15, deadline=None)
@given(t=st.integers(1, 6), h=st.integers(1, 5), w=st.integers(1, 5), rho=st.floats(0, 1),
       seed=st.integers(0, 2**31))
def test_mgmae_exact_visible_count_on_any_grid(t, h, w, rho, seed):
    rng = np.random.default_rng(seed)
    flow = rng.normal(scale=3, size=(2 * t - 1, 4 * h, 4 * w, 2)).astype(np.float32)
    m = masking.get("mgmae")((t, h, w), rho, generator=rng, batch=2, flow=flow)
    assert ((~m).sum(axis=(2, 3)) == int(np.floor((1 - rho) * h * w + 1e-9))).all()


def test_mgmae_holes_are_filled_from_the_base_map():
    """Flow pointing far outside the frame makes every warped pixel a hole: with "tube" filling
    every frame is the base map (tube masking); with "invisible" it is not."""
    from motionmvm.masking.mgmae import mgmae_volume
    flow = np.full((15, 56, 56, 2), 1000.0, np.float32)
    kw = dict(generator=np.random.default_rng(0), batch=2, flow=flow, flow_backward=flow)
    vol = mgmae_volume(GRID, 0.9, hole_fill="tube", **kw).numpy()
    assert np.allclose(vol, vol[:, 4:5], atol=1e-6)              # base step 4 everywhere
    m = masking.get("mgmae")(GRID, 0.9, hole_fill="tube", **kw)
    assert (m == m[:, :1]).all()
    vol0 = mgmae_volume(GRID, 0.9, hole_fill="invisible", generator=np.random.default_rng(0),
                        batch=2, flow=flow, flow_backward=flow).numpy()
    assert vol0[:, 0].max() < 1e-6 and vol0[:, 4].max() > 0.1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_mgmae_on_gpu_matches_cpu():
    from motionmvm.masking.mgmae import mgmae_torch
    flow = torch.randn(4, 15, 224, 224, 2)
    cpu = mgmae_torch(GRID, 0.9, generator=np.random.default_rng(0), batch=4, flow=flow)
    gpu = mgmae_torch(GRID, 0.9, generator=np.random.default_rng(0), batch=4, flow=flow.cuda())
    assert gpu.is_cuda
    assert (cpu == gpu.cpu()).float().mean() > 0.99


@settings(max_examples=20, deadline=None)
@given(t=st.integers(1, 9), h=st.integers(1, 9), w=st.integers(1, 9),
       k=st.sampled_from([1, 2, 3]), seed=st.integers(0, 2**31),
       spatial=st.sampled_from(["repeated", "random"]),
       temporal=st.sampled_from(["fixed", "shuffled", "shuffled_period"]))
def test_cell_running_any_grid(t, h, w, k, seed, spatial, temporal):
    m = masking.get("cell_running")((t, h, w), k / 4, generator=np.random.default_rng(seed),
                                     batch=2, spatial=spatial, temporal=temporal)
    assert m.shape == (2, t, h, w)
    if temporal == "fixed":
        for start in range(0, t - 3, 4):                 # every full period: k of 4 steps masked
            assert (m[:, start:start + 4].sum(axis=1) == k).all()
    elif t % 4 == 0:                                     # shuffled: k of every 4 steps overall
        assert (m.sum(axis=1) == k * t // 4).all()
    if h % 2 == 0 and w % 2 == 0:
        assert (m.sum(axis=(2, 3)) == k * h * w // 4).all()


def test_fgdm_counts_inside_and_outside_follow_eqs_8_to_14():
    """Paper 000 eqs 8-14 pinned on a fixed motion region over many seeds: |V| = 70 of 196 tokens,
    P_spa 0.4, P_den 0.7 -> N_den = 54.88, N_spr = 23.52 masked tokens per masked step, drawn
    per token (binomial: P_act = 54.88 / 70, P_bg = 23.52 / 126). Fails for P_act = P_den x P_spa
    (no |V| normalisation), for an exact-count draw, and for swapped dense/sparse regions."""
    klt = _fgdm_klt(region=(slice(2, 7), slice(0, 14)))   # rows 2..6: |V| = 70
    v = np.zeros((14, 14), bool)
    v[2:7, :] = True
    m = masking.get("fgdm")(GRID, 0.4, generator=np.random.default_rng(3), batch=500,
                            klt=klt, p_den=0.7, p_tmp=1.0)
    inside = m[..., v].sum(-1).ravel()                    # per (clip, step) counts
    outside = m[..., ~v].sum(-1).ravel()
    assert inside.mean() == pytest.approx(0.7 * 0.4 * 196, abs=0.3)
    assert outside.mean() == pytest.approx(0.3 * 0.4 * 196, abs=0.3)
    p_act, p_bg = 0.7 * 0.4 * 196 / 70, 0.3 * 0.4 * 196 / 126
    assert inside.std() == pytest.approx(np.sqrt(70 * p_act * (1 - p_act)), rel=0.1)
    assert outside.std() == pytest.approx(np.sqrt(126 * p_bg * (1 - p_bg)), rel=0.1)


def test_fgdm_falls_back_when_only_the_background_ratio_exceeds_one():
    """|V| = 182, |1 - V| = 14: P_act = 0.56 x 196 / 182 <= 1 but P_bg = 0.24 x 196 / 14 > 1, so
    both regions use P_spa (clipping P_bg to 1 would mask the whole background)."""
    klt = _fgdm_klt(region=(slice(0, 13), slice(0, 14)))
    v = np.zeros((14, 14), bool)
    v[0:13, :] = True
    m = masking.get("fgdm")(GRID, 0.8, generator=np.random.default_rng(4), batch=400,
                            klt=klt, p_den=0.7, p_tmp=1.0)
    assert m[..., v].mean() == pytest.approx(0.8, abs=0.01)
    assert m[..., ~v].mean() == pytest.approx(0.8, abs=0.02)


def test_fgdm_ptmp_picks_each_step_equally_often_and_leaves_the_others_visible():
    """floor(P_tmp T') of the T' token steps carry the spatial mask, chosen uniformly (not always
    the first ones); the other steps are fully visible."""
    m = masking.get("fgdm")(GRID, 0.8, generator=np.random.default_rng(5), batch=2000,
                            klt=_fgdm_klt(), p_tmp=0.3)
    touched = m.any(axis=(2, 3))                          # [B, T'] (0.8 x 196 tokens: never empty)
    assert (touched.sum(1) == int(0.3 * 8)).all()
    assert np.allclose(touched.mean(0), 2 / 8, atol=0.04)
    per_step = m.sum(axis=(2, 3))
    assert (per_step[~touched] == 0).all()
    assert per_step[touched].mean() == pytest.approx(0.8 * 196, abs=1.0)


def test_pmr_takes_fractional_epochs():
    """PMR rises "by the iterations": progress in fractional epochs (step / steps_per_epoch)."""
    assert masking.pmr(0.3, 0.8, 0.5, 100) == pytest.approx(0.3 + 0.5 * np.sqrt(0.005))
    steps = np.arange(0, 50) / 50                          # the first epoch, 50 steps
    p = masking.pmr(0.3, 0.9, steps, 100)
    assert np.all(np.diff(p) > 0) and p[-1] == pytest.approx(0.3 + 0.6 * np.sqrt(0.98 / 100))
