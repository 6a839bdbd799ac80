"""The masked-prediction model shared by the pixel-target methods (videomae, stmae, mgmae, mgm,
smm) and, through a subclass, MME (methods/mme.py): a ViT encoder on the visible tokens, a decoder
predicting the masked tokens, L2 on the masked tokens (`motionmvm.targets.masked_mse`).

The pixel target is `motionmvm.targets.pixel_target` (VideoMAE: per tubelet and per channel
normalised pixels over its t*p*p values, which also makes it independent of the input's
per-channel mean/std normalisation).
"""
from __future__ import annotations

import torch
from torch import nn

from motionmvm import models


class MaskedTargetModel(nn.Module):
    """ViT encoder (visible tokens) + decoder; L2 on the masked tokens' targets.

    forward(batch: {video: [B, C, T, H, W], mask: [B, T', H', W'] bool, ...})
        -> {loss, pred [B, N_masked, D], target [B, N_masked, D] (the masked tokens' targets)}
    Subclasses change the target (`make_target`), the decoder call (`decode`) or the loss.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def make_target(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(target [B, L, D], valid [B, L, D] bool or None); here VideoMAE's pixels."""
        from motionmvm.targets import pixel_target

        e = self.encoder.cfg
        return pixel_target(batch["video"], patch=e.patch, tubelet=e.tubelet), None

    def decode(self, visible: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """visible [B, N_vis, D_enc], mask [B, L] bool -> predictions [B, N_masked, D]."""
        return self.decoder(visible, mask)

    def loss(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
             valid: torch.Tensor | None) -> torch.Tensor:
        from motionmvm.targets import masked_mse

        return masked_mse(pred, target, mask, valid)

    def forward(self, batch: dict) -> dict:
        mask = batch["mask"].reshape(batch["mask"].shape[0], -1).bool()
        pred = self.decode(self.encoder(batch["video"], mask), mask)
        target, valid = self.make_target(batch)
        loss = self.loss(pred, target, mask, valid)
        return {"loss": loss, "pred": pred, "target": target[mask.to(target.device)].reshape(pred.shape)}


def build_vit_encoder(cfg: dict) -> nn.Module:
    """The params-selected ViT (`model.vit`) for the clip size of `pretrain`."""
    m, p = cfg["model"], cfg["pretrain"]
    return models.build(m["vit"], img_size=p["size"], num_frames=p["frames"], patch=m["patch"],
                        tubelet=m["tubelet"], drop_path=m["drop_path"], pos_embed=m["pos_embed"])


def build_decoder(cfg: dict, encoder: nn.Module, out_dim: int) -> nn.Module:
    """VideoMAE's decoder at the params' width / depth / heads."""
    m = cfg["model"]
    return models.build("videomae_decoder", encoder_dim=encoder.embed_dim, grid=encoder.cfg.grid,
                        out_dim=out_dim, embed_dim=m["decoder_dim"], depth=m["decoder_depth"],
                        num_heads=m["decoder_heads"])


def build_pixel_model(cfg: dict, spec) -> MaskedTargetModel:
    encoder = build_vit_encoder(cfg)
    e = encoder.cfg
    model = MaskedTargetModel(encoder, build_decoder(cfg, encoder, e.tubelet * e.patch ** 2 * e.in_chans))
    model.encoder_name = cfg["model"]["vit"]  # registry name, so evaluation can rebuild the encoder
    return model
