"""Pretraining targets: each a function producing ``[B, L, D]`` (or token ids ``[B, L]``) in the
token order of the mask (``mask.reshape(B, -1)``: t, then h, then w), and a loss computed on
masked tokens only (validity-masked where a target has invalid entries).

- pixel: VideoMAE per-patch normalised pixels (`pixel_target`, loss `masked_mse`)
- hog: HOG per patch (`hog_target`, `masked_mse`)
- trajectory: MME trajectories from the `traj` cache (`trajectory_target`, `masked_mse` + valid)
- flow / hof / mbh: dense-flow targets of the MME ablations (`flow_target`, `hof_target`,
  `mbh_target`, `masked_mse`)
- tokens: VQ token ids (`token_target`, `token_loss`: cross-entropy on masked tokens)
"""
from motionmvm.targets.losses import masked_mse, select_masked
from motionmvm.targets.pixel import patchify, pixel_target
from motionmvm.targets.hog import hog_cells, hog_target
from motionmvm.targets.motion_features import flow_target, hof_target, mbh_target
from motionmvm.targets.trajectory import trajectory_target
from motionmvm.targets.tokens import token_loss, token_target

TARGETS = {
    "pixel": pixel_target,
    "hog": hog_target,
    "trajectory": trajectory_target,
    "flow": flow_target,
    "hof": hof_target,
    "mbh": mbh_target,
    "tokens": token_target,
}

__all__ = ["TARGETS", "masked_mse", "select_masked", "patchify", "pixel_target", "hog_cells",
           "hog_target", "flow_target", "hof_target", "mbh_target", "trajectory_target",
           "token_target", "token_loss"]
