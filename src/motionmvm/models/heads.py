"""Decoders and heads: DEMVM lightweight decoder, I3D head, MME head, MAR decoder and bridging classifier.

Transformer pieces are timm `Block`s (fused `F.scaled_dot_product_attention`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.models.vision_transformer import Block

from motionmvm.models.init import init_trunc_normal
from motionmvm.models.registry import make_config, register_model, register_sizes
# The MME head and MAR decoder are the VideoMAE-style decoder (one class, one state-dict layout).
from motionmvm.models.videomae_decoder import MaskedDecoderConfig, MaskedTokenDecoder


# ---------------------------------------------------------------------------------------------
# DEMVM lightweight decoder (paper 000, eqs. 1-5).


@dataclass
class DEMVMDecoderConfig:
    f2_dim: int = 192      # C_2 = 2C of the Swin encoder (Swin-T: 192)
    f4_dim: int = 768      # C_4 = 8C (Swin-T: 768)
    f3_dim: int = 384      # only used by the "complex" ablation decoder
    n_codes: int = 2048
    complex: bool = False  # Table 7 baseline: two 2x upsamplings fusing F3 then F2


class DEMVMDecoder(nn.Module):
    """F4 bilinearly upsampled x4 in space, concatenated with F2, linear -> codebook logits.

    forward(feats=[F1, F2, F3, F4]) -> logits [B, n_codes, T', H/8, W/8] (F2's grid, i.e. the
    token map of the 3D tokenizer on the 2x downsampled clip). The softmax lives in the loss.
    """

    def __init__(self, cfg: DEMVMDecoderConfig):
        super().__init__()
        self.cfg = cfg
        if cfg.complex:
            self.fuse3 = nn.Linear(cfg.f4_dim + cfg.f3_dim, cfg.f3_dim)
            self.head = nn.Linear(cfg.f3_dim + cfg.f2_dim, cfg.n_codes)
        else:
            self.head = nn.Linear(cfg.f4_dim + cfg.f2_dim, cfg.n_codes)
        self.apply(init_trunc_normal)

    @staticmethod
    def _up(x: torch.Tensor, size) -> torch.Tensor:
        """Spatial-only bilinear upsampling of [B, C, T, h, w] to [B, C, T, *size]."""
        B, C, T, h, w = x.shape
        y = F.interpolate(x.transpose(1, 2).reshape(B * T, C, h, w), size=size, mode="bilinear",
                          align_corners=False)
        return y.reshape(B, T, C, *size).transpose(1, 2)

    @staticmethod
    def _linear(layer: nn.Linear, x: torch.Tensor) -> torch.Tensor:
        return layer(x.movedim(1, -1)).movedim(-1, 1)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        f2, f3, f4 = feats[1], feats[2], feats[3]
        if self.cfg.complex:
            x = torch.cat([self._up(f4, f3.shape[-2:]), f3], dim=1)
            x = F.gelu(self._linear(self.fuse3, x))
            x = torch.cat([self._up(x, f2.shape[-2:]), f2], dim=1)
        else:
            if f4.shape[-2] * 4 < f2.shape[-2] or f4.shape[-1] * 4 < f2.shape[-1]:
                raise ValueError(f"F4 {tuple(f4.shape)} x4 does not reach F2 {tuple(f2.shape)}")
            x = torch.cat([self._up(f4, f2.shape[-2:]), f2], dim=1)
        return self._linear(self.head, x)


def demvm_loss(logits: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on masked tokens, averaged over them (paper 000, eqs. 4-5).

    logits: [B, K, T', h, w]; tokens: long [B, T', h, w]; mask: bool [B, T', h, w] (True = masked).
    """
    if mask.shape != tokens.shape or logits.shape[2:] != tokens.shape[1:]:
        raise ValueError(f"shape mismatch: logits {tuple(logits.shape)}, tokens {tuple(tokens.shape)}, "
                         f"mask {tuple(mask.shape)}")
    if not mask.any():
        raise ValueError("no masked token: the DEMVM loss is undefined")
    flat = logits.movedim(1, -1)[mask]  # [N_mask, K]
    return F.cross_entropy(flat.float(), tokens[mask].long())


# ---------------------------------------------------------------------------------------------
# I3D head (fine-tuning of the Swin encoder).


@dataclass
class I3DHeadConfig:
    in_dim: int = 768
    num_classes: int = 101
    dropout: float = 0.5
    init_std: float = 0.01


