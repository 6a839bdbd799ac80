"""Golden test: our MME trajectory extraction against the official `SparseTracker`
(XinyuSun/MME@17689a9 m3video/feat.py, run outside this repository by the scratch script named
in tests/fixtures/official/mme/official.json) on a fixed integer flow field. On integer flow the
official integer-pixel tracker and our bilinear sub-pixel tracker move points identically."""
from pathlib import Path

import numpy as np
from einops import rearrange

from motionmvm.motion import traj

FIX = Path(__file__).parent / "fixtures" / "official" / "mme"


def test_displacements_match_the_official_sparse_tracker_on_integer_flow():
    with np.load(FIX / "sparse_tracker.npz") as z:
        flow, length = z["flow"].astype(np.float32), int(z["traj_len"])
        official = rearrange(z["traj_feat"].astype(np.float32), "(c l) t h w -> t h w l c", c=2)
        official_ok = z["traj_type"].astype(bool)               # [starts, H/8, W/8]
    frames = np.zeros((len(flow) + 1, *flow.shape[1:3], 3), np.uint8)
    ours = traj.trajectories(frames, flow, length=length, patch=16, bound=20)
    # the official loop tracks clip_len - L = F - 1 - L starts; ours F - L (one more at the end)
    disp = ours["disp"][: len(official)].astype(np.float32)
    valid = ours["valid"][: len(official)]
    assert disp.shape == official.shape
    step_ok = valid & official_ok[..., None]
    assert step_ok.all(-1).sum() >= 30                           # most trajectories stay inside
    np.testing.assert_array_equal(disp[step_ok], official[step_ok])
    # where a point's last move leaves the frame, the official type stays 1 (it checks positions
    # before each move); ours turns that step invalid: never the other way round
    assert not (valid.all(-1) & ~official_ok).any()
