"""VQ token targets (DEMVM's 3D VQ-VAE ids). The tokenizer itself lives in `motionmvm.models`;
here only the target layout and the loss."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from motionmvm.targets.losses import _flat_mask, _masked_pred, select_masked


def token_target(ids: torch.Tensor) -> torch.Tensor:
    """Token ids [B, T', H', W'] (int, codebook indices on the mask grid) -> [B, L] int64 in the
    mask's (t, h, w) order. The tokenizer's grid must equal the mask grid."""
    ids = torch.as_tensor(ids)
    if ids.ndim != 4 or ids.is_floating_point():
        raise ValueError(f"token ids must be an integer [B, T', H', W'] tensor, got "
                         f"{tuple(ids.shape)} {ids.dtype}")
    return ids.reshape(ids.shape[0], -1).long()


def token_loss(logits: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on masked tokens, averaged over them.

    logits: [B, L, V] (all tokens), [B, N_m, V] or [N_masked, V] (masked tokens only);
    ids: [B, L] or [B, T', H', W']; mask: [B, L] or [B, T', H', W'] bool (True = masked)."""
    ids = ids.reshape(ids.shape[0], -1)
    mask = _flat_mask(mask).to(ids.device)
    tgt = select_masked(ids.unsqueeze(-1), mask)[:, 0]
    if tgt.numel() and (tgt.min() < 0 or tgt.max() >= logits.shape[-1]):
        raise ValueError(f"token ids outside the codebook [0, {logits.shape[-1]})")
    return F.cross_entropy(_masked_pred(logits, mask, tgt.shape[0]).float(), tgt)
