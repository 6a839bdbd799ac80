"""MME motion-trajectory targets (paper 001) from the `traj` motion cache.

Cache (docs/ARCHITECTURE.md), per video of F frames: points on a grid of spacing p/2 starting at
p/4, so K = 4 points per p x p patch; `disp` [F-L, Hg, Wg, L, 2] per-step displacements of the
trajectory that starts at frame s, `hog` [F-L, Hg, Wg, L, 9] HOG around the tracked point,
`valid` [F-L, Hg, Wg, L] (false once the point left the frame), Hg = H/(p/2), Wg = W/(p/2).

Time alignment (sparse input, dense target): the model sees clip frames idx[0], idx[0]+s, ...
(stride s); token step k covers clip frames tubelet*k .. tubelet*k + tubelet - 1, and its target
is the trajectory starting at the *first* of those frames, s_k = idx[tubelet*k], tracked over
the next L frames of the dense (stride-1) video: the model must interpolate motion at raw frame
rate from frames it sees only every s. Starts with no trajectory in the cache (s_k >= F-L) are
marked invalid. Space: patch (i, j) owns grid points (2i + a, 2j + b), a, b in {0, 1}; the point
grid must already follow the clip's crop (Hg = 2H', Wg = 2W').
"""
from __future__ import annotations

import numpy as np
import torch
from einops import rearrange


def gather_trajectories(disp: np.ndarray, hog: np.ndarray, valid: np.ndarray, frame_indices,
                        tubelet: int = 2) -> dict[str, np.ndarray]:
    """Trajectories of one clip's token steps: dict(disp [T', Hg, Wg, L, 2], hog [T', Hg, Wg, L, 9],
    valid [T', Hg, Wg, L]) from the per-video cache arrays (see the module docstring)."""
    idx = np.asarray(frame_indices, dtype=np.int64)
    if len(idx) % tubelet:
        raise ValueError(f"{len(idx)} clip frames are not divisible by tubelet {tubelet}")
    if not (disp.shape[:4] == hog.shape[:4] == valid.shape):
        raise ValueError(f"traj arrays disagree: disp {disp.shape}, hog {hog.shape}, valid {valid.shape}")
    starts = idx[::tubelet]
    present = starts < len(disp)
    safe = np.minimum(starts, len(disp) - 1)
    v = np.asarray(valid)[safe] & present[:, None, None, None]
    return {"disp": np.asarray(disp)[safe], "hog": np.asarray(hog)[safe], "valid": v}


NORMS = ("per_step", "patch", "none")
# The official code divides the int8 displacements by the 20 px flow bound before normalising
# (pretrain/engine.py: `traj_shape / 20`); kept so that its eps acts on the same scale.
OFFICIAL_DISP_SCALE = 20.0


def _patch_norm(x: torch.Tensor, v: torch.Tensor, eps: float) -> torch.Tensor:
    """Normalise x [..., N] over its last axis using the valid entries v [..., N] only
    (MAE-style patch norm: (x - mean) / sqrt(var + eps), unbiased var)."""
    vf = v.float()
    n = vf.sum(-1, keepdim=True)
    mean = (x * vf).sum(-1, keepdim=True) / n.clamp_min(1)
    var = (((x - mean) ** 2) * vf).sum(-1, keepdim=True) / (n - 1).clamp_min(1)
    return torch.where(v, (x - mean) / torch.sqrt(var + eps), torch.zeros_like(x))


def _per_step_norm(x: torch.Tensor, v: torch.Tensor, eps: float) -> torch.Tensor:
    """The official MME `PatchStd`: x [..., K, M] (K trajectories of a patch, M = L x 2 values
    each) normalised over the K trajectories separately for every (step, coordinate):
    (x/20 - mean) / (std + eps), unbiased std, valid trajectories only. A rigidly moving patch
    (all K equal) -> 0."""
    x = x / OFFICIAL_DISP_SCALE
    vf = v.float()
    n = vf.sum(-2, keepdim=True)
    # mean taken relative to the first valid value: equal trajectories give exactly x - mean = 0
    # (a 1-ulp error of a plain mean over 3 values, divided by std + eps = 1e-6, is not 0)
    ref = torch.gather(x, -2, vf.argmax(-2, keepdim=True))
    mean = ref + ((x - ref) * vf).sum(-2, keepdim=True) / n.clamp_min(1)
    var = (((x - mean) ** 2) * vf).sum(-2, keepdim=True) / (n - 1).clamp_min(1)
    return torch.where(v, (x - mean) / (torch.sqrt(var) + eps), torch.zeros_like(x))


