"""Video Swin Transformer (Liu et al., CVPR 2022) built from timm blocks, with 2D-ImageNet inflation.

Structure and parameter names mirror timm's 2D `SwinTransformer` (`patch_embed.proj`,
`layers.<i>.downsample`, `layers.<i>.blocks.<j>.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}`,
`norm`) so that a timm ImageNet state dict inflates key by key (`inflate_2d_state_dict`). As in
timm, stage i >= 1 starts with its patch merging (spatial 2x2 only; time is never merged).

Encoder interface (DEMVM is dense, paper 000): `forward(x, mask)` embeds all patches, replaces the
masked ones by a learnable mask token, and returns the four stage maps F1..F4,
`F_i: [B, C_i, T/2, H/2^(i+1), W/2^(i+1)]` with C_i = embed_dim * 2^(i-1); `forward_features(x)`
returns the mean-pooled normalized F4 `[B, 8C]` for evaluation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache, reduce
from operator import mul

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import DropPath, Mlp, trunc_normal_

from motionmvm.models.init import init_trunc_normal
from motionmvm.models.registry import register_sizes


@dataclass
class Swin3DConfig:
    in_chans: int = 3
    patch_size: tuple[int, int, int] = (2, 4, 4)
    embed_dim: int = 96
    depths: tuple[int, ...] = (2, 2, 6, 2)
    num_heads: tuple[int, ...] = (3, 6, 12, 24)
    window_size: tuple[int, int, int] = (8, 7, 7)
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    drop_rate: float = 0.0
    attn_drop_rate: float = 0.0
    drop_path_rate: float = 0.1
    patch_norm: bool = True
    mask_token: bool = True  # learnable token that replaces masked patches (dense MVM)
    # Clip the model is trained/evaluated at (the network itself takes any T, H, W; callers such
    # as the evaluation area read these to know the input size).
    num_frames: int = 16
    img_size: int = 224


def _window_and_shift(size, window, shift):
    """Clamp window/shift to the feature size (Video Swin: no shift along dims smaller than the window)."""
    w, s = list(window), list(shift)
    for i in range(3):
        if size[i] <= window[i]:
            w[i] = size[i]
            s[i] = 0
    return tuple(w), tuple(s)


def window_partition(x: torch.Tensor, ws) -> torch.Tensor:
    """x: [B, T, H, W, C] -> windows [B * nW, wt*wh*ww, C]."""
    B, T, H, W, C = x.shape
    x = x.view(B, T // ws[0], ws[0], H // ws[1], ws[1], W // ws[2], ws[2], C)
    return x.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(-1, ws[0] * ws[1] * ws[2], C)


def window_reverse(windows: torch.Tensor, ws, B: int, T: int, H: int, W: int) -> torch.Tensor:
    """windows [B * nW, wt*wh*ww, C] -> [B, T, H, W, C]."""
    x = windows.view(B, T // ws[0], H // ws[1], W // ws[2], ws[0], ws[1], ws[2], -1)
    return x.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(B, T, H, W, -1)


@lru_cache(maxsize=64)
def relative_position_index_3d(ws) -> torch.Tensor:
    """[N, N] index into the (2wt-1)(2wh-1)(2ww-1) bias table, N = wt*wh*ww (t slowest).
    Built outside inference mode: the cached tensor also serves training passes."""
    with torch.inference_mode(False):
        coords = torch.stack(torch.meshgrid(*[torch.arange(s) for s in ws], indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
        rel = rel + torch.tensor([s - 1 for s in ws])
        return rel[..., 0] * (2 * ws[1] - 1) * (2 * ws[2] - 1) + rel[..., 1] * (2 * ws[2] - 1) + rel[..., 2]


class WindowAttention3D(nn.Module):
    """Multi-head self-attention inside a 3D window with a learned relative position bias.

    Uses `F.scaled_dot_product_attention` (fused kernels) with bias (+ shift mask) as float mask.
    """

    def __init__(self, dim, window_size, num_heads, qkv_bias=True, attn_drop=0.0, proj_drop=0.0):
        super().__init__()
        self.num_heads = num_heads
        self.window_size = tuple(window_size)
        self.attn_drop = attn_drop
        n_rel = reduce(mul, [2 * s - 1 for s in window_size])
        self.relative_position_bias_table = nn.Parameter(torch.zeros(n_rel, num_heads))
        self.register_buffer("relative_position_index",
                             relative_position_index_3d(tuple(window_size)).clone(), persistent=False)
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x: torch.Tensor, ws, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: [B*nW, N, C] with N = prod(ws) (ws <= the configured window); mask: [nW, N, N] or None."""
        Bw, N, C = x.shape
        qkv = self.qkv(x).reshape(Bw, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        index = self.relative_position_index if tuple(ws) == self.window_size \
            else relative_position_index_3d(tuple(ws)).to(x.device)
        if tuple(ws) != self.window_size:
            # Window clamped to a small input: index the centre of the full-size table, which
            # holds the same relative offsets.
            full = [2 * s - 1 for s in self.window_size]
            table = self.relative_position_bias_table.view(*full, -1)
            sl = [slice(f // 2 - (w - 1), f // 2 + w) for f, w in zip(full, ws)]
            table = table[sl[0], sl[1], sl[2]].reshape(-1, self.num_heads)
        else:
            table = self.relative_position_bias_table
        bias = table[index.reshape(-1)].view(N, N, -1).permute(2, 0, 1)  # [heads, N, N]
        attn_mask = bias.unsqueeze(0)
        if mask is not None:
            nW = mask.shape[0]
            attn_mask = (attn_mask.unsqueeze(1) + mask[None, :, None]).expand(Bw // nW, -1, -1, -1, -1)
            attn_mask = attn_mask.reshape(Bw, self.num_heads, N, N)
        x = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask.to(q.dtype),
                                           dropout_p=self.attn_drop if self.training else 0.0)
        return self.proj_drop(self.proj(x.transpose(1, 2).reshape(Bw, N, C)))


class SwinBlock3D(nn.Module):
    """(Shifted) window attention + MLP, pre-norm, with stochastic depth."""

    def __init__(self, dim, num_heads, window_size, shift_size, mlp_ratio, qkv_bias, drop,
                 attn_drop, drop_path):
        super().__init__()
        self.window_size, self.shift_size = tuple(window_size), tuple(shift_size)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention3D(dim, window_size, num_heads, qkv_bias, attn_drop, drop)
        self.drop_path1 = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=nn.GELU, drop=drop)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def _attn(self, x: torch.Tensor) -> torch.Tensor:
        B, T, H, W, C = x.shape
        ws, ss = _window_and_shift((T, H, W), self.window_size, self.shift_size)
        pads = [(w - s % w) % w for s, w in zip((T, H, W), ws)]
        x = F.pad(x, (0, 0, 0, pads[2], 0, pads[1], 0, pads[0]))
        Tp, Hp, Wp = T + pads[0], H + pads[1], W + pads[2]
        mask = None
        if any(ss):
            x = torch.roll(x, shifts=[-s for s in ss], dims=(1, 2, 3))
            mask = _shift_mask((Tp, Hp, Wp), ws, ss, x.device)
        out = self.attn(window_partition(x, ws), ws, mask)
        x = window_reverse(out, ws, B, Tp, Hp, Wp)
        if any(ss):
            x = torch.roll(x, shifts=list(ss), dims=(1, 2, 3))
        return x[:, :T, :H, :W].contiguous()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [B, T, H, W, C] -> same shape."""
        x = x + self.drop_path1(self._attn(self.norm1(x)))
        return x + self.drop_path2(self.mlp(self.norm2(x)))


@lru_cache(maxsize=64)  # one per (feature size, window, shift, device): reused by every block
def _shift_mask(size, ws, ss, device) -> torch.Tensor:
    """[nW, N, N] additive mask (-100) separating regions that the cyclic shift made adjacent.
    Built outside inference mode so the cached tensor is usable by training passes too."""
    with torch.inference_mode(False), torch.no_grad():
        img = torch.zeros(1, *size, 1, device=device)
        cnt = 0
        for t in (slice(-ws[0]), slice(-ws[0], -ss[0]), slice(-ss[0], None)) if ss[0] else (slice(None),):
            for h in (slice(-ws[1]), slice(-ws[1], -ss[1]), slice(-ss[1], None)) if ss[1] else (slice(None),):
                for w in (slice(-ws[2]), slice(-ws[2], -ss[2]), slice(-ss[2], None)) if ss[2] else (slice(None),):
                    img[:, t, h, w, :] = cnt
                    cnt += 1
        win = window_partition(img, ws).squeeze(-1)  # [nW, N]
        diff = win[:, None, :] - win[:, :, None]
        return torch.zeros_like(diff).masked_fill(diff != 0, -100.0)


class PatchMerging3D(nn.Module):
    """Spatial 2x2 merge (same concat order as timm / Swin: (0,0),(1,0),(0,1),(1,1) in (h,w)),
    LayerNorm over 4C, linear 4C -> 2C. x: [B, T, H, W, C] -> [B, T, ceil(H/2), ceil(W/2), 2C]."""

    def __init__(self, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, H, W, C = x.shape
        x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
        H, W = x.shape[2], x.shape[3]
        x = x.reshape(B, T, H // 2, 2, W // 2, 2, C).permute(0, 1, 2, 4, 5, 3, 6).flatten(4)
        return self.reduction(self.norm(x))


class Stage(nn.Module):
    def __init__(self, dim, depth, num_heads, window_size, downsample, cfg: Swin3DConfig, dpr):
        super().__init__()
        self.downsample = PatchMerging3D(dim // 2) if downsample else nn.Identity()
        shift = tuple(w // 2 for w in window_size)
        self.blocks = nn.ModuleList([
            SwinBlock3D(dim, num_heads, window_size, (0, 0, 0) if i % 2 == 0 else shift,
                        cfg.mlp_ratio, cfg.qkv_bias, cfg.drop_rate, cfg.attn_drop_rate, dpr[i])
            for i in range(depth)])

    def forward(self, x):
        x = self.downsample(x)
        for blk in self.blocks:
            x = blk(x)
        return x


class PatchEmbed3D(nn.Module):
    """Conv3d tubelet embedding. x: [B, C, T, H, W] -> [B, T/pt, H/ph, W/pw, D] (channels last)."""

    def __init__(self, patch_size, in_chans, embed_dim, norm: bool):
        super().__init__()
        self.patch_size = tuple(patch_size)
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dim) if norm else nn.Identity()

    def forward(self, x):
        _, _, T, H, W = x.shape
        pads = [(p - s % p) % p for s, p in zip((T, H, W), self.patch_size)]
        x = F.pad(x, (0, pads[2], 0, pads[1], 0, pads[0]))
        return self.norm(self.proj(x).permute(0, 2, 3, 4, 1))


class SwinTransformer3D(nn.Module):
    """Video Swin encoder; see the module docstring for the interface."""

    def __init__(self, cfg: Swin3DConfig):
        super().__init__()
        if len(cfg.depths) != len(cfg.num_heads):
            raise ValueError(f"depths {cfg.depths} and num_heads {cfg.num_heads} differ in length")
        self.cfg = cfg
        self.patch_embed = PatchEmbed3D(cfg.patch_size, cfg.in_chans, cfg.embed_dim, cfg.patch_norm)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, 1, 1, cfg.embed_dim)) if cfg.mask_token else None
        self.pos_drop = nn.Dropout(cfg.drop_rate)
        dpr = torch.linspace(0, cfg.drop_path_rate, sum(cfg.depths)).tolist()
        self.dims = [cfg.embed_dim * 2 ** i for i in range(len(cfg.depths))]
        self.layers = nn.ModuleList()
        for i, (depth, heads) in enumerate(zip(cfg.depths, cfg.num_heads)):
            if self.dims[i] % heads:
                raise ValueError(f"stage {i}: dim {self.dims[i]} not divisible by {heads} heads")
            start = sum(cfg.depths[:i])
            self.layers.append(Stage(self.dims[i], depth, heads, cfg.window_size, i > 0, cfg,
                                     dpr[start:start + depth]))
        self.num_features = self.dims[-1]
        self.embed_dim = self.num_features  # width of forward_features (8C), like ViT's embed_dim
        self.norm = nn.LayerNorm(self.num_features)
        self.apply(init_trunc_normal)
        if self.mask_token is not None:
            trunc_normal_(self.mask_token, std=0.02)

    def patch_grid(self, x_shape) -> tuple[int, int, int]:
        """Token grid (T', H', W') of the patch embedding for an input of shape [B, C, T, H, W]."""
        return tuple(math.ceil(s / p) for s, p in zip(x_shape[2:], self.cfg.patch_size))

    def _expand_mask(self, mask: torch.Tensor, grid) -> torch.Tensor:
        """Mask -> bool `[B, T', H', W']` on the patch grid.

        Accepted: `[B, t, h, w]` where each of t, h, w divides or is a multiple of the patch grid
        (coarser masks are repeated; finer ones, e.g. FGDM's per-frame masks with t = T, mark a
        patch masked if any of its cells is masked: a dense mask token hides the whole tubelet),
        or `[B, L]` with L = T'H'W' (patch grid) or T'(H'/2)(W'/2) (the F2 / token-target grid).
        """
        if mask.dtype != torch.bool:
            raise TypeError(f"mask must be bool (True = masked), got {mask.dtype}")
        if mask.dim() == 2:
            T, H, W = grid
            L = mask.shape[1]
            for g in ((T, H, W), (T, math.ceil(H / 2), math.ceil(W / 2))):
                if L == g[0] * g[1] * g[2]:
                    mask = mask.view(-1, *g)
                    break
            else:
                raise ValueError(f"mask length {L} matches neither the patch grid {grid} "
                                 f"nor the half-resolution grid")
        if mask.dim() != 4:
            raise ValueError(f"mask must be [B, L] or [B, t, h, w], got shape {tuple(mask.shape)}")
        for dim, (g, m) in enumerate(zip(grid, mask.shape[1:]), start=1):
            if g % m == 0:
                mask = mask.repeat_interleave(g // m, dim=dim)
            elif m % g == 0:
                mask = mask.unflatten(dim, (g, m // g)).any(dim=dim + 1)
            else:
                raise ValueError(f"mask grid {tuple(mask.shape[1:])} does not divide or refine "
                                 f"the patch grid {tuple(grid)}")
        return mask

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> list[torch.Tensor]:
        """x: [B, C, T, H, W]; mask: bool (True = masked) [B, L] or [B, t, h, w], or None.

        Returns [F1, F2, F3, F4], F_i: [B, C_i, T/2, H_i, W_i]; F4 is layer-normalized.
        """
        if x.dim() != 5:
            raise ValueError(f"expected x [B, C, T, H, W], got shape {tuple(x.shape)}")
        tokens = self.patch_embed(x)  # [B, T', H', W', D]
        if mask is not None:
            if self.mask_token is None:
                raise ValueError("this encoder was built with mask_token=False and cannot take a mask")
            m = self._expand_mask(mask.to(x.device), tokens.shape[1:4]).unsqueeze(-1)
            tokens = torch.where(m, self.mask_token.to(tokens.dtype), tokens)
        h = self.pos_drop(tokens)
        feats = []
        for i, layer in enumerate(self.layers):
            h = layer(h)
            out = self.norm(h) if i == len(self.layers) - 1 else h
            feats.append(out.permute(0, 4, 1, 2, 3).contiguous())
        return feats

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """x: [B, C, T, H, W] -> mean-pooled F4 [B, num_features]."""
        return self.forward(x)[-1].mean(dim=(2, 3, 4))


# ---------------------------------------------------------------------------------------------
# 2D -> 3D inflation of a timm ImageNet Swin state dict (DEMVM "2D initialization").


def _inflate_bias_table(table2d: torch.Tensor, window3d) -> torch.Tensor:
    """[(2wh-1)(2ww-1), heads] -> [(2wt-1)(2wh-1)(2ww-1), heads]: the 2D table is resized
    (bicubic) to the 3D window's spatial extent if needed and repeated along relative time."""
    heads = table2d.shape[1]
    s = int(round(math.sqrt(table2d.shape[0])))
    th, tw = 2 * window3d[1] - 1, 2 * window3d[2] - 1
    grid = table2d.T.reshape(1, heads, s, s)
    if (s, s) != (th, tw):
        grid = F.interpolate(grid.float(), size=(th, tw), mode="bicubic", align_corners=False)
    grid = grid.reshape(heads, th * tw).T  # [th*tw, heads]
    return grid.repeat(2 * window3d[0] - 1, 1)


def inflate_2d_state_dict(model: SwinTransformer3D, state2d: dict, time_init: str = "average") -> dict:
    """Map a timm 2D Swin state dict onto `model`'s keys.

    time_init: "average" repeats the 2D patch kernel over the temporal kernel and divides by its
    length (I3D inflation: a static clip gives the 2D response); "center" puts it in the middle
    tap and zeros elsewhere. Relative position bias tables are repeated over relative time.
    Keys absent from the 3D model (e.g. the ImageNet classifier `head.*`, buffers such as
    `relative_position_index` / `attn_mask`) are dropped.
    """
    if time_init not in ("average", "center"):
        raise ValueError(f"time_init must be 'average' or 'center', got {time_init!r}")
    target = model.state_dict()
    out = {}
    for key, value in state2d.items():
        if key not in target:
            continue
        want = target[key].shape
        if key == "patch_embed.proj.weight" and value.dim() == 4:
            kt = want[2]
            if time_init == "average":
                value = value.unsqueeze(2).repeat(1, 1, kt, 1, 1) / kt
            else:
                w = torch.zeros(*value.shape[:2], kt, *value.shape[2:], dtype=value.dtype)
                w[:, :, kt // 2] = value
                value = w
        elif key.endswith("relative_position_bias_table"):
            layer = model.get_submodule(key.rsplit(".", 1)[0])
            value = _inflate_bias_table(value, layer.window_size)
        if value.shape != want:
            raise ValueError(f"cannot inflate {key}: 2D shape {tuple(value.shape)} -> "
                             f"3D model expects {tuple(want)} (different Swin size?)")
        out[key] = value.to(target[key].dtype)
    return out


def load_inflated(model: SwinTransformer3D, source, time_init: str = "average") -> dict:
    """Inflate a 2D timm Swin state dict into `model`. `source`: a path saved with torch.save (a
    local file; nothing is downloaded) or the state dict itself. Returns {"missing_keys",
    "unexpected_keys"}: 3D keys left at their initialization and 2D keys with no 3D counterpart."""
    state2d = source if isinstance(source, dict) else torch.load(source, map_location="cpu",
                                                                   weights_only=True)
    if isinstance(state2d, dict) and "state_dict" in state2d:
        state2d = state2d["state_dict"]
    if isinstance(state2d, dict) and "model" in state2d and isinstance(state2d["model"], dict):
        state2d = state2d["model"]
    inflated = inflate_2d_state_dict(model, state2d, time_init)
    if not inflated:
        what = "the state dict" if isinstance(source, dict) else source
        raise ValueError(f"{what}: no key matches the Video Swin model; is it a timm Swin state dict?")
    result = model.load_state_dict(inflated, strict=False)
    unexpected = sorted(set(state2d) - set(inflated))
    return {"missing_keys": sorted(result.missing_keys), "unexpected_keys": unexpected}


# ---------------------------------------------------------------------------------------------
# Registered sizes. Window (8,7,7) and drop path follow Video Swin's Kinetics configs.

_SIZES = {
    "swin3d_tiny": dict(embed_dim=24, depths=(1, 1, 2, 1), num_heads=(1, 2, 2, 4),
                        window_size=(2, 4, 4), drop_path_rate=0.0),
    "swin3d_t": dict(embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24), drop_path_rate=0.1),
    "swin3d_b": dict(embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32), drop_path_rate=0.3),
}


register_sizes(SwinTransformer3D, Swin3DConfig, _SIZES)
