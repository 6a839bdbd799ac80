"""Per-patch normalised pixel target (VideoMAE) and the encoder/decoder model that predicts it.

The pixel target lives here until `motionmvm.targets` provides it (the lead deduplicates).
Normalisation is per tubelet and per channel over its t*p*p pixels, which also makes it independent
of the input's per-channel mean/std normalisation.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from motionmvm import models


def pixel_target(video: torch.Tensor, tubelet: int, patch: int, eps: float = 1e-6) -> torch.Tensor:
    """video: [B, C, T, H, W] -> [B, L, tubelet*patch*patch*C], L in (t, h, w) token order.

    Uses `motionmvm.targets.pixel_target` when the targets package is installed (same definition).
    """
    try:
        from motionmvm.targets import pixel_target as shared
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("motionmvm.targets"):
            raise
    else:
        return shared(video, patch=patch, tubelet=tubelet, eps=eps)
    x = rearrange(video.float(), "b c (t p0) (h p1) (w p2) -> b (t h w) (p0 p1 p2) c",
                  p0=tubelet, p1=patch, p2=patch)
    x = (x - x.mean(dim=-2, keepdim=True)) / (x.var(dim=-2, unbiased=True, keepdim=True).sqrt() + eps)
    return rearrange(x, "b l n c -> b l (n c)")


class MaskedPixelModel(nn.Module):
    """ViT encoder on visible tokens + VideoMAE decoder; MSE on the masked tokens' pixel targets.

    forward(batch: {video: [B, C, T, H, W], mask: [B, T', H', W'] bool}) -> {loss, pred, target}
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, batch: dict) -> dict:
        video, mask = batch["video"], batch["mask"]
        mask = mask.reshape(mask.shape[0], -1).bool()
        pred = self.decoder(self.encoder(video, mask), mask)
        cfg = self.encoder.cfg
        target = pixel_target(video, cfg.tubelet, cfg.patch)[mask].reshape(pred.shape)
        loss = F.mse_loss(pred.float(), target)
        return {"loss": loss, "pred": pred, "target": target}


def build_vit_encoder(cfg: dict) -> nn.Module:
    """The params-selected ViT (`model.vit`) for the clip size of `pretrain`."""
    m, p = cfg["model"], cfg["pretrain"]
    return models.build(m["vit"], img_size=p["size"], num_frames=p["frames"], patch=m["patch"],
                        tubelet=m["tubelet"], drop_path=m["drop_path"])


def build_decoder(cfg: dict, encoder: nn.Module, out_dim: int, depth: int | None = None) -> nn.Module:
    m = cfg["model"]
    return models.build("videomae_decoder", encoder_dim=encoder.embed_dim, grid=encoder.cfg.grid,
                        out_dim=out_dim, embed_dim=m["decoder_dim"],
                        depth=m["decoder_depth"] if depth is None else depth,
                        num_heads=m["decoder_heads"])


def build_pixel_model(cfg: dict, spec) -> MaskedPixelModel:
    encoder = build_vit_encoder(cfg)
    e = encoder.cfg
    model = MaskedPixelModel(encoder, build_decoder(cfg, encoder, e.tubelet * e.patch ** 2 * e.in_chans))
    model.encoder_name = cfg["model"]["vit"]  # registry name, so evaluation can rebuild the encoder
    return model
