"""3D VQ-VAE video tokenizer, VideoGPT style (Yan et al. 2021), written for this project.

Encoder: strided 3D convolutions (one stride-2 conv per halving: stride 2x4x4 = one conv with
stride (2,2,2) then one with (1,2,2)), a 3x3x3 conv, `n_res_layers` attention residual blocks
(BN-ReLU-conv3 -> BN-ReLU-conv1 -> BN-ReLU-axial attention over T, H and W, summed), BN-ReLU, then
a 1x1x1 conv to `embedding_dim`. EMA codebook (models/codebook.py). Decoder mirrors it with
transposed convolutions. Inputs are in [-0.5, 0.5]; loss = MSE(x, x_hat) / 0.06 + commitment.

Choice where VideoGPT's code differs in detail: the strided convs use kernel 4 with padding 1 on
halved axes and kernel 3 / padding 1 on kept axes (exact halving without asymmetric padding);
VideoGPT uses kernel 4 everywhere with "same" padding. Receptive fields are equivalent in effect.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange

from motionmvm.models.codebook import EMACodebook
from motionmvm.models.registry import register_sizes


@dataclass
class VQVAE3DConfig:
    in_chans: int = 3
    embedding_dim: int = 256
    n_codes: int = 2048
    n_hiddens: int = 240
    n_res_layers: int = 4
    downsample: tuple[int, int, int] = (2, 4, 4)
    attn_heads: int = 2
    decay: float = 0.99
    commitment: float = 0.25
    dead_threshold: float = 1.0
    recon_scale: float = 0.06  # VideoGPT divides the reconstruction MSE by 0.06 (data variance)


class AxialAttention3D(nn.Module):
    """Multi-head self-attention along T, along H and along W separately; outputs are summed.
    x: [B, C, T, H, W] -> same shape. Each axis has its own q/k/v/out projections (as VideoGPT)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"axial attention: dim {dim} not divisible by {heads} heads")
        self.heads = heads
        self.qkv = nn.ModuleList([nn.Linear(dim, 3 * dim, bias=False) for _ in range(3)])
        self.out = nn.ModuleList([nn.Linear(dim, dim) for _ in range(3)])

    def _attend(self, x: torch.Tensor, axis: int) -> torch.Tensor:
        # x: [B, T, H, W, C]; attend along dim `axis` (1, 2 or 3).
        xa = x.movedim(axis, -2)  # [..., L, C]
        shape = xa.shape
        seq = xa.reshape(-1, shape[-2], shape[-1])
        q, k, v = rearrange(self.qkv[axis - 1](seq), "n l (three h d) -> three n h l d",
                            three=3, h=self.heads).unbind(0)
        y = F.scaled_dot_product_attention(q, k, v)
        y = self.out[axis - 1](rearrange(y, "n h l d -> n l (h d)"))
        return y.reshape(shape).movedim(-2, axis)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.movedim(1, -1)
        y = self._attend(h, 1) + self._attend(h, 2) + self._attend(h, 3)
        return y.movedim(-1, 1)


