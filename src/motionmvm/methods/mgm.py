"""MGM (dense rectangle following codec motion vectors) and SMM (the same rectangle moved by
simulated motion, no video information), both at gamma = 0.75 with VideoMAE's pixel target,
model and optimizer (paper 004 builds on VideoMAE)."""
from motionmvm.methods import register_method
from motionmvm.methods.pixel import build_pixel_model
from motionmvm.methods.spec import MethodSpec
from motionmvm.methods.videomae import VIDEOMAE_OPTIM

MGM = register_method(MethodSpec(
    name="mgm", masking="mgm", mask_ratio=0.75, target="pixel", builder=build_pixel_model,
    optim=VIDEOMAE_OPTIM, motion_kinds=("mv",), description="motion-vector guided block 0.75 + pixels"))

SMM = register_method(MethodSpec(
    name="smm", masking="smm", mask_ratio=0.75, target="pixel", builder=build_pixel_model,
    optim=VIDEOMAE_OPTIM, description="simulated-motion block 0.75 + pixels"))
