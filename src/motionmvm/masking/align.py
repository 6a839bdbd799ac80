"""From per-video motion caches to a clip's motion inputs.

A clip is a list of frame indices into the decoded video (stride s: i0, i0+s, ...). The caches
(docs/ARCHITECTURE.md) are indexed by the full video's frames, so:
- mv `field` [F, h, w, 2] and klt `motion_map` [F-1, h, w]: take the clip's frames
  (`select_frames`); entry t stays the motion of frame t to t+1 of the dense video (the mask
  strategies use it only to locate motion, so the stride does not matter there).
- flow [F-1, H, W, 2] for MGMAE: the warp needs the motion between *consecutive clip frames*,
  so the stride-1 flows are chained (`compose_flow`; `compose_flow_backward` for the cache's
  backward flow v_{t+1 -> t}).
Spatial crops / resizes of the clip must be applied to these arrays too (values of flow and mv
scaled by the resize factor); that is the data loader's business, not the strategies'.
Token step k then covers clip frames tubelet*k .. tubelet*k + tubelet - 1.
"""
from __future__ import annotations

import numpy as np
import torch

from motionmvm.masking.mgmae import backward_warp


def select_frames(arr: np.ndarray, frame_indices, *, clamp: bool = True) -> np.ndarray:
    """arr[frame_indices] along axis 0. Pairwise caches (F-1 entries) have no entry for the last
    video frame: with `clamp`, indices past the end take the last entry."""
    idx = np.asarray(frame_indices, dtype=np.int64)
    if idx.min() < 0:
        raise ValueError(f"frame indices must be >= 0, got {idx.min()}")
    if clamp:
        idx = np.minimum(idx, len(arr) - 1)
    elif idx.max() >= len(arr):
        raise ValueError(f"frame index {idx.max()} outside the cache's {len(arr)} entries")
    return np.asarray(arr)[idx]


def compose_flow(flow: np.ndarray, frame_indices) -> np.ndarray:
    """Forward flow between consecutive clip frames, chained from stride-1 flows.

    flow: [F-1, H, W, 2] (v_{t -> t+1} of the dense video, pixels). For clip frames a < c:
    v_{a->c}(x) = v_{a->a+1}(x) + v_{a+1->c}(x + v_{a->a+1}(x)), evaluated with bilinear
    sampling. -> [T-1, H, W, 2] float32 (T = len(frame_indices)).
    """
    idx = np.asarray(frame_indices, dtype=np.int64)
    if np.any(np.diff(idx) <= 0):
        raise ValueError("compose_flow: frame indices must increase")
    if idx[-1] - 1 >= len(flow):
        raise ValueError(f"compose_flow: frame {idx[-1]} needs flow up to {idx[-1] - 1}, the "
                         f"cache has {len(flow)} steps")
    f = torch.from_numpy(np.asarray(flow, dtype=np.float32))
    out = []
    for a, c in zip(idx[:-1], idx[1:]):
        acc = f[c - 1][None]                           # v_{c-1 -> c}
        for s in range(c - 2, a - 1, -1):              # prepend v_{s -> s+1}
            step = f[s][None]
            # acc(x + step(x)): sample each channel of acc at the displaced positions
            moved = backward_warp(acc.permute(0, 3, 1, 2), step).permute(0, 2, 3, 1)
            acc = step + moved
        out.append(acc[0])
    return torch.stack(out).numpy()


def compose_flow_backward(flow_backward: np.ndarray, frame_indices) -> np.ndarray:
    """Backward flow between consecutive clip frames, chained from stride-1 backward flows.

    flow_backward: [F-1, H, W, 2], entry t = v_{t+1 -> t} (pixels). For clip frames a < c:
    v_{c->a}(x) = v_{c->c-1}(x) + v_{c-1->a}(x + v_{c->c-1}(x)), bilinear sampling.
    -> [T-1, H, W, 2] float32, entry i = v_{idx[i+1] -> idx[i]}.
    """
    idx = np.asarray(frame_indices, dtype=np.int64)
    if np.any(np.diff(idx) <= 0):
        raise ValueError("compose_flow_backward: frame indices must increase")
    if idx[-1] - 1 >= len(flow_backward):
        raise ValueError(f"compose_flow_backward: frame {idx[-1]} needs flow up to {idx[-1] - 1}, "
                         f"the cache has {len(flow_backward)} steps")
    f = torch.from_numpy(np.asarray(flow_backward, dtype=np.float32))
    out = []
    for a, c in zip(idx[:-1], idx[1:]):
        acc = f[a][None]                               # v_{a+1 -> a}
        for s in range(a + 1, c):                      # prepend v_{s+1 -> s}
            step = f[s][None]
            moved = backward_warp(acc.permute(0, 3, 1, 2), step).permute(0, 2, 3, 1)
            acc = step + moved
        out.append(acc[0])
    return torch.stack(out).numpy()
