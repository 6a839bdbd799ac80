"""EMA vector-quantization codebook (van den Oord et al. 2017; VideoGPT's training recipe).

- codes are initialized from random encoder outputs of the first training batch;
- EMA updates (decay 0.99) of the per-code counts N and sums z_avg, with Laplace smoothing;
- dead-code reset: after each update every code whose EMA count fell below `dead_threshold`
  (VideoGPT: 1) is replaced by a random encoder output of the current batch, and its EMA
  statistics restart from that vector (N = 1, z_avg = vector). VideoGPT leaves N and z_avg as
  they were, so its reset code is recomputed from stale statistics on the next update;
  restarting them keeps the new vector until the EMA decides;
- commitment loss beta * ||z - sg(e)||^2; straight-through gradient to the encoder.
Under torch.distributed the batch statistics are all-reduced so every rank holds the same codebook.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F


def _all_reduce(t: torch.Tensor) -> torch.Tensor:
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(t)
    return t


def _broadcast(t: torch.Tensor) -> torch.Tensor:
    if dist.is_available() and dist.is_initialized():
        dist.broadcast(t, 0)
    return t


class EMACodebook(nn.Module):
    """forward(z: [B, D, *grid]) -> dict(quantized [B, D, *grid] (straight-through),
    ids long [B, *grid], commitment_loss, perplexity)."""

    def __init__(self, n_codes: int, dim: int, decay: float = 0.99, commitment: float = 0.25,
                 dead_threshold: float = 1.0, eps: float = 1e-5):
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"codebook decay must be in [0, 1), got {decay}")
        self.n_codes, self.dim = n_codes, dim
        self.decay, self.commitment, self.dead_threshold, self.eps = decay, commitment, dead_threshold, eps
        self.register_buffer("embeddings", torch.randn(n_codes, dim))
        self.register_buffer("N", torch.zeros(n_codes))
        self.register_buffer("z_avg", self.embeddings.clone())
        self.register_buffer("initialized", torch.tensor(False))
        self.last_dead = 0     # codes found dead (and reset) at the last EMA update
        self.total_resets = 0  # codes reset since construction (this process)

    @staticmethod
    def _sample(flat: torch.Tensor, n: int) -> torch.Tensor:
        """n random rows of flat [M, D] (tiled when M < n), lightly jittered so repeats differ."""
        m = flat.shape[0]
        if m < n:
            reps = (n + m - 1) // m
            flat = flat.repeat(reps, 1) + 0.01 / flat.shape[1] ** 0.5 * torch.randn_like(flat.repeat(reps, 1))
        return flat[torch.randperm(flat.shape[0], device=flat.device)[:n]]

    @torch.no_grad()
    def _init_from(self, flat: torch.Tensor) -> None:
        codes = _broadcast(self._sample(flat, self.n_codes).contiguous())
        self.embeddings.copy_(codes)
        self.z_avg.copy_(codes)
        self.N.fill_(1.0)
        self.initialized.fill_(True)

    def codes_for(self, flat: torch.Tensor) -> torch.Tensor:
        """Nearest code index for each row of flat [M, D]."""
        dist_ = (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.embeddings.t()
                 + self.embeddings.pow(2).sum(1)[None])
        return dist_.argmin(1)

    @torch.no_grad()
    def _ema_update(self, flat: torch.Tensor, onehot: torch.Tensor) -> None:
        n_total = _all_reduce(onehot.sum(0))
        embed_sum = _all_reduce(onehot.t() @ flat)
        self.N.mul_(self.decay).add_(n_total, alpha=1 - self.decay)
        self.z_avg.mul_(self.decay).add_(embed_sum, alpha=1 - self.decay)
        n = self.N.sum()
        weights = (self.N + self.eps) / (n + self.n_codes * self.eps) * n  # Laplace smoothing
        self.embeddings.copy_(self.z_avg / weights[:, None])
        dead = self.N < self.dead_threshold
        self.last_dead = int(dead.sum())
        self.total_resets += self.last_dead
        if dead.any():
            fresh = _broadcast(self._sample(flat, self.n_codes).contiguous())
            self.embeddings[dead] = fresh[dead]
            self.z_avg[dead] = fresh[dead]
            self.N[dead] = 1.0

    def dead_codes(self) -> int:
        """Codes whose EMA usage count had fallen below the threshold at the last update (they
        were then reset to encoder outputs)."""
        return self.last_dead

    def lookup(self, ids: torch.Tensor) -> torch.Tensor:
        """ids long [B, *grid] -> code vectors [B, D, *grid]."""
        return F.embedding(ids, self.embeddings).movedim(-1, 1)

    def forward(self, z: torch.Tensor) -> dict:
        if z.shape[1] != self.dim:
            raise ValueError(f"codebook dim is {self.dim}, got z with {z.shape[1]} channels")
        zf = z.float()
        flat = zf.movedim(1, -1).reshape(-1, self.dim)
        if self.training and not bool(self.initialized):
            self._init_from(flat.detach())
        ids = self.codes_for(flat.detach())
        onehot = F.one_hot(ids, self.n_codes).type_as(flat)
        if self.training:
            self._ema_update(flat.detach(), onehot)
        e = F.embedding(ids, self.embeddings).view(*zf.movedim(1, -1).shape).movedim(-1, 1)
        commitment = self.commitment * F.mse_loss(zf, e.detach())
        quantized = zf + (e - zf).detach()  # straight-through estimator
        probs = onehot.mean(0)
        perplexity = torch.exp(-(probs * torch.log(probs + 1e-10)).sum())
        ids = ids.view(z.shape[0], *z.shape[2:])
        return {"quantized": quantized.to(z.dtype), "ids": ids, "commitment_loss": commitment,
                "perplexity": perplexity}
