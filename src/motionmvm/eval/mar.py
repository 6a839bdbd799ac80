"""MAR fine-tuning (paper 003): cell running masking, encoder on visible tokens, bridging
classifier, pixel reconstruction branch; L = L_c + lambda * L_r.

lambda (params `eval.mar.recon_weight`): a number, or per dataset with a `default`. The paper's
Table IX (SSv2) picks 0.1, as the official SSv2 config; the paper does not give it for K400,
where the official config uses 0.01 (docs/fidelity.md).

Training masks: cell running, spatially repeated, shuffled temporal order; test masks: fixed order
from state A (MAR's test mode). The reconstruction target is per-patch normalised pixels of each
2 x p x p tubelet (VideoMAE's target); the branch is dropped at test time, so the FLOPs per view are
those of the encoder on the visible tokens plus the bridging classifier.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from motionmvm.eval.augment import MEAN, STD

BRIDGE = "mar_bridging_classifier"   # models-area registry names
DECODER = "videomae_decoder"


def pixel_target(x: torch.Tensor, tubelet: int, patch: int) -> torch.Tensor:
    """x: normalised clip [B, 3, T, H, W] -> per-patch normalised pixels [B, L, t*p*p*3].

    Pixels are first returned to [0, 1] (undoing the ImageNet normalisation), then
    `motionmvm.targets.pixel_target` normalises each tubelet per channel (VideoMAE's `norm_pix_loss`).
    """
    from motionmvm.targets import pixel_target as videomae_target

    mean = torch.tensor(MEAN, device=x.device).view(1, 3, 1, 1, 1)
    std = torch.tensor(STD, device=x.device).view(1, 3, 1, 1, 1)
    return videomae_target(x * std + mean, patch=patch, tubelet=tubelet)


def recon_weight_for(setting, dataset: str | None) -> float:
    """lambda from params `eval.mar.recon_weight`: a number, or {dataset: weight, default: weight}."""
    if isinstance(setting, dict):
        return float(setting.get(dataset, setting["default"]))
    return float(setting)


class MARModel(nn.Module):
    """encoder (visible tokens) -> bridging classifier logits; + decoder reconstruction when training.

    forward(x: [B, C, T, H, W], mask: [B, L] bool) -> (logits [B, K], recon [B, L_mask, out] | None)
    """

    def __init__(self, encoder: nn.Module, bridge: nn.Module, decoder: nn.Module | None):
        super().__init__()
        self.encoder, self.bridge, self.decoder = encoder, bridge, decoder

    def forward(self, x: torch.Tensor, mask: torch.Tensor, reconstruct: bool = True):
        vis = self.encoder(x, mask)                      # [B, L_vis, D]
        logits = self.bridge(vis)
        recon = self.decoder(vis, mask) if (reconstruct and self.decoder is not None) else None
        return logits, recon


class CellRunning:
    """Masks from `motionmvm.masking.get("cell_running")` for a token grid (T', H', W')."""

    def __init__(self, grid: tuple[int, int, int], ratio: float, seed: int, spatial: str = "repeated",
                 temporal: str = "shuffled", order: str = "raster"):
        from motionmvm import masking

        self.fn = masking.get("cell_running")
        self.grid, self.ratio = tuple(grid), ratio
        self.spatial, self.temporal = spatial, temporal  # training modes (params masking.cell_running)
        self.order = order
        self.rng = np.random.default_rng(seed)

    def train(self, batch: int) -> torch.Tensor:
        m = self.fn(self.grid, self.ratio, generator=self.rng, batch=batch, spatial=self.spatial,
                    temporal=self.temporal, order=self.order)
        return torch.from_numpy(np.ascontiguousarray(m)).reshape(batch, -1)

    def test(self, batch: int) -> torch.Tensor:
        m = self.fn(self.grid, self.ratio, generator=np.random.default_rng(0), batch=batch,
                    spatial="repeated", temporal="fixed", start_state=0, order=self.order)
        return torch.from_numpy(np.ascontiguousarray(m)).reshape(batch, -1)


def mar_loss_fn(masks: CellRunning, recon_weight: float, tubelet: int, patch: int):
    """loss_fn(model, x, soft_target) for `engine.fit`: CE(bridge) + lambda * MSE(recon, target)."""
    from motionmvm.eval.recipe import soft_cross_entropy

    def loss_fn(model: MARModel, x, target):
        mask = masks.train(len(x)).to(x.device)
        logits, recon = model(x, mask, reconstruct=recon_weight > 0)
        cls = soft_cross_entropy(logits, target)
        if recon is None:
            return cls, {"cls": cls.item()}
        tgt = pixel_target(x, tubelet, patch)[mask].reshape(recon.shape)
        rec = torch.mean((recon - tgt) ** 2)
        return cls + recon_weight * rec, {"cls": cls.item(), "rec": rec.item()}

    return loss_fn


def decoder_state_from_pretraining(encoder_path: str | Path) -> dict | None:
    """The videomae decoder weights (keys `decoder.*`) from the `checkpoint.pt` beside encoder.pt,
    or None when there is none (the decoder then starts from a fresh init; recorded in metrics)."""
    ckpt_path = Path(encoder_path).parent / "checkpoint.pt"
    if not ckpt_path.exists():
        return None
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    for key in ("model", "state_dict", "model_state"):
        sd = ckpt.get(key) if isinstance(ckpt, dict) else None
        if isinstance(sd, dict):
            dec = {k[len("decoder."):]: v for k, v in sd.items() if k.startswith("decoder.")}
            if dec:
                return dec
    return None
