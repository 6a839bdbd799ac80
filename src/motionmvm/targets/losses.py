"""Losses on masked tokens only."""
from __future__ import annotations

import torch


def _flat_mask(mask: torch.Tensor) -> torch.Tensor:
    """[B, T', H', W'] or [B, L] bool -> [B, L] bool."""
    mask = torch.as_tensor(mask)
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must be bool (True = masked), got {mask.dtype}")
    return mask.reshape(mask.shape[0], -1)


def select_masked(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Rows of the masked tokens: x [B, L, ...], mask [B, L] or [B, T', H', W'] -> [N_masked, ...]
    (row-major over batch then token, the order a decoder predicting masked tokens uses)."""
    mask = _flat_mask(mask).to(x.device)
    if x.shape[:2] != mask.shape:
        raise ValueError(f"target has {tuple(x.shape[:2])} tokens, mask {tuple(mask.shape)}")
    return x[mask]


def _masked_pred(pred: torch.Tensor, mask: torch.Tensor, n_masked: int) -> torch.Tensor:
    """Accept predictions for all tokens [B, L, D], for masked tokens only [B, N, D] (same count
    per clip) or already flattened [N_masked, D]."""
    if pred.ndim == 3 and pred.shape[:2] == mask.shape:
        return pred[mask]
    if pred.ndim == 3 and pred.shape[0] * pred.shape[1] == n_masked:
        return pred.reshape(n_masked, pred.shape[-1])
    if pred.ndim == 2 and pred.shape[0] == n_masked:
        return pred
    raise ValueError(f"prediction of shape {tuple(pred.shape)} matches neither all tokens "
                     f"{tuple(mask.shape)} nor the {n_masked} masked tokens")


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
               valid: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error over masked tokens (and valid entries).

    pred: [B, L, D], [B, N_m, D] or [N_masked, D]; target: [B, L, D]; mask: [B, L] or
    [B, T', H', W'] bool (True = masked); valid: optional [B, L, D] bool (e.g. MME trajectory
    points that left the frame). Mean over the counted entries; 0 (with grad) if none counts.
    """
    mask = _flat_mask(mask).to(target.device)
    tgt = select_masked(target, mask)
    p = _masked_pred(pred, mask, tgt.shape[0])
    err = (p.float() - tgt.float()) ** 2
    if valid is None:
        return err.mean() if err.numel() else p.sum() * 0.0
    v = select_masked(valid.to(target.device), mask).float()
    return (err * v).sum() / v.sum().clamp_min(1.0)
