"""Batching the per-clip motion dicts of `motion_for_clip`."""
from __future__ import annotations

import numpy as np
import torch


def collate_motion(items: list[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    """Stack per-clip dicts along a new batch axis: {key: [B, ...] torch tensor} (dtypes kept;
    CPU tensors, so `pin_memory` / `.to(device)` work, and the masking strategies and targets
    accept them with `batch=B`). All clips must have the same keys and shapes (same kind, clip
    length and output size)."""
    if not items:
        raise ValueError("collate_motion: empty list of clips")
    keys = sorted(items[0])
    for i, it in enumerate(items):
        if sorted(it) != keys:
            raise ValueError(f"collate_motion: clip {i} has keys {sorted(it)}, clip 0 has {keys}")
    out = {}
    for k in keys:
        shapes = {np.shape(it[k]) for it in items}
        if len(shapes) != 1:
            raise ValueError(f"collate_motion: {k!r} differs in shape across clips: {sorted(shapes)}")
        out[k] = torch.from_numpy(np.stack([np.asarray(it[k]) for it in items]))
    return out
