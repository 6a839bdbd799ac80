"""The trivial predictor's loss on a training batch: what a model that ignores its input scores.

The pretraining loop logs it beside the loss on the same batch, so "the loss fell" can be read
against "the loss a constant prediction gets" (the health gate `pretraining_learns`):
- regression targets (pixels, HOG, trajectories): the best constant prediction, each target
  dimension's mean over the batch's masked (valid) entries, scored with the method's own loss
  (for VideoMAE's per-patch normalised pixels this is about 1.0, the score of predicting each
  patch's mean);
- token targets (DEMVM): the best constant distribution, the batch's code frequencies over the
  masked tokens: cross-entropy = the entropy of those frequencies.
"""
from __future__ import annotations

import torch

from motionmvm.targets.losses import select_masked


@torch.no_grad()
def trivial_loss(model: torch.nn.Module, batch: dict) -> float:
    """model: the method's model (unwrapped from DDP); batch: the batch its loss was computed on.
    Returns nan when the batch masks nothing (no loss term either)."""
    mask = batch["mask"].reshape(batch["mask"].shape[0], -1).bool()
    if not mask.any():
        return float("nan")
    if "tokens" in batch:
        codes = select_masked(batch["tokens"].reshape(mask.shape[0], -1).unsqueeze(-1), mask)[:, 0]
        freq = torch.bincount(codes.long()).double()
        freq = freq[freq > 0] / freq.sum()
        return float(-(freq * freq.log()).sum())
    target, valid = model.make_target(batch)
    tgt = select_masked(target.float(), mask.to(target.device))
    if valid is None:
        const = tgt.mean(0, keepdim=True)
    else:
        v = select_masked(valid.to(target.device), mask.to(target.device)).float()
        const = (tgt * v).sum(0, keepdim=True) / v.sum(0, keepdim=True).clamp_min(1.0)
    return float(model.loss(const.expand_as(tgt), target, mask, valid))
