"""ST-MAE: space-time agnostic random masking at 90%; everything else as VideoMAE."""
from motionmvm.methods import register_method
from motionmvm.methods.pixel import build_pixel_model
from motionmvm.methods.spec import MethodSpec
from motionmvm.methods.videomae import VIDEOMAE_OPTIM

SPEC = register_method(MethodSpec(
    name="stmae", masking="random", mask_ratio=0.9, target="pixel", builder=build_pixel_model,
    optim=VIDEOMAE_OPTIM, description="random space-time masking 0.9 + normalised pixels"))
