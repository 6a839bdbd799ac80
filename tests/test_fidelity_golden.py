"""Golden tests: our MAR, MGMAE and VideoMAE pieces against outputs of the official code.

The fixtures under tests/fixtures/official/<method>/ were produced by running the official
functions outside this repository (provenance.json beside each: repository, commit, function,
how it was run; the scripts are generate.py there). Exact where both sides are deterministic,
stated distribution properties where the official side draws from torch's / numpy's global RNG.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from motionmvm import masking

FIX = Path(__file__).parent / "fixtures" / "official"


def _load(method: str, name: str) -> dict[str, np.ndarray]:
    prov = json.loads((FIX / method / "provenance.json").read_text())
    assert len(prov["commit"]) == 40 and prov["repository"].startswith("https://github.com/")
    with np.load(FIX / method / name) as z:
        return {k: z[k] for k in z.files}


# ---- MAR: CellRunningMaskAgent (models/base/agents.py) --------------------------------------

MAR = _load("mar", "cell_running.npz")
RUN = masking.get("cell_running")


@pytest.mark.parametrize("k", [1, 2, 3])
def test_mar_running_states_match_the_official_table(k):
    """The official train_mask[i] ([T', 4]: cell in raster order, 1 = masked) is our fixed order
    from start state i on one 2 x 2 cell."""
    states = MAR[f"train_states_r{k}"]
    for i in range(4):
        ours = RUN((8, 2, 2), k / 4, generator=np.random.default_rng(0), temporal="fixed",
                   start_state=i)[0].reshape(8, 4)
        np.testing.assert_array_equal(ours, states[i].astype(bool))


@pytest.mark.parametrize("k", [1, 2, 3])
def test_mar_test_mask_matches_the_official_one(k):
    ours = RUN((8, 14, 14), k / 4, generator=np.random.default_rng(0), spatial="repeated",
               temporal="fixed", start_state=0)[0]
    np.testing.assert_array_equal(ours, MAR[f"test_masked_r{k}"])


@pytest.mark.parametrize("k", [1, 2, 3])
def test_mar_training_masks_are_the_official_ones_up_to_the_random_start(k):
    """Official training masks (spatially repeated, fixed order) are exactly our four
    start states; with the temporal shuffle each is a permutation of the T' steps of one."""
    fixed = {i: RUN((8, 14, 14), k / 4, generator=np.random.default_rng(0), temporal="fixed",
                    start_state=i)[0] for i in range(4)}
    seen = set()
    for clip in MAR[f"train_fixed_masked_r{k}"]:
        match = [i for i, f in fixed.items() if np.array_equal(clip, f)]
        assert len(match) == 1
        seen.add(match[0])
    assert seen == {0, 1, 2, 3}
    def steps(m):
        return sorted(s.tobytes() for s in m)

    for clip in MAR[f"train_shuffled_masked_r{k}"]:
        assert any(steps(clip) == steps(f) for f in fixed.values())


def test_mar_shuffle_statistics_match_the_official_code():
    """P(step t and t+1 share their state): official (64 clips x 3 ratios) and ours both near
    the full permutation's 1/7; a period-wise shuffle would give 0."""
    def same_rate(m):
        return (m[:, 1:] == m[:, :-1]).all(axis=(2, 3)).mean()

    official = np.mean([same_rate(MAR[f"train_shuffled_masked_r{k}"]) for k in (1, 2, 3)])
    ours = same_rate(RUN((8, 14, 14), 0.5, generator=np.random.default_rng(1), batch=3000))
    assert abs(official - 1 / 7) < 0.05 and abs(ours - 1 / 7) < 0.01


# ---- MGMAE: engine_for_mgmae.get_build_mask_volume_func + masking_generator ------------------

MG = _load("mgmae", "mask_volume.npz")


def _pixel_centres(tok: np.ndarray, patch: int) -> torch.Tensor:
    return torch.tensor((tok + 0.5) * patch, dtype=torch.float32)


def test_mgmae_centre_count_and_topk_count_match_the_official_code():
    from motionmvm.masking.mgmae import n_centres

    assert n_centres(196, 0.9, "official") == int(MG["vitb_num_centres"]) == 20
    assert n_centres(196, 0.9) == 19
    assert int(np.floor((1 - 0.9) * 196 + 1e-9)) == int(MG["vitb_topk_visible"]) == 19
    m = masking.get("mgmae")((8, 14, 14), 0.9, generator=np.random.default_rng(0),
                             flow=np.zeros((15, 28, 28, 2), np.float32))
    assert ((~m).sum(axis=(2, 3)) == 19).all()


def test_mgmae_gaussian_mixture_matches_the_official_map():
    from motionmvm.masking.mgmae import gaussian_mixture_map

    ours = gaussian_mixture_map(_pixel_centres(MG["vitb_centres_token"], 16)[None], (224, 224), 16.0,
                                "official")
    np.testing.assert_allclose(ours[0].numpy(), MG["vitb_map"], atol=1e-6)
    small = gaussian_mixture_map(_pixel_centres(MG["centres_token"], 8), (32, 32), 8.0, "official")
    np.testing.assert_allclose(small.numpy(), MG["init_map"], atol=1e-6)


# The official BackWarp turns pixels into grid units with 2 / W (align_corners=True would need
# 2 / (W - 1)): it moves by v (W - 1) / W pixels. Scaling the flow by that factor makes ours
# compute what the official code computes.
_SCALE = 31.0 / 32.0


def _ours_volume(flow_before_base: np.ndarray) -> np.ndarray:
    from motionmvm.masking.mgmae import warp_maps

    base = torch.tensor(MG["init_map"])
    flow = torch.tensor(flow_before_base * _SCALE)[None].expand(2, -1, -1, -1, -1)
    bwd = torch.tensor(MG["flow_backward"] * _SCALE)[None].expand(2, -1, -1, -1, -1)
    return warp_maps(base, flow, bwd, base_frame=4, hole_fill="tube").numpy()


def test_mgmae_official_warps_earlier_frames_with_the_wrong_flow_direction():
    """The official loop asks RAFT for (frame i+1, frame i) before the base frame, i.e.
    v_{i+1 -> i}, because its swap tests warp_type == 'backwarp' (never true)."""
    pairs = [tuple(p) for p in MG["requested_pairs"]]
    assert pairs == [(4, 3), (3, 2), (2, 1), (1, 0), (5, 4), (6, 5), (7, 6)]


def test_mgmae_warping_reproduces_the_official_volume_given_its_flows():
    """Given the flows the official code used (v_{i+1->i} before the base frame, v_{i->i-1}
    after it), our warp chain with tube hole filling reproduces its per-frame maps; with the
    correct v_{i->i+1} (paper eq. 2) the frames before the base differ and the rest agree."""
    official = MG["volume"]
    ours = _ours_volume(MG["flow_backward"])
    np.testing.assert_allclose(ours, official, atol=1e-5)
    correct = _ours_volume(MG["flow_forward"])
    np.testing.assert_allclose(correct[:, 4:], official[:, 4:], atol=1e-5)
    assert np.abs(correct[:, :4] - official[:, :4]).max() > 0.05


def test_mgmae_token_scores_and_topk_match_the_official_code():
    """Official scores are sums over 2 x q x q of the volume; ours averages (same order), and
    frame-level top-k gives the official mask (margins checked to exclude float ties)."""
    from motionmvm.masking.mgmae import warp_maps

    base = torch.tensor(MG["init_map"])
    flow = torch.tensor(MG["flow_backward"] * _SCALE)[None].expand(2, -1, -1, -1, -1)
    pooled = warp_maps(base, flow, flow, base_frame=4, pool=(8, 8))          # [2, 8, 4, 4]
    tokens = pooled.reshape(2, 4, 2, 4, 4).mean(dim=2).reshape(2, 4, 16)
    np.testing.assert_allclose(tokens.numpy() * 2 * 8 * 8, MG["token_scores"], rtol=1e-4, atol=1e-4)
    k = int(MG["num_visible"])
    top = torch.topk(tokens, k + 1, dim=-1).values
    assert (top[..., k - 1] - top[..., k] > 1e-4).all()
    idx = torch.topk(tokens, k, dim=-1).indices
    visible = torch.zeros_like(tokens, dtype=torch.bool).scatter_(-1, idx, True)
    np.testing.assert_array_equal((~visible).reshape(2, 4, 4, 4).numpy(), MG["masked"].astype(bool))


# ---- VideoMAE: TubeMaskingGenerator + engine_for_pretraining's normalised pixel target ------

VM = _load("videomae", "tube_and_target.npz")


def test_videomae_normalised_pixel_target_is_exactly_the_official_one():
    from motionmvm.targets import pixel_target

    x = torch.tensor(VM["target_input"])
    patch = int(VM["target_patch"])
    ours = pixel_target(x, patch=patch, tubelet=2)
    np.testing.assert_allclose(ours.numpy(), VM["target_norm_videos_patch"], rtol=1e-6, atol=1e-6)
    raw = pixel_target(x, patch=patch, tubelet=2, norm=False)
    np.testing.assert_array_equal(raw.numpy(), VM["target_raw_videos_patch"])
    pos = torch.tensor(VM["target_bool_masked_pos"])
    np.testing.assert_allclose(ours[pos].reshape(2, -1, ours.shape[-1]).numpy(),
                               VM["target_norm_labels"], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("key,grid,ratio", [("tube_masks_8x14x14_r090", (8, 14, 14), 0.9),
                                            ("tube_masks_2x5x7_r075", (2, 5, 7), 0.75)])
def test_videomae_tube_masks_have_the_official_structure(key, grid, ratio):
    """Official: int(ratio H'W') masked per frame, one map repeated over time, positions
    uniform. Ours: the same count and repetition; per-position rates agree."""
    official = VM[key]
    ours = masking.get("tube")(grid, ratio, generator=np.random.default_rng(0), batch=len(official))
    for m in (official, ours):
        assert (m.sum(axis=(2, 3)) == int(ratio * grid[1] * grid[2])).all()
        assert (m == m[:, :1]).all()
    n = len(official)
    tol = 4 * np.sqrt(ratio * (1 - ratio) / n)
    assert np.abs(official[:, 0].mean(0) - ratio).max() < tol
    assert np.abs(ours[:, 0].mean(0) - ratio).max() < tol
