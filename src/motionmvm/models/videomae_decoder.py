"""VideoMAE-style masked-token decoder: a narrow ViT over visible tokens plus learnable [MASK] tokens.

The encoder's visible tokens are projected to the decoder width; every masked position gets the
shared learnable [MASK] token; both get the fixed 3D sin-cos position of their grid cell. After
`depth` blocks a linear head predicts the target of each masked token. Only masked positions are
returned, in token order (what `target[mask]` gives).

One class serves every registered decoder, so their state dicts share one key layout
(`embed`, `mask_token`, `blocks.*`, `norm`, `head`) and MAR's `mar_decoder` loads the pretrained
`videomae_decoder` weights:
  videomae_decoder   VideoMAE (depth 4, width 384, 6 heads for ViT-B; xavier init as VideoMAE);
                     fixed grid from the config.
  mar_decoder(_tiny) MAR reconstruction decoder (models/heads.py); grid given per call.
  mme_head(_tiny)    MME's depth-1 joint head (models/heads.py); grid given per call.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from timm.layers import trunc_normal_
from timm.models.vision_transformer import Block
from torch import nn

from motionmvm.models.registry import make_config, register_model
from motionmvm.models.init import init_trunc_normal, init_xavier
from motionmvm.models.vit import sincos_pos_embed_3d

INITS = ("xavier", "trunc_normal")


@dataclass
class MaskedDecoderConfig:
    encoder_dim: int = 768
    width: int = 384
    depth: int = 4
    num_heads: int = 6
    mlp_ratio: float = 4.0
    out_dim: int = 3 * 2 * 16 * 16  # pixels of a 2x16x16 tubelet
    drop_path_rate: float = 0.0
    grid: tuple[int, int, int] | None = None  # fixed token grid (T', H', W'); None: forward() gets it
    init: str = "trunc_normal"  # linear weights: "xavier" (VideoMAE) or "trunc_normal" (std 0.02)


class MaskedTokenDecoder(nn.Module):
    """forward(visible [B, N_vis, D_enc], mask bool [B, N] or [B, T', H', W'] (True = masked, same
    count per sample), grid (T', H', W') = cfg.grid when omitted) -> [B, N_mask, out_dim], masked
    tokens in grid order."""

    def __init__(self, cfg: MaskedDecoderConfig):
        super().__init__()
        if cfg.init not in INITS:
            raise ValueError(f"decoder init {cfg.init!r} is not one of {INITS}")
        self.cfg = cfg
        self.embed = nn.Linear(cfg.encoder_dim, cfg.width, bias=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, cfg.width))
        dpr = torch.linspace(0, cfg.drop_path_rate, cfg.depth).tolist()
        self.blocks = nn.ModuleList(Block(cfg.width, cfg.num_heads, cfg.mlp_ratio, qkv_bias=True,
                                          drop_path=r, norm_layer=nn.LayerNorm) for r in dpr)
        self.norm = nn.LayerNorm(cfg.width)
        self.head = nn.Linear(cfg.width, cfg.out_dim)
        # Each init keeps the exact draws of the decoder it came from (torch's vs timm's trunc_normal_).
        if cfg.init == "xavier":
            self.apply(init_xavier)
            nn.init.trunc_normal_(self.mask_token, std=0.02)
        else:
            self.apply(init_trunc_normal)
            trunc_normal_(self.mask_token, std=0.02)
        self._pos_cache: dict = {}  # fixed positions per (grid, device, dtype); not in the state dict

    def _pos(self, grid, device, dtype) -> torch.Tensor:
        key = (grid, device, dtype)
        if key not in self._pos_cache:
            self._pos_cache[key] = sincos_pos_embed_3d(self.cfg.width, grid).to(device, dtype)
        return self._pos_cache[key]

    def forward(self, visible: torch.Tensor, mask: torch.Tensor, grid=None) -> torch.Tensor:
        grid = grid if grid is not None else self.cfg.grid
        if grid is None:
            raise ValueError("no token grid: pass grid=(T', H', W') or build the decoder with one")
        grid = tuple(grid)
        B = visible.shape[0]
        mask = mask.reshape(B, -1).bool()
        N = mask.shape[1]
        if N != grid[0] * grid[1] * grid[2]:
            raise ValueError(f"mask has {N} tokens, the decoder grid {grid} has {grid[0] * grid[1] * grid[2]}")
        n_mask = mask.sum(1)
        if not bool((n_mask == n_mask[0]).all()):
            raise ValueError("every sample must mask the same number of tokens (batched decoder)")
        n_vis = N - int(n_mask[0])
        if visible.shape[:2] != (B, n_vis):
            raise ValueError(f"visible tokens {tuple(visible.shape)} do not match mask "
                             f"(expected [{B}, {n_vis}, D])")
        pos = self._pos(grid, visible.device, visible.dtype).expand(B, -1, -1)
        vis_pos = pos[~mask].reshape(B, n_vis, -1)
        mask_pos = pos[mask].reshape(B, N - n_vis, -1)
        x = torch.cat([self.embed(visible) + vis_pos, self.mask_token.to(visible.dtype) + mask_pos], dim=1)
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.norm(x[:, n_vis:]))


@register_model("videomae_decoder")
def videomae_decoder(embed_dim: int | None = None, **overrides) -> MaskedTokenDecoder:
    """VideoMAE's decoder; `embed_dim` is the decoder width (MaskedDecoderConfig.width)."""
    if embed_dim is not None:
        overrides["width"] = embed_dim
    return MaskedTokenDecoder(make_config(MaskedDecoderConfig, {"grid": (8, 14, 14), "init": "xavier"},
                                          overrides))
