"""VideoMAE: tube masking at 90%, per-patch normalised pixel target, asymmetric ViT + narrow decoder.

Optimizer (VideoMAE pretraining): AdamW, lr 1.5e-4 x batch/256, betas (0.9, 0.95), wd 0.05,
cosine schedule with linear warmup (warmup length from `pretrain.warmup_epochs`).
"""
from motionmvm.methods import register_method
from motionmvm.methods.pixel import build_pixel_model
from motionmvm.methods.spec import MethodSpec, OptimSpec

VIDEOMAE_OPTIM = OptimSpec(name="adamw", base_lr=1.5e-4, scale_lr_by_batch=True, betas=(0.9, 0.95),
                           weight_decay=0.05)

SPEC = register_method(MethodSpec(
    name="videomae", masking="tube", mask_ratio=0.9, target="pixel", builder=build_pixel_model,
    optim=VIDEOMAE_OPTIM, description="tube masking 0.9 + normalised pixels"))