class AttentionResBlock(nn.Module):
    """x + [BN-ReLU-Conv3(C->C/2) -> BN-ReLU-Conv1(C/2->C) -> BN-ReLU-AxialAttention](x)."""

    def __init__(self, dim: int, heads: int, conv=nn.Conv3d, bn=nn.BatchNorm3d, attention=True):
        super().__init__()
        half = max(dim // 2, 1)
        layers = [bn(dim), nn.ReLU(), conv(dim, half, 3, padding=1, bias=False),
                  bn(half), nn.ReLU(), conv(half, dim, 1, bias=False), bn(dim), nn.ReLU()]
        if attention:
            layers.append(AxialAttention3D(dim, heads))
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.block(x)


def _halvings(downsample) -> list[int]:
    n = []
    for d in downsample:
        k = int(round(math.log2(d)))
        if d < 1 or 2 ** k != d:
            raise ValueError(f"downsample factors must be powers of 2, got {tuple(downsample)}")
        n.append(k)
    return n


class VQVAE3D(nn.Module):
    """encode(x [B, 3, T, H, W] in [-0.5, 0.5]) -> ids long [B, T/dt, H/dh, W/dw];
    decode(ids) -> [B, 3, T, H, W]; forward(x) -> dict(recon, ids, loss, recon_loss,
    commitment_loss, perplexity)."""

    def __init__(self, cfg: VQVAE3DConfig):
        super().__init__()
        self.cfg = cfg
        n_half = _halvings(cfg.downsample)
        steps = max(n_half)
        C = cfg.n_hiddens
        enc = []
        for i in range(steps):
            halve = [n > i for n in n_half]
            k = tuple(4 if h else 3 for h in halve)
            s = tuple(2 if h else 1 for h in halve)
            enc += [nn.Conv3d(cfg.in_chans if i == 0 else C, C, k, stride=s, padding=1), nn.ReLU()]
        enc += [nn.Conv3d(C, C, 3, padding=1)]
        enc += [AttentionResBlock(C, cfg.attn_heads) for _ in range(cfg.n_res_layers)]
        enc += [nn.BatchNorm3d(C), nn.ReLU()]
        self.encoder = nn.Sequential(*enc)
        self.pre_vq = nn.Conv3d(C, cfg.embedding_dim, 1)
        self.codebook = EMACodebook(cfg.n_codes, cfg.embedding_dim, cfg.decay, cfg.commitment,
                                    cfg.dead_threshold)
        self.post_vq = nn.Conv3d(cfg.embedding_dim, C, 1)
        dec = [AttentionResBlock(C, cfg.attn_heads) for _ in range(cfg.n_res_layers)]
        dec += [nn.BatchNorm3d(C), nn.ReLU()]
        for i in reversed(range(steps)):
            up = [n > i for n in n_half]
            k = tuple(4 if u else 3 for u in up)
            s = tuple(2 if u else 1 for u in up)
            out = cfg.in_chans if i == 0 else C
            dec.append(nn.ConvTranspose3d(C, out, k, stride=s, padding=1))
            if i > 0:
                dec.append(nn.ReLU())
        self.decoder = nn.Sequential(*dec)

    def token_grid(self, t: int, h: int, w: int) -> tuple[int, int, int]:
        d = self.cfg.downsample
        return t // d[0], h // d[1], w // d[2]

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 5 or x.shape[1] != self.cfg.in_chans:
            raise ValueError(f"expected x [B, {self.cfg.in_chans}, T, H, W], got {tuple(x.shape)}")
        for s, d, name in zip(x.shape[2:], self.cfg.downsample, "THW"):
            if s % d:
                raise ValueError(f"{name}={s} is not divisible by the tokenizer stride {d}")

    def forward(self, x: torch.Tensor) -> dict:
        self._check(x)
        vq = self.codebook(self.pre_vq(self.encoder(x)))
        recon = self.decoder(self.post_vq(vq["quantized"]))
        recon_loss = F.mse_loss(recon.float(), x.float()) / self.cfg.recon_scale
        return {"recon": recon, "ids": vq["ids"], "recon_loss": recon_loss,
                "commitment_loss": vq["commitment_loss"], "perplexity": vq["perplexity"],
                "loss": recon_loss + vq["commitment_loss"]}

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        z = self.pre_vq(self.encoder(x)).float()
        flat = z.movedim(1, -1).reshape(-1, z.shape[1])
        return self.codebook.codes_for(flat).view(z.shape[0], *z.shape[2:])

    @torch.no_grad()
    def decode(self, ids: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.post_vq(self.codebook.lookup(ids)))


_SIZES = {
    "vqvae3d": {},
    "vqvae3d_small": dict(embedding_dim=32, n_codes=256, n_hiddens=48, n_res_layers=2),
    "vqvae3d_tiny": dict(embedding_dim=16, n_codes=32, n_hiddens=16, n_res_layers=1),
}


register_sizes(VQVAE3D, VQVAE3DConfig, _SIZES)
