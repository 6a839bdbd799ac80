"""Golden test: our MME trajectory target (default norm "per_step") reproduces the official MME
code's `PatchStd` normalisation on stored inputs (tests/fixtures/official/mme/official.json says
which repository, commit and lines produced them)."""
import json
from pathlib import Path

import numpy as np
import torch
from einops import rearrange

from motionmvm.targets import trajectory_target

FIX = Path(__file__).parent / "fixtures" / "official" / "mme"


def _ours(raw: np.ndarray, length: int, norm: str) -> torch.Tensor:
    """The official layout [B, coord, T'*L, Hg, Wg] -> our cache layout [B, T', Hg, Wg, L, 2],
    target in the official feature order (coord, step, point row, point column)."""
    disp = rearrange(raw.astype(np.float32), "b d (t l) y x -> b t y x l d", l=length)
    valid = np.ones(disp.shape[:-1], bool)
    tgt, val = trajectory_target(disp, np.zeros((*disp.shape[:-1], 9), np.float32), valid, norm=norm,
                                 with_shape=False)
    assert val.all()
    return rearrange(tgt, "b n (a c l d) -> b n (d l a c)", a=2, c=2, l=length)


def test_per_step_norm_reproduces_the_official_patchstd():
    meta = json.loads((FIX / "official.json").read_text())
    assert len(meta["commit"]) == 40 and "XinyuSun/MME" in meta["repo"]
    with np.load(FIX / "traj_patchstd.npz") as z:
        raw, length, official = z["traj_shape"], int(z["traj_len"]), z["target"]
    ours = _ours(raw, length, "per_step")
    np.testing.assert_allclose(ours.numpy(), official, rtol=1e-5, atol=1e-5)
    assert np.abs(official[0, 0]).max() == 0          # the rigidly moving patch: target 0


def test_the_whole_patch_norm_option_differs_from_the_official_reading():
    with np.load(FIX / "traj_patchstd.npz") as z:
        raw, length, official = z["traj_shape"], int(z["traj_len"]), z["target"]
    ours = _ours(raw, length, "patch").numpy()
    assert np.abs(ours[0, 0]).max() > 0.5              # the rigid patch keeps its motion
    corr = np.corrcoef(ours.ravel(), official.ravel())[0, 1]
    assert corr < 0.9, corr
