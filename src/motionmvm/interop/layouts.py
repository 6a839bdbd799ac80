"""Key layouts of released video ViT encoders, mapped onto our `VideoViT` (models/vit.py).

Two families are recognised from the keys alone:
- "videomae": the official VideoMAE code and its descendants (MGMAE, MME, VideoMAE V2 layout):
  `patch_embed.proj`, `blocks.i.attn.qkv.weight` (fused) with `attn.q_bias` / `attn.v_bias`
  (no key bias), optional `gamma_1/gamma_2` (layer scale), `pos_embed` only when learned, `norm`
  on pretraining encoders, `fc_norm` + `head` on fine-tuned ones; pretraining checkpoints prefix
  the encoder with `encoder.` and carry a decoder (`decoder.*`, `encoder_to_decoder`, `mask_token`).
- "transformers": `VideoMAEModel` (`embeddings.patch_embeddings.projection`, split
  `attention.attention.query/key/value`, `layernorm_before/after`, `intermediate/output.dense`,
  final `layernorm` unless use_mean_pooling), under `videomae.` in `VideoMAEForPreTraining` /
  `VideoMAEForVideoClassification`. Query/value biases are `query.bias`/`value.bias` in
  transformers 5 and `q_bias`/`v_bias` before.
A key bias is zero in both (they have none): it adds q.b to every logit of a query, which softmax
ignores, so our fused qkv bias takes zeros there and the attention is the same.
"""
from __future__ import annotations

import re

import torch

from motionmvm.interop.read import CheckpointError

# Parts of released checkpoints that are not the encoder (decoders, classifier heads).
_NOT_ENCODER = re.compile(r"^(decoder\.|decoder_|encoder_to_decoder|mask_token|head\.|fc_norm\.|classifier\.|"
                          r"pos_embed_decoder|norm_pix)")
_VIDEOMAE_BLOCK = {"norm1": "norm1", "norm2": "norm2", "attn.proj": "attn.proj", "mlp.fc1": "mlp.fc1",
                   "mlp.fc2": "mlp.fc2"}
_HF_BLOCK = {"layernorm_before": "norm1", "layernorm_after": "norm2", "attention.output.dense": "attn.proj",
             "intermediate.dense": "mlp.fc1", "output.dense": "mlp.fc2"}


def detect(sd: dict) -> str:
    keys = list(sd)
    if any(k.startswith(("videomae.embeddings.", "embeddings.patch_embeddings.")) for k in keys):
        return "transformers"
    if any(k.endswith("patch_embed.proj.weight") for k in keys):
        return "videomae"
    raise CheckpointError("unknown key layout: no 'patch_embed.proj.weight' (VideoMAE / MGMAE / MME) and no "
                          f"'embeddings.patch_embeddings' (transformers) among keys like {keys[:4]}")


def _split_encoder(sd: dict, prefix: str) -> tuple[dict, list[str]]:
    """(encoder keys without `prefix`, dropped non-encoder keys). Without any `prefix` key the
    whole dict is the encoder (a fine-tuned model, or transformers' VideoMAEModel)."""
    if any(k.startswith(prefix) for k in sd):
        enc = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
        dropped = [k for k in sd if not k.startswith(prefix)]
    else:
        enc, dropped = dict(sd), []
    kept = {}
    for k, v in enc.items():
        if _NOT_ENCODER.match(k):
            dropped.append(prefix + k if k not in sd else k)
        else:
            kept[k] = v
    return kept, sorted(dropped)


def _qkv_bias(q: torch.Tensor | None, v: torch.Tensor | None, dim: int) -> torch.Tensor | None:
    if q is None and v is None:
        return None
    z = torch.zeros(dim, dtype=(q if q is not None else v).dtype)
    return torch.cat([q if q is not None else z, z, v if v is not None else z])


def _take(sd: dict, key: str, where: str):
    if key not in sd:
        raise CheckpointError(f"{where}: key {key!r} is missing")
    return sd.pop(key)


