"""MGMAE: motion-guided masking (flow-warped Gaussian-mixture visibility, frame-level top-k) at
rho = 0.9 with VideoMAE's pixel target, model and optimizer (paper 002 keeps VideoMAE's recipe).

Flow comes from the offline `flow` motion cache (the paper: online RAFT-small; offline TV-L1 is
reported as equally accurate), chained between the clip's sampled frames.
"""
from motionmvm.methods import register_method
from motionmvm.methods.pixel import build_pixel_model
from motionmvm.methods.spec import MethodSpec
from motionmvm.methods.videomae import VIDEOMAE_OPTIM

SPEC = register_method(MethodSpec(
    name="mgmae", masking="mgmae", mask_ratio=0.9, target="pixel", builder=build_pixel_model,
    optim=VIDEOMAE_OPTIM, motion_kinds=("flow",), description="motion-guided masking 0.9 + pixels"))
