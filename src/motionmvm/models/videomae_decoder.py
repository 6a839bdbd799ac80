"""VideoMAE decoder: a narrow ViT over visible tokens plus learnable [MASK] tokens.

The encoder's visible tokens are projected to the decoder width; every masked position gets the
shared learnable [MASK] token; both get the fixed 3D sin-cos position of their grid cell. After
`depth` blocks a linear head predicts the target of each masked token (VideoMAE: depth 4, width 384,
6 heads for ViT-B). Only masked positions are returned, in token order (what `target[mask]` gives).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from timm.models.vision_transformer import Block
from torch import nn

from motionmvm.models.registry import make_config, register_model
from motionmvm.models.vit import _init_weights, sincos_pos_embed_3d


@dataclass
class DecoderConfig:
    encoder_dim: int = 768
    grid: tuple[int, int, int] = (8, 14, 14)
    out_dim: int = 1536          # 2 x 16 x 16 x 3 normalised pixels per tubelet
    embed_dim: int = 384
    depth: int = 4
    num_heads: int = 6
    mlp_ratio: float = 4.0


class VideoMAEDecoder(nn.Module):
    """forward(x_vis: [B, L_vis, D_enc], mask: [B, L] bool) -> [B, L_mask, out_dim]."""

    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Linear(cfg.encoder_dim, cfg.embed_dim, bias=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, cfg.embed_dim))
        self.register_buffer("pos_embed", sincos_pos_embed_3d(cfg.embed_dim, tuple(cfg.grid))[None],
                             persistent=False)
        self.blocks = nn.ModuleList(Block(cfg.embed_dim, cfg.num_heads, cfg.mlp_ratio, qkv_bias=True,
                                          norm_layer=nn.LayerNorm) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.embed_dim)
        self.head = nn.Linear(cfg.embed_dim, cfg.out_dim)
        self.apply(_init_weights)
        nn.init.trunc_normal_(self.mask_token, std=0.02)

    def forward(self, x_vis: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b = x_vis.shape[0]
        mask = mask.reshape(b, -1).bool()
        if mask.shape[1] != self.pos_embed.shape[1]:
            raise ValueError(f"mask has {mask.shape[1]} tokens, the decoder grid {self.cfg.grid} has "
                             f"{self.pos_embed.shape[1]}")
        pos = self.pos_embed.expand(b, -1, -1).to(x_vis.dtype)
        d = self.cfg.embed_dim
        vis = self.embed(x_vis) + pos[~mask].reshape(b, -1, d)
        pos_m = pos[mask].reshape(b, -1, d)
        x = torch.cat([vis, self.mask_token.to(vis.dtype) + pos_m], dim=1)
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.norm(x[:, -pos_m.shape[1]:]))


@register_model("videomae_decoder")
def videomae_decoder(**overrides) -> VideoMAEDecoder:
    return VideoMAEDecoder(make_config(DecoderConfig, {}, overrides))
