"""Video ViT encoder for masked video modeling (VideoMAE style).

Tubelet embedding (Conv3d with kernel = stride = `tubelet x patch x patch`), a fixed 3D sin-cos
position embedding (`pos_embed`: also VideoMAE's 1D table or a learned one, so that released
checkpoints imported by `motionmvm.interop` compute what they computed), pre-norm timm `Block`s (timm's Attention uses PyTorch's fused
`scaled_dot_product_attention`), and the asymmetric design: in pretraining only the visible tokens
enter the encoder. Token order everywhere is `(t, h, w)` flattened, matching a mask `[B, T', H', W']`
reshaped to `[B, L]` (True = masked).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial

import torch
from timm.models.vision_transformer import Block
from torch import nn

from motionmvm.models.init import init_xavier
from motionmvm.models.registry import make_config, register_model


@dataclass
class ViTConfig:
    img_size: int = 224
    num_frames: int = 16
    patch: int = 16
    tubelet: int = 2
    in_chans: int = 3
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    drop_path: float = 0.0
    # Position table: "sincos3d" (ours, factorised over t/h/w), "videomae" (the official VideoMAE /
    # transformers table: 1D sin-cos over the flattened (t, h, w) index, sin/cos interleaved) or
    # "learned" (a parameter, as in released checkpoints trained with use_learnable_pos_emb).
    pos_embed: str = "sincos3d"
    norm_eps: float = 1e-5          # LayerNorm eps (VideoMAE's releases: 1e-6; transformers: 1e-12)
    final_norm: bool = True         # LayerNorm on the output tokens (fine-tuned releases: none)
    layer_scale: float | None = None  # init value of per-block layer scale (released gamma_1/gamma_2)

    @property
    def grid(self) -> tuple[int, int, int]:
        """Token grid `(T', H', W')`."""
        return (self.num_frames // self.tubelet, self.img_size // self.patch, self.img_size // self.patch)

    @property
    def num_tokens(self) -> int:
        t, h, w = self.grid
        return t * h * w

    def validate(self) -> None:
        if self.num_frames % self.tubelet or self.img_size % self.patch:
            raise ValueError(f"clip {self.num_frames}x{self.img_size}x{self.img_size} is not divisible "
                             f"by the tubelet {self.tubelet}x{self.patch}x{self.patch}")
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim {self.embed_dim} is not divisible by num_heads {self.num_heads}")
        if self.embed_dim % 2:
            raise ValueError(f"embed_dim {self.embed_dim} must be even for sin-cos positions")
        if self.pos_embed not in POS_EMBEDS:
            raise ValueError(f"pos_embed {self.pos_embed!r} is not allowed; allowed values are {list(POS_EMBEDS)}")


def _sincos_1d(dim: int, pos: torch.Tensor) -> torch.Tensor:
    """pos: [N] -> [N, dim] (half sin, half cos; transformer frequencies 1/10000^(2i/dim))."""
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2))
    out = pos.double()[:, None] * omega[None]
    return torch.cat([out.sin(), out.cos()], dim=1)


def sincos_pos_embed_3d(dim: int, grid: tuple[int, int, int]) -> torch.Tensor:
    """Fixed 3D sin-cos position embedding, [T'*H'*W', dim] in (t, h, w) order.

    The channels are split in three even parts for t, h and w (w takes the remainder, so e.g. ViT-L's
    1024 = 340 + 340 + 344).
    """
    if dim % 2:
        raise ValueError(f"dim {dim} must be even for a sin-cos embedding")
    d = 2 * (dim // 6)
    dims = (d, d, dim - 2 * d)
    t, h, w = torch.meshgrid(*(torch.arange(n) for n in grid), indexing="ij")
    parts = [_sincos_1d(k, c.reshape(-1)) for k, c in zip(dims, (t, h, w))]
    return torch.cat(parts, dim=1).float()


def videomae_pos_embed(n: int, dim: int) -> torch.Tensor:
    """VideoMAE's (and transformers') table, [n, dim]: position i of the flattened token order,
    channel j -> i / 10000^(2*(j//2)/dim), sin on even channels, cos on odd ones."""
    j = torch.arange(dim, dtype=torch.float64)
    angle = torch.arange(n, dtype=torch.float64)[:, None] / 10000 ** (2 * torch.div(j, 2, rounding_mode="floor") / dim)
    return torch.where(j % 2 == 0, angle.sin(), angle.cos()).float()


POS_EMBEDS = ("sincos3d", "videomae", "learned")


def gather_visible(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """x: [B, L, D], mask: [B, L] bool (True = masked) -> [B, L_vis, D] in token order.

    Every sample must keep the same number of visible tokens (so the batch stays a tensor).
    """
    if mask.shape != x.shape[:2]:
        raise ValueError(f"mask shape {tuple(mask.shape)} does not match the tokens {tuple(x.shape[:2])}")
    n_vis = (~mask).sum(1)
    if (n_vis != n_vis[0]).any():
        raise ValueError(f"visible token counts differ across the batch: {n_vis.tolist()}; the ViT "
                         "encoder needs a fixed count per sample")
    b, _, d = x.shape
    return x[~mask].reshape(b, -1, d)


class VideoViT(nn.Module):
    """Video ViT encoder.

    forward(x: [B, C, T, H, W], mask: [B, L] bool | None) -> [B, L_vis, D] (all L tokens if no mask)
    forward_features(x) -> [B, D] mean-pooled after the final norm (for evaluation).
    """

    def __init__(self, cfg: ViTConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.embed_dim = cfg.embed_dim
        self.patch_embed = nn.Conv3d(cfg.in_chans, cfg.embed_dim,
                                     kernel_size=(cfg.tubelet, cfg.patch, cfg.patch),
                                     stride=(cfg.tubelet, cfg.patch, cfg.patch))
        if cfg.pos_embed == "learned":
            self.pos_embed = nn.Parameter(torch.zeros(1, cfg.num_tokens, cfg.embed_dim))
        else:
            table = (sincos_pos_embed_3d(cfg.embed_dim, cfg.grid) if cfg.pos_embed == "sincos3d"
                     else videomae_pos_embed(cfg.num_tokens, cfg.embed_dim))
            self.register_buffer("pos_embed", table[None], persistent=False)
        rates = torch.linspace(0, cfg.drop_path, cfg.depth).tolist()  # stochastic depth grows with depth
        norm = partial(nn.LayerNorm, eps=cfg.norm_eps)
        self.blocks = nn.ModuleList(
            Block(cfg.embed_dim, cfg.num_heads, cfg.mlp_ratio, qkv_bias=cfg.qkv_bias, drop_path=r,
                  norm_layer=norm, init_values=cfg.layer_scale)
            for r in rates)
        self.norm = norm(cfg.embed_dim) if cfg.final_norm else nn.Identity()
        self.apply(init_xavier)
        if cfg.pos_embed == "learned":
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        # Patch embedding initialised like a linear layer (MAE): xavier on the flattened kernel.
        w = self.patch_embed.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """x: [B, C, T, H, W] -> [B, L, D] embedded tokens with positions."""
        if x.shape[1:] != (self.cfg.in_chans, self.cfg.num_frames, self.cfg.img_size, self.cfg.img_size):
            raise ValueError(f"expected a clip [B, {self.cfg.in_chans}, {self.cfg.num_frames}, "
                             f"{self.cfg.img_size}, {self.cfg.img_size}], got {tuple(x.shape)}")
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        return x + self.pos_embed.to(x.dtype)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.tokens(x)
        if mask is not None:
            x = gather_visible(x, mask.reshape(x.shape[0], -1).bool())
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self(x).mean(1)


# Sizes: S/B/L as in ViT/VideoMAE; tiny = DeiT-Ti; mini is the small (2-core CPU) profile's
# encoder; micro is for smoke tests only.
VIT_SIZES = {
    "vit_micro": dict(embed_dim=48, depth=2, num_heads=2, mlp_ratio=2.0),
    "vit_mini": dict(embed_dim=96, depth=4, num_heads=3),
    "vit_tiny": dict(embed_dim=192, depth=12, num_heads=3),
    "vit_s": dict(embed_dim=384, depth=12, num_heads=6),
    "vit_b": dict(embed_dim=768, depth=12, num_heads=12),
    "vit_l": dict(embed_dim=1024, depth=24, num_heads=16),
}


def build_vit(size: str, **overrides) -> VideoViT:
    return VideoViT(make_config(ViTConfig, VIT_SIZES[size], overrides))


def _register(size: str) -> None:
    register_model(size)(lambda **kw: build_vit(size, **kw))


for _size in VIT_SIZES:
    _register(_size)


def config_dict(model: VideoViT) -> dict:
    return asdict(model.cfg)
