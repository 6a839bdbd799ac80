"""DEMVM (paper 000): Flow-Guided Dense Masking with progressive masking ratio, 3D VQ-VAE token
ids as the target, a Video Swin encoder that sees every patch (masked ones replaced by a learnable
mask token) and the lightweight decoder (F4 upsampled x4, concatenated with F2, linear over the
codebook); cross-entropy on masked tokens. Optimizer: Adam, lr 5e-5 (no batch scaling), wd 1e-5,
cosine schedule. The encoder lr is 5e-3 x base lr (the paper's stratified learning rate) only
when it starts from 2D ImageNet weights (`model.swin_init`): the paper adopts it *because* those
weights already represent images; a randomly initialised encoder trains at the base lr.

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
from motionmvm.methods.demvm_init import init_encoder
from motionmvm.methods.spec import MethodSpec, OptimSpec

DEMVM_OPTIM = OptimSpec(name="adam", base_lr=5e-5, scale_lr_by_batch=False, betas=(0.9, 0.999),
                        weight_decay=1e-5, encoder_lr_mult=5e-3)

# Paper 000's recipe ("Implementation details", sec. 4.1): pretraining on UCF101 or HMDB51 (each
# pretrains on its own train split and fine-tunes on it) for 10 epochs at batch 24 (4 GPUs, global),
# 16 frames at 224^2, Video Swin-B (and -T), Adam 5e-5 / wd 1e-5, 2D (ImageNet) initialisation
# with the stratified encoder lr; PMR P_spa 0.3 -> 0.8, P_tmp 0.3 -> 0.9 with Ep = 100 (so after
# 10 epochs the ratios reach 0.3 + 0.5 sqrt(0.1) = 0.46 and 0.49); FGDM P_den 0.7. Fine-tuning:
# 30 epochs on UCF101 / HMDB51 / Mimetics, "other configurations consistent with pre-training".
# The paper is silent on warmup; it starts at its "initial learning rate", so no warmup here.
PAPER_RECIPE = {
    "pretrain_datasets": ("ucf101", "hmdb51"),
    "encoder": "swin3d_b",
    "pretrain": {"epochs": 10, "warmup_epochs": 0, "global_batch": 24, "frames": 16, "size": 224},
    "masking": {"fgdm": {"p_den": 0.7, "pmr": {"spa_start": 0.3, "spa_end": 0.8, "tmp_start": 0.3,
                                               "tmp_end": 0.9, "total_epochs": 100}}},
    # "Other configurations are consistent with pre-training": batch 24, lr 5e-5 (no warmup), wd 1e-5,
    # betas (0.9, 0.999); the encoder is not held at the stratified rate here (that is for adapting
    # image weights to MVM); augmentation is the shared recipe's (the paper is silent on it).
    "finetune": {"epochs": 30, "batch": 24, "lr": 5e-5, "weight_decay": 1e-5, "warmup_epochs": 0,
                 "datasets": ("ucf101", "hmdb51", "mimetics")},
    # "pre-trained weights on ImageNet [12]" (sec. 3.4): ImageNet-1K Swin-B. Not set by
    # paper_config: a timm name needs internet (or a local file); the experiment passes it.
    "swin_init": "swin_base_patch4_window7_224.ms_in1k",
}


def paper_config(cfg: dict, world: int = 1) -> dict:
    """`cfg` with DEMVM's paper recipe: pretrain epochs / warmup / frames / size, a per-process
    batch x accumulation that gives the global batch of 24 on `world` processes, the PMR / FGDM
    settings and fine-tuning "consistent with pre-training" (30 epochs, batch 24, lr 5e-5, wd 1e-5,
    no warmup). Datasets are the experiment's choice (PAPER_RECIPE)."""
    r = PAPER_RECIPE["pretrain"]
    if r["global_batch"] % world:
        raise ValueError(f"DEMVM's global batch {r['global_batch']} does not split over {world} processes")
    per = r["global_batch"] // world
    out = {**cfg, "pretrain": {**cfg["pretrain"], "epochs": r["epochs"], "warmup_epochs": r["warmup_epochs"],
                               "frames": r["frames"], "size": r["size"], "batch_size": per, "accum_steps": 1},
           "model": {**cfg["model"], "swin": PAPER_RECIPE["encoder"]}}
    fgdm = PAPER_RECIPE["masking"]["fgdm"]
    masking = dict(cfg.get("masking", {}))
    masking["fgdm"] = {**masking.get("fgdm", {}), "p_den": fgdm["p_den"],
                       "pmr": {**masking.get("fgdm", {}).get("pmr", {}), **fgdm["pmr"]}}
    out["masking"] = masking
    f = PAPER_RECIPE["finetune"]
    ev = cfg.get("eval", {})
    # eval's lr = base_lr x (batch x repeated_aug) / 256: one view per clip, base_lr chosen so lr = 5e-5
    out["eval"] = {**ev, "finetune": {**ev.get("finetune", {}), "epochs": f["epochs"], "batch_size": f["batch"],
                                      "repeated_aug": 1, "base_lr": f["lr"] * 256 / f["batch"],
                                      "weight_decay": f["weight_decay"], "warmup_epochs": f["warmup_epochs"],
                                      "betas": [0.9, 0.999]}}
    return out


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
    init = init_encoder(encoder, m.get("swin_init"))  # DEMVM's 2D initialisation (or none)
    dims = encoder.dims
    n_codes = cfg.get("tokenizer", {}).get("n_codes", 2048)
    decoder = models.build("demvm_decoder", f2_dim=dims[1], f3_dim=dims[2], f4_dim=dims[3],
                           n_codes=n_codes)
    model = DEMVMModel(encoder, decoder, (p["frames"] // 2, size // 8, size // 8))
    model.clip_size = size  # the loop samples clips at this size
    model.encoder_name = m["swin"]
    model.encoder_2d_init = init  # written to metrics.json
    # The stratified encoder lr only with 2D init (train/optim.py reads this over the spec's).
    model.encoder_lr_mult = spec.optim.encoder_lr_mult if init["kind"] != "none" else 1.0
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