def from_videomae(sd: dict) -> tuple[dict, dict, list[str]]:
    """(our state dict, architecture facts, dropped keys) from the official VideoMAE layout."""
    enc, dropped = _split_encoder(sd, "encoder.")
    enc = dict(enc)
    out = {"patch_embed.weight": _take(enc, "patch_embed.proj.weight", "videomae"),
           "patch_embed.bias": _take(enc, "patch_embed.proj.bias", "videomae")}
    arch = {"pos_embed": "videomae", "final_norm": "norm.weight" in enc, "layer_scale": None, "qkv_bias": False}
    if "pos_embed" in enc:
        out["pos_embed"] = enc.pop("pos_embed")
        arch["pos_embed"] = "learned"
    depth = 1 + max((int(m.group(1)) for k in enc if (m := re.match(r"blocks\.(\d+)\.", k))), default=-1)
    for i in range(depth):
        b = f"blocks.{i}."
        w = _take(enc, b + "attn.qkv.weight", "videomae")
        out[f"blocks.{i}.attn.qkv.weight"] = w
        bias = _qkv_bias(enc.pop(b + "attn.q_bias", None), enc.pop(b + "attn.v_bias", None), w.shape[0] // 3)
        if b + "attn.qkv.bias" in enc:  # a fused bias (timm layout): taken as it is
            bias = enc.pop(b + "attn.qkv.bias")
        if bias is not None:
            out[f"blocks.{i}.attn.qkv.bias"] = bias
            arch["qkv_bias"] = True
        for theirs, ours in _VIDEOMAE_BLOCK.items():
            for p in ("weight", "bias"):
                out[f"blocks.{i}.{ours}.{p}"] = _take(enc, f"{b}{theirs}.{p}", "videomae")
        for g, ls in (("gamma_1", "ls1"), ("gamma_2", "ls2")):
            if b + g in enc:
                out[f"blocks.{i}.{ls}.gamma"] = enc.pop(b + g)
                arch["layer_scale"] = 1.0  # the value is loaded; the init value only switches it on
    for p in ("weight", "bias"):
        if f"norm.{p}" in enc:
            out[f"norm.{p}"] = enc.pop(f"norm.{p}")
    if enc:
        raise CheckpointError(f"videomae layout: keys our ViT has no place for: {sorted(enc)[:6]} "
                              "(e.g. cosine attention 'attn.scale', relative positions); not importable")
    arch["depth"] = depth
    return out, arch, dropped


def from_transformers(sd: dict) -> tuple[dict, dict, list[str]]:
    """(our state dict, architecture facts, dropped keys) from a transformers VideoMAE model."""
    enc, dropped = _split_encoder(sd, "videomae.")
    enc = dict(enc)
    pe = "embeddings.patch_embeddings.projection."
    out = {"patch_embed.weight": _take(enc, pe + "weight", "transformers"),
           "patch_embed.bias": _take(enc, pe + "bias", "transformers")}
    arch = {"pos_embed": "videomae", "final_norm": "layernorm.weight" in enc, "layer_scale": None, "qkv_bias": False}
    depth = 1 + max((int(m.group(1)) for k in enc if (m := re.match(r"encoder\.layer\.(\d+)\.", k))), default=-1)
    for i in range(depth):
        a = f"encoder.layer.{i}.attention.attention."
        q, k, v = (_take(enc, a + n + ".weight", "transformers") for n in ("query", "key", "value"))
        out[f"blocks.{i}.attn.qkv.weight"] = torch.cat([q, k, v])
        qb = enc.pop(a + "q_bias", None)
        qb = enc.pop(a + "query.bias", qb)
        vb = enc.pop(a + "v_bias", None)
        vb = enc.pop(a + "value.bias", vb)
        enc.pop(a + "key.bias", None)  # absent in transformers; a constant per query if present
        bias = _qkv_bias(qb, vb, q.shape[0])
        if bias is not None:
            out[f"blocks.{i}.attn.qkv.bias"] = bias
            arch["qkv_bias"] = True
        for theirs, ours in _HF_BLOCK.items():
            for p in ("weight", "bias"):
                out[f"blocks.{i}.{ours}.{p}"] = _take(enc, f"encoder.layer.{i}.{theirs}.{p}", "transformers")
    for p in ("weight", "bias"):
        if f"layernorm.{p}" in enc:
            out[f"norm.{p}"] = enc.pop(f"layernorm.{p}")
    if enc:
        raise CheckpointError(f"transformers layout: keys our ViT has no place for: {sorted(enc)[:6]}")
    arch["depth"] = depth
    return out, arch, dropped


def convert(sd: dict) -> tuple[str, dict, dict, list[str]]:
    """(layout, our state dict, architecture facts, dropped keys)."""
    layout = detect(sd)
    conv = from_transformers if layout == "transformers" else from_videomae
    ours, arch, dropped = conv(dict(sd))
    w = ours["patch_embed.weight"]  # [D, C, t, p, p]
    if w.dim() != 5 or w.shape[3] != w.shape[4]:
        raise CheckpointError(f"patch_embed weight has shape {list(w.shape)}; expected a tubelet Conv3d "
                              "kernel [D, C, t, p, p] with square patches")
    fc1 = ours.get("blocks.0.mlp.fc1.weight")
    if fc1 is None:
        raise CheckpointError("the checkpoint has no transformer blocks")
    arch.update(embed_dim=int(w.shape[0]), in_chans=int(w.shape[1]), tubelet=int(w.shape[2]),
                patch=int(w.shape[3]), mlp_ratio=fc1.shape[0] / w.shape[0])
    return layout, ours, arch, dropped


# ---- ours -> transformers VideoMAEModel ---------------------------------------------------------

def to_transformers(sd: dict, depth: int) -> dict:
    """Our VideoViT state dict in VideoMAEModel's names (transformers 5: query.bias / value.bias).
    Our key bias is dropped: transformers has none, and softmax ignores it (module docstring)."""
    out = {"embeddings.patch_embeddings.projection.weight": sd["patch_embed.weight"],
           "embeddings.patch_embeddings.projection.bias": sd["patch_embed.bias"]}
    for i in range(depth):
        a = f"encoder.layer.{i}.attention.attention."
        q, k, v = sd[f"blocks.{i}.attn.qkv.weight"].chunk(3)
        out.update({a + "query.weight": q, a + "key.weight": k, a + "value.weight": v})
        if f"blocks.{i}.attn.qkv.bias" in sd:
            qb, _, vb = sd[f"blocks.{i}.attn.qkv.bias"].chunk(3)
            out.update({a + "query.bias": qb, a + "value.bias": vb})
        for theirs, ours in _HF_BLOCK.items():
            for p in ("weight", "bias"):
                out[f"encoder.layer.{i}.{theirs}.{p}"] = sd[f"blocks.{i}.{ours}.{p}"]
    if "norm.weight" in sd:
        out["layernorm.weight"], out["layernorm.bias"] = sd["norm.weight"], sd["norm.bias"]
    return {k: v.detach().clone().contiguous() for k, v in out.items()}
