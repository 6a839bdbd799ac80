"""Import a released encoder into our VideoViT and write it as an `encoder.pt` (eval/encoder.py).

The architecture comes from the weights (width, depth, MLP ratio, tubelet x patch, biases, layer
scale, position table, final norm); what the weights cannot say comes from the transformers
config (heads, LayerNorm eps, clip geometry) or, for the official .pth files, from the caller:
the clip geometry (the profile's `pretrain.frames` / `pretrain.size` by default), the head count
(known for the released widths) and eps 1e-6 (every VideoMAE / MGMAE / MME model uses
`partial(nn.LayerNorm, eps=1e-6)`). Every key is shape-checked against the rebuilt ViT before
loading; a mismatch is refused naming the key and both shapes.
"""
from __future__ import annotations

from pathlib import Path

import torch

from motionmvm.interop import layouts, read
from motionmvm.interop.read import CheckpointError

# Released widths -> heads (ViT-S/B/L/H/g of VideoMAE and VideoMAE V2; ViT-Ti as DeiT).
KNOWN_HEADS = {192: 3, 384: 6, 768: 12, 1024: 16, 1280: 16, 1408: 16}
RELEASE_NORM_EPS = 1e-6


def _hf_facts(hf: dict, frames: int | None, size: int | None) -> dict:
    if hf.get("model_type") != "videomae":
        raise CheckpointError(f"config.json model_type is {hf.get('model_type')!r}; only 'videomae' is importable")
    if hf.get("hidden_act", "gelu") != "gelu":
        raise CheckpointError(f"config.json hidden_act {hf['hidden_act']!r}: our ViT uses exact GELU ('gelu')")
    want = {"frames": int(hf["num_frames"]), "size": int(hf["image_size"])}
    asked = {"frames": frames, "size": size}
    for k, v in asked.items():
        if v is not None and v != want[k]:
            raise CheckpointError(f"geometry: the checkpoint's config.json takes {want['frames']} frames of "
                                  f"{want['size']}px, asked for {k} {v}; its position table is fixed to that grid")
    return {"num_heads": int(hf["num_attention_heads"]), "norm_eps": float(hf.get("layer_norm_eps", 1e-12)),
            **want}


def architecture(arch: dict, hf: dict | None, frames: int | None, size: int | None,
                 num_heads: int | None) -> dict:
    """ViTConfig fields of the imported encoder."""
    if hf is not None:
        facts = _hf_facts(hf, frames, size)
    else:
        heads = num_heads or KNOWN_HEADS.get(arch["embed_dim"])
        if heads is None:
            raise CheckpointError(f"width {arch['embed_dim']} is not a released ViT size: give --num-heads")
        if frames is None or size is None:
            raise CheckpointError("an official checkpoint does not record its clip geometry: give --frames and --size")
        facts = {"num_heads": heads, "norm_eps": RELEASE_NORM_EPS, "frames": frames, "size": size}
    if num_heads is not None and num_heads != facts["num_heads"]:
        raise CheckpointError(f"--num-heads {num_heads} but the checkpoint's config.json says {facts['num_heads']}")
    return {"embed_dim": arch["embed_dim"], "depth": arch["depth"], "num_heads": facts["num_heads"],
            "mlp_ratio": arch["mlp_ratio"], "patch": arch["patch"], "tubelet": arch["tubelet"],
            "in_chans": arch["in_chans"], "qkv_bias": arch["qkv_bias"], "pos_embed": arch["pos_embed"],
            "norm_eps": facts["norm_eps"], "final_norm": arch["final_norm"], "layer_scale": arch["layer_scale"],
            "num_frames": facts["frames"], "img_size": facts["size"],
            # present so that fine-tuning sets its stochastic depth as for our encoders (drop_path_override)
            "drop_path": 0.0}


def registry_name(config: dict) -> str:
    """The VIT_SIZES entry of this width/depth/heads, else vit_b (the config overrides all of them)."""
    from motionmvm.models.vit import VIT_SIZES

    for name, s in VIT_SIZES.items():
        if (s["embed_dim"], s["depth"], s["num_heads"]) == (config["embed_dim"], config["depth"], config["num_heads"]):
            return name
    return "vit_b"


def check_shapes(ours: dict, expected: dict, where: str) -> None:
    """Refuse, in one line, the first key that is missing, extra or of another shape."""
    for k, v in expected.items():
        if k not in ours:
            raise CheckpointError(f"{k}: our ViT ({where}) needs it with shape {list(v.shape)}, the checkpoint has none")
        if tuple(ours[k].shape) != tuple(v.shape):
            raise CheckpointError(f"{k}: checkpoint shape {list(ours[k].shape)} does not fit our ViT's "
                                  f"{list(v.shape)} ({where})")
    extra = sorted(set(ours) - set(expected))
    if extra:
        raise CheckpointError(f"{extra[0]}: shape {list(ours[extra[0]].shape)} in the checkpoint, no such key "
                              f"in our ViT ({where})")


def import_encoder(path: str | Path, *, frames: int | None = None, size: int | None = None,
                   num_heads: int | None = None, default_geometry: tuple[int, int] | None = None):
    """(VideoViT with the checkpoint's weights, encoder.pt dict without "method", import record).

    frames / size, when given, must fit the checkpoint; default_geometry (frames, size) is used
    only where the checkpoint records none (the official .pth files)."""
    from motionmvm import models
    from motionmvm.eval.encoder import input_geometry

    sd, source = read.read(path)
    layout, ours, arch, dropped = layouts.convert(sd)
    if source["hf_config"] is None and default_geometry is not None:
        frames = frames if frames is not None else default_geometry[0]
        size = size if size is not None else default_geometry[1]
    config = architecture(arch, source["hf_config"], frames, size, num_heads)
    name = registry_name(config)
    try:
        encoder = models.build(name, **config)
    except ValueError as exc:
        raise CheckpointError(f"geometry: {exc}") from exc
    where = (f"{config['num_frames']} frames x {config['img_size']}px, tubelet {config['tubelet']}x"
             f"{config['patch']}x{config['patch']}")
    check_shapes(ours, encoder.state_dict(), where)
    encoder.load_state_dict(ours, strict=True)
    encoder.eval()
    record = {"layout": layout, "source": {k: v for k, v in source.items() if k != "hf_config"},
              "hf_config": source["hf_config"], "dropped_keys": dropped}
    ckpt = {"model": name, "config": config, "input": input_geometry(encoder),
            "state_dict": {k: v.detach().cpu() for k, v in encoder.state_dict().items()}, "imported": record}
    return encoder, ckpt, record
