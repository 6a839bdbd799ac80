"""Networks: ViT, Video Swin (+2D inflation), decoders and heads, 3D VQ-VAE, 2D VQ.

Use `motionmvm.models.build(name, **overrides)`; `names()` lists what is registered.
"""
from motionmvm.models.registry import build, make_config, names, register_model

__all__ = ["build", "make_config", "names", "register_model"]
