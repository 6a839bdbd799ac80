"""MME, Masked Motion Encoding (paper 001): tube masking at 0.7, the masked patches' motion
trajectories as the target (position part: L x 2 displacements, shape part: L x 9 HOG, for the
K = 4 points of each patch, patch-normalised), the models area's depth-1 `mme_head` (a joint head for both parts),
L2 loss on masked patches over valid points. VideoMAE's optimizer recipe (MME builds on it).

Ablations (paper Table 7): `mme_hog` (HOG of the masked patches, as MaskFeat) and `mme_pixel`
(per-patch normalised pixels), both with MME's masking and decoder.
L (trajectory length) comes from params `motion.traj.length` (default 6, the paper's value).
Loss weight: the paper's plain L2 by default. The official code multiplies the trajectory loss by
32 / D (D = the target's values per token, K x L x 11); params
`targets.trajectory.code_loss_weight: true` applies that factor (a constant scale: it changes the logged
loss, and the updates only through AdamW's eps and gradient clipping).
"""
from __future__ import annotations

import torch
from torch import nn

from motionmvm import models
from motionmvm.methods import register_method
from motionmvm.methods.pixel import MaskedTargetModel, build_vit_encoder
from motionmvm.methods.spec import MethodSpec
from motionmvm.methods.videomae import VIDEOMAE_OPTIM

MME_DECODER_DEPTH = 1
POINTS_PER_PATCH = 4  # K: a 2 x 2 grid of points per patch
HOG_BINS = 9
HOG_CELL = 8
CODE_LOSS_SCALE = 32.0  # official code's trajectory loss weight: x 32 / D


class MMEModel(MaskedTargetModel):
    """ViT encoder (visible tokens) + the models area's depth-1 `mme_head`; L2 on masked tokens
    (and valid trajectory entries).

    forward(batch: {video [B, C, T, H, W], mask [B, T', H', W'], traj_* for "trajectory"})
        -> {loss, pred [B, N_masked, D], target [B, N_masked, D]}
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, target: str,
                 code_loss_weight: bool = False, traj_norm: str = "per_step"):
        super().__init__(encoder, decoder)
        self.target = target
        self.traj_norm = traj_norm  # targets.trajectory.norm: per_step (official) | patch | none
        self.code_loss_weight = code_loss_weight  # official code: trajectory loss x 32 / D

    def decode(self, visible: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.decoder(visible, mask, self.encoder.cfg.grid)

    def make_target(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
        video, e = batch["video"], self.encoder.cfg
        if self.target == "pixel":
            return super().make_target(batch)
        if self.target == "hog":
            from motionmvm.targets import hog_target

            return hog_target(video.float(), patch=e.patch, tubelet=e.tubelet, bins=HOG_BINS,
                              cell=HOG_CELL), None
        from motionmvm.targets import trajectory_target

        tgt, valid = trajectory_target(batch["traj_disp"].cpu(), batch["traj_hog"].cpu(),
                                       batch["traj_valid"].cpu(), norm=self.traj_norm)
        return tgt.to(video.device), valid.to(video.device)

    def loss(self, pred, target, mask, valid) -> torch.Tensor:
        loss = super().loss(pred, target, mask, valid)
        if self.code_loss_weight and self.target == "trajectory":
            loss = loss * (CODE_LOSS_SCALE / target.shape[-1])
        return loss


def out_dim(cfg: dict, target: str, tubelet: int, patch: int) -> int:
    if target == "pixel":
        return tubelet * patch * patch * 3
    if target == "hog":
        return tubelet * 3 * (patch // HOG_CELL) ** 2 * HOG_BINS
    length = cfg.get("motion", {}).get("traj", {}).get("length", 6)
    return POINTS_PER_PATCH * length * (2 + HOG_BINS)


def build_mme(cfg: dict, spec: MethodSpec) -> MMEModel:
    encoder = build_vit_encoder(cfg)
    e = encoder.cfg
    if spec.target == "hog" and e.patch % HOG_CELL:
        raise ValueError(f"the HOG target needs model.patch divisible by the {HOG_CELL}-pixel cell")
    m = cfg["model"]
    decoder = models.build("mme_head", encoder_dim=encoder.embed_dim, width=m["decoder_dim"],
                           num_heads=m["decoder_heads"], depth=MME_DECODER_DEPTH,
                           out_dim=out_dim(cfg, spec.target, e.tubelet, e.patch))
    tcfg = cfg.get("targets", {}).get("trajectory", {})
    model = MMEModel(encoder, decoder, spec.target, code_loss_weight=bool(tcfg.get("code_loss_weight", False)),
                     traj_norm=tcfg.get("norm", "per_step"))
    model.encoder_name = cfg["model"]["vit"]
    return model


def _spec(name: str, target: str, motion: tuple[str, ...], what: str) -> MethodSpec:
    return register_method(MethodSpec(
        name=name, masking="tube", masking_key="mme_tube", mask_ratio=0.7, target=target,
        builder=build_mme, optim=VIDEOMAE_OPTIM, motion_kinds=motion, description=what))


SPEC = _spec("mme", "trajectory", ("traj",), "tube 0.7 + motion trajectories")
HOG = _spec("mme_hog", "hog", (), "MME ablation: tube 0.7 + HOG target")
PIXEL = _spec("mme_pixel", "pixel", (), "MME ablation: tube 0.7 + pixel target")