def trajectory_target(disp, hog, valid, norm: str = "per_step", eps: float = 1e-6,
                      with_shape: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """MME trajectory target and its validity.

    disp: [B, T', Hg, Wg, L, 2]; hog: [B, T', Hg, Wg, L, 9]; valid: [B, T', Hg, Wg, L] (from
    `gather_trajectories`, stacked). Per token: the position part z^p (K x L x 2 displacements)
    and, with `with_shape`, the shape part z^s (K x L x 9 HOG).
    norm (position part; docs/fidelity.md): "per_step" (default, the official code's reading of
    the paper's "mean and variance by all K = 4 trajectories in a patch"): each (step,
    coordinate) over the K trajectories, so a rigidly moving patch has target 0; "patch": all
    K x L x 2 values together ((x - mean) / sqrt(var + eps)); "none". The shape part is
    normalised over its K x L x 9 values unless norm is "none".
    -> (target [B, L_tok, D] float32, valid [B, L_tok, D] bool), D = K*L*2 (+ K*L*9) in
    (a, c, l, d) order (point row a, point column c in the patch, step l, value d),
    L_tok = T' * (Hg/2) * (Wg/2) in the mask's (t, h, w) order.
    """
    if norm not in NORMS:
        raise ValueError(f"trajectory target norm must be one of {NORMS}, got {norm!r}")
    disp = torch.as_tensor(np.asarray(disp, dtype=np.float32))
    hog_t = torch.as_tensor(np.asarray(hog, dtype=np.float32))
    val = torch.as_tensor(np.asarray(valid, dtype=bool))
    if disp.ndim != 6 or disp.shape[-1] != 2 or val.shape != disp.shape[:-1]:
        raise ValueError(f"disp must be [B, T', Hg, Wg, L, 2] with valid [B, T', Hg, Wg, L]; got "
                         f"{tuple(disp.shape)} and {tuple(val.shape)}")
    if disp.shape[2] % 2 or disp.shape[3] % 2:
        raise ValueError(f"point grid {disp.shape[2]}x{disp.shape[3]} must hold 2 x 2 points per patch")
    per_point = "b t (h a) (w c) l d -> b (t h w) (a c) (l d)"
    pos = rearrange(disp, per_point, a=2, c=2)                                   # [B, N, K, L*2]
    pos_v = rearrange(val[..., None].expand(*val.shape, 2), per_point, a=2, c=2)
    if norm == "per_step":
        pos = _per_step_norm(pos, pos_v, eps)
    elif norm == "patch":
        pos = _patch_norm(pos.flatten(2), pos_v.flatten(2), eps).reshape(pos.shape)
    else:
        pos = torch.where(pos_v, pos, torch.zeros_like(pos))
    parts, valids = [pos.flatten(2)], [pos_v.flatten(2)]
    if with_shape:
        if hog_t.shape[:-1] != val.shape:
            raise ValueError(f"hog must be [B, T', Hg, Wg, L, 9], got {tuple(hog_t.shape)}")
        per_patch = "b t (h a) (w c) l d -> b (t h w) (a c l d)"
        shape = rearrange(hog_t, per_patch, a=2, c=2)
        shape_v = rearrange(val[..., None].expand(*hog_t.shape), per_patch, a=2, c=2)
        shape = _patch_norm(shape, shape_v, eps) if norm != "none" else \
            torch.where(shape_v, shape, torch.zeros_like(shape))
        parts.append(shape)
        valids.append(shape_v)
    return torch.cat(parts, dim=-1), torch.cat(valids, dim=-1)
