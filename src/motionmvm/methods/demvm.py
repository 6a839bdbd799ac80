"""DEMVM (paper 000): Flow-Guided Dense Masking with progressive masking ratio, 3D VQ-VAE token
ids as the target, a Video Swin encoder that sees every patch (masked ones replaced by a learnable
mask token) and the lightweight decoder (F4 upsampled x4, concatenated with F2, linear over the
codebook); cross-entropy on masked tokens. Optimizer: Adam, lr 5e-5 (no batch scaling), wd 1e-5,
encoder lr = 5e-3 x base lr (the paper's stratified learning rate), cosine with warmup.

Masks are drawn on the token-target grid (T/2, H/8, W/8) = F2's grid; the encoder repeats them
onto its 2x4x4 patch grid. The clip is sampled on the tokenizer's grid (train/samples.py:
sample_token_clip) at the tokenizer's `size` (which may differ from `pretrain.size`).

Ablations (paper Table 7 / 6): `demvm_2d` (per-frame 2D VQ tokens, `tokens2d/`), `demvm_nopmr`
(FGDM at the schedule's end ratios), `demvm_nofgdm` (tube masking with PMR's spatial ratio),
`demvm_random` (random masking).
"""
from __future__ import annotations

import torch
from torch import nn

from motionmvm import models
from motionmvm.methods import register_method
from motionmvm.methods.spec import MethodSpec, OptimSpec

DEMVM_OPTIM = OptimSpec(name="adam", base_lr=5e-5, scale_lr_by_batch=False, betas=(0.9, 0.999),
                        weight_decay=1e-5, encoder_lr_mult=5e-3)


class DEMVMModel(nn.Module):
    """forward(batch: {video [B, C, T, H, W], mask [B, T/2, H/8, W/8] bool, tokens [same] int64})
    -> {loss, logits [B, L, V]}."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, grid: tuple[int, int, int]):
        super().__init__()
        self.encoder, self.decoder, self.grid = encoder, decoder, tuple(grid)

    def forward(self, batch: dict) -> dict:
        from motionmvm.targets import token_loss

        mask = batch["mask"].bool()
        logits = self.decoder(self.encoder(batch["video"], mask))      # [B, V, T', h, w]
        if tuple(logits.shape[2:]) != tuple(batch["tokens"].shape[1:]):
            raise ValueError(f"decoder map {tuple(logits.shape[2:])} does not match the token "
                             f"targets {tuple(batch['tokens'].shape[1:])}")
        logits = logits.flatten(2).transpose(1, 2)                       # [B, L, V]
        if not mask.any():  # FGDM may mask nothing early in PMR (P_tmp x T' < 1): no loss terms
            return {"loss": logits.sum() * 0.0, "logits": logits}
        return {"loss": token_loss(logits, batch["tokens"], mask), "logits": logits}


def clip_size(cfg: dict) -> int:
    """DEMVM's clip side: the tokenizer's `size` (its ids are the targets: T/2 x size/8 x size/8),
    else `pretrain.size`."""
    return int(cfg.get("tokenizer", {}).get("size", cfg["pretrain"]["size"]))


def build_demvm(cfg: dict, spec: MethodSpec) -> DEMVMModel:
    m, p = cfg["model"], cfg["pretrain"]
    size = clip_size(cfg)
    # num_frames / img_size record the clip the encoder is trained on (Swin takes any size; the
    # evaluation rebuilds it at this geometry from encoder.pt).
    encoder = models.build(m["swin"], drop_path_rate=m["drop_path"], num_frames=p["frames"], img_size=size)
    if m.get("swin_init"):
        # DEMVM's 2D initialisation: an ImageNet timm Swin state dict from a local file, inflated.
        from motionmvm.models.swin3d import load_inflated

        load_inflated(encoder, m["swin_init"])
    dims = encoder.dims
    n_codes = cfg.get("tokenizer", {}).get("n_codes", 2048)
    decoder = models.build("demvm_decoder", f2_dim=dims[1], f3_dim=dims[2], f4_dim=dims[3],
                           n_codes=n_codes)
    model = DEMVMModel(encoder, decoder, (p["frames"] // 2, size // 8, size // 8))
    model.clip_size = size  # the loop samples clips at this size
    model.encoder_name = m["swin"]
    return model


def _spec(name: str, masking: str, pmr: bool, tokens_dir: str, what: str, ratio: float) -> MethodSpec:
    return register_method(MethodSpec(
        name=name, masking=masking, mask_ratio=ratio, target="tokens", builder=build_demvm,
        optim=DEMVM_OPTIM, motion_kinds=("klt",) if masking == "fgdm" else (), pmr=pmr,
        masking_key="fgdm" if masking == "fgdm" else None, tokens_dir=tokens_dir, description=what))


SPEC = _spec("demvm", "fgdm", True, "tokens", "FGDM + PMR + 3D VQ tokens", 0.8)
TWO_D = _spec("demvm_2d", "fgdm", True, "tokens2d", "DEMVM with the 2D (per-frame) tokenizer", 0.8)
NO_PMR = _spec("demvm_nopmr", "fgdm", False, "tokens", "DEMVM without PMR", 0.8)
NO_FGDM = _spec("demvm_nofgdm", "tube", True, "tokens", "DEMVM with tube masking (PMR ratio)", 0.8)
RANDOM = _spec("demvm_random", "random", False, "tokens", "DEMVM with random masking", 0.8)
