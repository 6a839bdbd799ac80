"""Per-frame 2D VQ-VAE tokenizer: DEMVM's ablation baseline ("2D tokenizer", Table 7 of paper 000).

Every frame is encoded independently (no temporal information, as BEVT's image tokenizer):
two stride-2 4x4 convs (spatial stride 4), a 3x3 conv, residual blocks (ReLU-conv3-ReLU-conv1),
1x1 conv to the codebook dimension, the same EMA codebook as the 3D tokenizer, mirrored decoder.
To give the same token map as the 3D tokenizer (T/2 x H/4 x W/4 of its input), `encode` keeps the
first frame of every `temporal_stride` frames; training and `forward` use all frames.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from motionmvm.models.codebook import EMACodebook
from motionmvm.models.registry import register_sizes


@dataclass
class VQ2DConfig:
    in_chans: int = 3
    embedding_dim: int = 256
    n_codes: int = 2048
    n_hiddens: int = 240
    n_res_layers: int = 4
    temporal_stride: int = 2
    decay: float = 0.99
    commitment: float = 0.25
    dead_threshold: float = 1.0
    recon_scale: float = 0.06


class ResBlock2D(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.block = nn.Sequential(nn.ReLU(), nn.Conv2d(dim, max(dim // 2, 1), 3, padding=1),
                                   nn.ReLU(), nn.Conv2d(max(dim // 2, 1), dim, 1))

    def forward(self, x):
        return x + self.block(x)


class VQ2D(nn.Module):
    """forward(x [B, 3, T, H, W] in [-0.5, 0.5]) -> dict(recon, ids [B, T, H/4, W/4], loss, ...);
    encode(x) -> ids [B, T/temporal_stride, H/4, W/4]; decode(ids [B, t, h, w]) -> [B, 3, t, 4h, 4w]."""

    downsample_hw = 4

    def __init__(self, cfg: VQ2DConfig):
        super().__init__()
        self.cfg = cfg
        C = cfg.n_hiddens
        self.encoder = nn.Sequential(
            nn.Conv2d(cfg.in_chans, C, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(C, C, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(C, C, 3, padding=1),
            *[ResBlock2D(C) for _ in range(cfg.n_res_layers)], nn.ReLU())
        self.pre_vq = nn.Conv2d(C, cfg.embedding_dim, 1)
        self.codebook = EMACodebook(cfg.n_codes, cfg.embedding_dim, cfg.decay, cfg.commitment,
                                    cfg.dead_threshold)
        self.post_vq = nn.Conv2d(cfg.embedding_dim, C, 1)
        self.decoder = nn.Sequential(
            *[ResBlock2D(C) for _ in range(cfg.n_res_layers)], nn.ReLU(),
            nn.ConvTranspose2d(C, C, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(C, cfg.in_chans, 4, stride=2, padding=1))

    def token_grid(self, t: int, h: int, w: int) -> tuple[int, int, int]:
        return t // self.cfg.temporal_stride, h // 4, w // 4

    def _frames(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or x.shape[1] != self.cfg.in_chans:
            raise ValueError(f"expected x [B, {self.cfg.in_chans}, T, H, W], got {tuple(x.shape)}")
        if x.shape[3] % 4 or x.shape[4] % 4:
            raise ValueError(f"H, W = {tuple(x.shape[3:])} must be divisible by 4")
        return x.transpose(1, 2).flatten(0, 1)  # [B*T, C, H, W]

    def forward(self, x: torch.Tensor) -> dict:
        B, T = x.shape[0], x.shape[2]
        frames = self._frames(x)
        vq = self.codebook(self.pre_vq(self.encoder(frames)))
        recon = self.decoder(self.post_vq(vq["quantized"]))
        recon_loss = F.mse_loss(recon.float(), frames.float()) / self.cfg.recon_scale
        recon = recon.view(B, T, *recon.shape[1:]).transpose(1, 2)
        return {"recon": recon, "ids": vq["ids"].view(B, T, *vq["ids"].shape[1:]),
                "recon_loss": recon_loss, "commitment_loss": vq["commitment_loss"],
                "perplexity": vq["perplexity"], "loss": recon_loss + vq["commitment_loss"]}

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[2] % self.cfg.temporal_stride:
            raise ValueError(f"T={x.shape[2]} is not divisible by temporal_stride {self.cfg.temporal_stride}")
        x = x[:, :, ::self.cfg.temporal_stride]
        B, T = x.shape[0], x.shape[2]
        z = self.pre_vq(self.encoder(self._frames(x))).float()
        ids = self.codebook.codes_for(z.movedim(1, -1).reshape(-1, z.shape[1]))
        return ids.view(B, T, *z.shape[2:])

    @torch.no_grad()
    def decode(self, ids: torch.Tensor) -> torch.Tensor:
        B, T = ids.shape[:2]
        frames = self.decoder(self.post_vq(self.codebook.lookup(ids.flatten(0, 1))))
        return frames.view(B, T, *frames.shape[1:]).transpose(1, 2)


_SIZES = {
    "vq2d": {},
    "vq2d_small": dict(embedding_dim=32, n_codes=256, n_hiddens=48, n_res_layers=2),
    "vq2d_tiny": dict(embedding_dim=16, n_codes=32, n_hiddens=16, n_res_layers=1),
}


register_sizes(VQ2D, VQ2DConfig, _SIZES)