class I3DHead(nn.Module):
    """Global average pool over (T, H, W) + dropout + linear (Carreira & Zisserman; MMAction2's
    I3DHead defaults: dropout 0.5, normal init std 0.01). x: [B, C, T, H, W] or [B, C] -> [B, classes]."""

    def __init__(self, cfg: I3DHeadConfig):
        super().__init__()
        self.cfg = cfg
        self.dropout = nn.Dropout(cfg.dropout)
        self.fc = nn.Linear(cfg.in_dim, cfg.num_classes)
        nn.init.normal_(self.fc.weight, std=cfg.init_std)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 5:
            x = x.mean(dim=(2, 3, 4))
        return self.fc(self.dropout(x))


# ---------------------------------------------------------------------------------------------
# MAR bridging classifier (paper 003).


@dataclass
class BridgeConfig:
    encoder_dim: int = 768
    width: int = 512
    depth: int = 2
    num_heads: int = 4
    mlp_ratio: float = 4.0
    num_classes: int = 174
    # Paper 003 Table I: dropout 0.1 (both datasets). The official configs set the bridging head's
    # DROP_OUT to 0.1 on SSv2 and 0 on K400 (docs/fidelity.md).
    dropout: float = 0.1
    drop_path_rate: float = 0.0


class BridgingClassifier(nn.Module):
    """Transformer blocks on the visible tokens only (no position embedding, no mask tokens),
    then, as the official TransformerBridgingClsHead: mean over tokens, LayerNorm (eps 1e-6),
    dropout, linear. The paper's eq. 2 (p = phi(h(F_v)), phi = average pooling) does not place
    the norm; normalising each token before the mean instead changes the logits.
    The encoder -> bridge projection has no bias (official `encoder_to_cls_decoder`).
    visible: [B, N_vis, D_enc] -> logits [B, classes]."""

    def __init__(self, cfg: BridgeConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = (nn.Linear(cfg.encoder_dim, cfg.width, bias=False)
                      if cfg.encoder_dim != cfg.width else nn.Identity())
        dpr = torch.linspace(0, cfg.drop_path_rate, cfg.depth).tolist()
        self.blocks = nn.ModuleList([Block(cfg.width, cfg.num_heads, cfg.mlp_ratio, qkv_bias=True,
                                           drop_path=dpr[i]) for i in range(cfg.depth)])
        self.norm = nn.LayerNorm(cfg.width, eps=1e-6)
        self.dropout = nn.Dropout(cfg.dropout)
        self.fc = nn.Linear(cfg.width, cfg.num_classes)
        self.apply(init_trunc_normal)

    def pool(self, tokens: torch.Tensor) -> torch.Tensor:
        """[B, N, width] bridge outputs -> [B, width] classifier features: mean, then LayerNorm."""
        return self.norm(tokens.mean(dim=1))

    def forward(self, visible: torch.Tensor) -> torch.Tensor:
        x = self.embed(visible)
        for blk in self.blocks:
            x = blk(x)
        return self.fc(self.dropout(self.pool(x)))


# ---------------------------------------------------------------------------------------------
# Registration. `_tiny` variants are for the smoke/small profiles.


# MME: K = 4 points per patch, L = 6 steps, position (2) + HOG shape (9) per step; depth 1 joint head.
MME_OUT = 4 * 6 * (2 + 9)
register_sizes(DEMVMDecoder, DEMVMDecoderConfig, {
    "demvm_decoder": {},
    "demvm_decoder_complex": {"complex": True},
    "demvm_decoder_tiny": {"f2_dim": 48, "f3_dim": 96, "f4_dim": 192, "n_codes": 64},
})
register_sizes(I3DHead, I3DHeadConfig, {"i3d_head": {}})
register_sizes(MaskedTokenDecoder, MaskedDecoderConfig, {
    "mme_head": {"depth": 1, "out_dim": MME_OUT},
    "mme_head_tiny": {"encoder_dim": 64, "width": 48, "num_heads": 2, "depth": 1, "out_dim": MME_OUT},
    "mar_decoder": {},
    "mar_decoder_tiny": {"encoder_dim": 64, "width": 48, "num_heads": 2, "depth": 1},
})
register_sizes(BridgingClassifier, BridgeConfig, {
    "mar_bridge": {},
    "mar_bridge_tiny": {"encoder_dim": 64, "width": 64, "num_heads": 2, "depth": 1, "num_classes": 10},
})


@register_model("mar_bridging_classifier")
def mar_bridging_classifier(embed_dim: int | None = None, dim: int | None = None, **overrides):
    """The MAR bridging classifier under the evaluation area's argument names:
    `embed_dim` = encoder width (BridgeConfig.encoder_dim), `dim` = bridge width (BridgeConfig.width);
    other keywords are BridgeConfig fields (depth, num_heads, num_classes, ...)."""
    if embed_dim is not None:
        overrides["encoder_dim"] = embed_dim
    if dim is not None:
        overrides["width"] = dim
    return BridgingClassifier(make_config(BridgeConfig, {}, overrides))
