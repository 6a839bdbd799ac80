"""Export one of our ViT encoders as a transformers `VideoMAEModel` directory (`save_pretrained`).

transformers computes VideoMAE's position table itself and stores none, and has no layer scale,
so only an encoder with `pos_embed: videomae` and no layer scale computes in transformers what it
computes here; others are refused rather than exported with different features. Our fused qkv
bias loses its key third, which softmax ignores (interop/layouts.py). Inputs differ in axis order
only: transformers takes pixel_values [B, T, C, H, W], our ViT [B, C, T, H, W].
"""
from __future__ import annotations

from pathlib import Path

from motionmvm.interop import layouts
from motionmvm.interop.read import CheckpointError


def hf_config(cfg):
    from transformers import VideoMAEConfig

    return VideoMAEConfig(image_size=cfg.img_size, patch_size=cfg.patch, num_channels=cfg.in_chans,
                          num_frames=cfg.num_frames, tubelet_size=cfg.tubelet, hidden_size=cfg.embed_dim,
                          num_hidden_layers=cfg.depth, num_attention_heads=cfg.num_heads,
                          intermediate_size=int(cfg.embed_dim * cfg.mlp_ratio), hidden_act="gelu",
                          hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, qkv_bias=cfg.qkv_bias,
                          use_mean_pooling=not cfg.final_norm, layer_norm_eps=cfg.norm_eps)


def to_videomae_model(encoder):
    """A transformers VideoMAEModel holding `encoder`'s weights (strictly loaded)."""
    from transformers import VideoMAEModel

    from motionmvm.models.vit import VideoViT

    if not isinstance(encoder, VideoViT):
        raise CheckpointError(f"only ViT encoders export to VideoMAEModel, this one is a {type(encoder).__name__}")
    cfg = encoder.cfg
    if cfg.pos_embed != "videomae":
        raise CheckpointError(f"this encoder uses the {cfg.pos_embed!r} position table; transformers' VideoMAEModel "
                              "computes VideoMAE's own and stores none, so its features would differ: export encoders "
                              "trained with model.pos_embed: videomae (or imported ones)")
    if cfg.layer_scale:
        raise CheckpointError("this encoder has layer scale (gamma); transformers' VideoMAEModel has none")
    model = VideoMAEModel(hf_config(cfg))
    model.load_state_dict(layouts.to_transformers(encoder.state_dict(), cfg.depth), strict=True)
    return model.eval()


def export(encoder_path: str | Path, out_dir: str | Path) -> Path:
    """Write encoder.pt's encoder as a save_pretrained directory (config.json + model.safetensors)."""
    from motionmvm.eval.encoder import build_encoder, read_checkpoint

    ckpt = read_checkpoint(encoder_path)
    model = to_videomae_model(build_encoder(ckpt, pretrained=True, seed=0))
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    return out_dir
