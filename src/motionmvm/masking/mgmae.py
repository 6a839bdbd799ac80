"""Motion-guided masking of MGMAE (paper 002): a Gaussian-mixture visibility map on the base frame,
backward-warped through the clip with dense flow, pooled to tokens, top-k visible per step.

Runs in torch: batched, and on the GPU when the flow is a CUDA tensor (`mgmae_torch`); the
registered `mgmae` returns numpy like every strategy.

Against the official code (MCG-NJU/MGMAE, engine_for_mgmae.py; golden tests in
tests/test_fidelity_golden.py, choices in docs/fidelity.md):
- Base map: the paper's sum of N(c_i, sigma^2) by default; `gaussian="official"` is the
  official max of exp(-d^2 / sigma^2).
- Gaussian centres: the paper's floor((1 - rho) HW) (19 at 14 x 14, rho 0.9) by default; the
  official generator's HW - int(rho HW) = 20 is `centres="official"`. Top-k keeps floor((1 - rho) HW) per step
  (19; the official int(HW (1 - rho)) gives the same).
- Frames before the base frame: M_i = phi_B(M_{i+1}, v_{i -> i+1}) (paper eq. 2). The official
  loop compares `warp_type` with 'backwarp' (never equal to its 'backward'), so it does not swap
  the frame pair and warps with v_{i+1 -> i}, the wrong direction; not copied.
- Pixel units: our warp moves by exactly v pixels; the official BackWarp scales v by 2 / W with
  align_corners=True grids, i.e. by v (W - 1) / W pixels (0.4 % short at 224).
"""
from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

from motionmvm.masking._common import check_batch, check_generator, check_grid, check_ratio
from motionmvm.masking.registry import register

HOLE_FILLS = ("tube", "previous", "invisible", "visible", "random")
HOLE_EPS = 1e-8
CENTRES = ("official", "paper")


def n_centres(tokens: int, rho: float, rule: str = "paper") -> int:
    """Number of Gaussian centres on the base frame for `tokens` = H'W' tokens.

    "official": tokens - int(rho * tokens) (dataset/masking_generator.py; 20 at 196, rho 0.9);
    "paper": floor((1 - rho) * tokens) (Sec. 3.2; 19). The 1e-9 guards 0.7 * 10 = 6.999..."""
    if rule not in CENTRES:
        raise ValueError(f"masking 'mgmae': centres must be one of {CENTRES}, got {rule!r}")
    if rule == "official":
        return tokens - int(np.floor(rho * tokens + 1e-9))
    return int(np.floor((1.0 - rho) * tokens + 1e-9))


GAUSSIANS = ("paper", "official")


def gaussian_mixture_map(centres: torch.Tensor, size: tuple[int, int], sigma: float,
                         form: str = "paper") -> torch.Tensor:
    """Initial visibility map of the base frame, divided by its max. -> [B, H, W] in [0, 1].

    centres: [B, N, 2] pixel (y, x) of the chosen tokens' midpoints.
    form "paper" (Sec. 3.2): the mixture sum_i N(c_i, sigma^2), i.e. the sum of
    exp(-d^2 / (2 sigma^2)); "official" (MixGaussianInitialMaskingGenerator, method 'max'):
    the pixel-wise max of exp(-d^2 / sigma^2) (no 1/2: a narrower bump, sigma / sqrt(2)).
    """
    if form not in GAUSSIANS:
        raise ValueError(f"masking 'mgmae': gaussian must be one of {GAUSSIANS}, got {form!r}")
    h, w = size
    k = 0.5 if form == "paper" else 1.0
    ys = torch.arange(h, dtype=torch.float32, device=centres.device) + 0.5
    xs = torch.arange(w, dtype=torch.float32, device=centres.device) + 0.5
    gy = torch.exp(-k * ((ys[None, None] - centres[..., 0:1]) / sigma) ** 2)     # [B, N, H]
    gx = torch.exp(-k * ((xs[None, None] - centres[..., 1:2]) / sigma) ** 2)     # [B, N, W]
    # separable Gaussians: sum (or max) over centres of the outer products
    if form == "paper":
        m = torch.einsum("bnh,bnw->bhw", gy, gx)
    else:
        m = (gy[..., :, None] * gx[..., None, :]).amax(dim=1)
    return m / m.amax(dim=(1, 2), keepdim=True).clamp_min(1e-12)


@functools.lru_cache(maxsize=8)
def _identity_grid(h: int, w: int, dtype, device) -> torch.Tensor:
    ys = torch.linspace(-1.0, 1.0, h, dtype=dtype, device=device) if h > 1 else torch.zeros(1)
    xs = torch.linspace(-1.0, 1.0, w, dtype=dtype, device=device) if w > 1 else torch.zeros(1)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((gx, gy), dim=-1)                           # [H, W, 2] (x, y)


def backward_warp(src: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """phi_B(src, v): out(x) = src(x + v(x)), bilinear with zeros outside the frame; v is the
    flow from the *output* frame to the source frame (paper eq 2: M_i = phi_B(M_{i+1},
    v_{i->i+1})).

    src: [B, H, W] or [B, C, H, W]; flow: [B, H, W, 2] (dx, dy) in pixels -> same shape as src.
    """
    h, w = flow.shape[1:3]
    # normalised sampling grid = identity grid + flow scaled to [-1, 1] units (align_corners)
    scale = torch.tensor([2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)], dtype=flow.dtype,
                         device=flow.device)
    grid = torch.addcmul(_identity_grid(h, w, flow.dtype, flow.device), flow, scale)
    x = src[:, None] if src.ndim == 3 else src
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return out[:, 0] if src.ndim == 3 else out


def invert_forward_flow(fwd: torch.Tensor) -> torch.Tensor:
    """Approximate v_{i -> i-1} from v_{i-1 -> i}: content at x in frame i came from
    y = x + v_{i->i-1}(x) with y + f(y) = x; one fixed-point step from y ~ x - f(x) gives
    v_{i->i-1}(x) ~ -f(x - f(x)). fwd: [B, H, W, 2] -> [B, H, W, 2].
    Only for callers that give no backward flow (the flow cache stores a real one, computed on
    the reversed frame pairs, which the pipeline always passes); exact for locally constant
    motion."""
    sampled = backward_warp(fwd.permute(0, 3, 1, 2), -fwd)       # [B, 2, H, W]
    return -sampled.permute(0, 2, 3, 1)


def _as_flow_tensor(flow, batch: int, what: str, device=None) -> torch.Tensor:
    t = flow if isinstance(flow, torch.Tensor) else torch.tensor(np.asarray(flow))  # memoised arrays are read-only
    t = t.to(device=device or t.device, dtype=torch.float32)
    if t.ndim == 4:
        t = t.unsqueeze(0).expand(batch, *t.shape)
    if t.ndim != 5 or t.shape[-1] != 2 or t.shape[0] != batch:
        raise ValueError(f"masking 'mgmae': {what} must be [T-1, H, W, 2] or [B, T-1, H, W, 2] "
                         f"with B={batch}, got shape {tuple(t.shape)}")
    return t


def warp_maps(base: torch.Tensor, flow: torch.Tensor, flow_backward: torch.Tensor, base_frame: int,
              hole_fill: str = "tube", random_fill: torch.Tensor | None = None,
              pool: tuple[int, int] = (1, 1)) -> torch.Tensor:
    """The masking volume of the clip from the base map (paper eq. 2), each frame average-pooled
    by `pool` as soon as it exists (only the maps next to the one being built stay at full size).

    base: [B, H, W] (values > 0: a warped 0 marks a hole); flow: [B, T-1, H, W, 2] with
    flow[:, i] = v_{i -> i+1}; flow_backward: same shape, flow_backward[:, i] = v_{i+1 -> i}.
    M_i = phi_B(M_{i+1}, v_{i -> i+1}) for i < b and M_i = phi_B(M_{i-1}, v_{i -> i-1}) for i > b;
    holes take `hole_fill` (see `mgmae_torch`). -> [B, T, H / pool, W / pool].
    """
    b, n_frames = base.shape[0], flow.shape[1] + 1
    qy, qx = pool
    pooled = torch.empty(b, n_frames, base.shape[1] // qy, base.shape[2] // qx, dtype=base.dtype,
                         device=base.device)

    def keep(i, m):
        pooled[:, i] = F.avg_pool2d(m[:, None], (qy, qx))[:, 0] if (qy, qx) != (1, 1) else m
        return m

    def fill(warped, prev, i):
        hole = warped == 0
        if hole_fill == "tube":
            value = base
        elif hole_fill == "previous":
            value = prev
        elif hole_fill == "random":
            value = random_fill[i]
        else:
            value = torch.full_like(base, 1.0 if hole_fill == "visible" else HOLE_EPS)
        return torch.where(hole, value, warped)

    prev = keep(base_frame, base)
    for i in range(base_frame - 1, -1, -1):           # earlier frames: warp M_{i+1} by v_{i->i+1}
        prev = keep(i, fill(backward_warp(prev, flow[:, i]), prev, i))
    prev = base
    for i in range(base_frame + 1, n_frames):         # later frames: warp M_{i-1} by v_{i->i-1}
        prev = keep(i, fill(backward_warp(prev, flow_backward[:, i - 1]), prev, i))
    return pooled


def mgmae_volume(grid, ratio, *, generator: np.random.Generator, batch: int = 1, flow,
                 flow_backward=None, hole_fill: str = "tube", tubelet: int = 2,
                 base_frame: int | None = None, sigma: float | None = None,
                 centres: str = "paper", gaussian: str = "paper") -> torch.Tensor:
    """Token-level visibility volume M' [B, T', H', W'] (float, on the flow's device): the warped
    Gaussian-mixture maps average-pooled over tubelet x q x q. Arguments as in `mgmae_torch`."""
    name = "mgmae"
    (t, h, w), rho = check_grid(grid, name), check_ratio(ratio, name, "rho")
    g, b = check_generator(generator, name), check_batch(batch, name)
    if hole_fill not in HOLE_FILLS:
        raise ValueError(f"masking 'mgmae': hole_fill must be one of {HOLE_FILLS}, got {hole_fill!r}")
    n_c = n_centres(h * w, rho, centres)
    fwd = _as_flow_tensor(flow, b, "flow")
    dev = fwd.device
    n_frames = t * tubelet
    if fwd.shape[1] != n_frames - 1:
        raise ValueError(f"masking 'mgmae': flow has {fwd.shape[1]} steps; a clip of "
                         f"T={n_frames} frames (T'={t} x tubelet {tubelet}) needs T-1={n_frames - 1}")
    ph, pw = fwd.shape[2:4]
    if ph % h or pw % w:
        raise ValueError(f"masking 'mgmae': flow size {ph}x{pw} is not a multiple of the token "
                         f"grid {h}x{w}")
    bwd = None if flow_backward is None else _as_flow_tensor(flow_backward, b, "flow_backward", dev)
    if bwd is not None and bwd.shape != fwd.shape:
        raise ValueError(f"masking 'mgmae': flow_backward shape {tuple(bwd.shape)} != flow shape "
                         f"{tuple(fwd.shape)}")
    b_idx = n_frames // 2 if base_frame is None else int(base_frame)
    if not 0 <= b_idx < n_frames:
        raise ValueError(f"masking 'mgmae': base_frame {b_idx} outside 0..{n_frames - 1}")
    if bwd is None:                     # only the steps after the base frame read it
        bwd = torch.zeros_like(fwd)
        for i in range(b_idx, n_frames - 1):
            bwd[:, i] = invert_forward_flow(fwd[:, i])
    qy, qx = ph // h, pw // w

    # Gaussian mixture on the base frame around n_c random token midpoints.
    pick = np.argsort(g.random((b, h * w)), axis=1)[:, :n_c]
    xy = np.stack(((pick // w + 0.5) * qy, (pick % w + 0.5) * qx), axis=-1)
    base = gaussian_mixture_map(torch.as_tensor(xy, dtype=torch.float32, device=dev),
                                (ph, pw), float(sigma or qy), gaussian) if n_c else torch.zeros(b, ph, pw, device=dev)
    # Holes as in the paper (Sec. 4.2): the map is kept >= 1e-8, so a warped value of exactly 0
    # means all four bilinear neighbours lay outside the frame (sample point out of bounds).
    base = base.clamp_min(HOLE_EPS)
    random_fill = None
    if hole_fill == "random":
        random_fill = torch.as_tensor(g.random((n_frames, b, ph, pw)) >= rho,
                                      device=dev).float().clamp_min(HOLE_EPS)

    # pooling each frame over q x q, then pairs of frames, is avg_pool3d over tubelet x q x q
    pooled = warp_maps(base, fwd, bwd, b_idx, hole_fill, random_fill, pool=(qy, qx))
    return pooled.reshape(b, t, tubelet, h, w).mean(dim=2)            # [B, T', H', W']


def mgmae_torch(grid, ratio, *, generator: np.random.Generator, batch: int = 1, flow,
                flow_backward=None, hole_fill: str = "tube", topk: str = "frame",
                tubelet: int = 2, base_frame: int | None = None,
                sigma: float | None = None, centres: str = "paper",
                gaussian: str = "paper") -> torch.Tensor:
    """MGMAE motion-guided mask as a torch bool tensor [B, T', H', W'] on the flow's device.

    flow: forward dense flow between consecutive clip frames, [T-1, h, w, 2] or
    [B, T-1, h, w, 2] (numpy or torch, CUDA allowed): flow[i] = v_{i -> i+1}, (dx, dy) in pixels of
    the h x w map, T = T' * tubelet clip frames. The mask volume lives at the flow's resolution,
    which must be a multiple of the token grid (h = H' q, w = W' q'); at full resolution
    (q = patch size) it is the paper's pixel-level volume, at lower resolution a faster
    approximation. sigma: Gaussian width in pixels of the flow map; default q (the patch size at
    that resolution, the paper's sigma = cube size 16).
    flow_backward: v_{i+1 -> i} (same shape; the flow cache's `flow_backward`, DIS on the reversed
    pairs); without it, `invert_forward_flow` estimates it from `flow`.
    ratio = rho; N_v = floor((1 - rho) H'W') visible tokens per step ("frame" top-k) or
    N_v T' per clip ("clip" top-k). centres: number of Gaussian centres, "official"
    (H'W' - int(rho H'W')) or "paper" (floor((1 - rho) H'W')), see `n_centres`. gaussian: the
    base map's form, "paper" (sum of N(c_i, sigma^2)) or "official" (max of exp(-d^2/sigma^2)),
    see `gaussian_mixture_map`.
    base_frame: default the middle frame T // 2.
    hole_fill: what fills pixels whose warp sample left the frame: "tube" (the base map at the
    same position; default, best in Tab. 1e), "previous" (the map being warped), "invisible"
    (0), "visible" (1), "random" (1 with probability 1 - rho).
    Warping (eq 2): M_i = phi_B(M_{i+1}, v_{i->i+1}) for i < b, M_i = phi_B(M_{i-1}, v_{i->i-1})
    for i > b, phi_B(M, v)(x) = M(x + v(x)).
    """
    if topk not in ("frame", "clip"):
        raise ValueError(f"masking 'mgmae': topk must be 'frame' or 'clip', got {topk!r}")
    tokens = mgmae_volume(grid, ratio, generator=generator, batch=batch, flow=flow,
                          flow_backward=flow_backward, hole_fill=hole_fill, tubelet=tubelet,
                          base_frame=base_frame, sigma=sigma, centres=centres, gaussian=gaussian)
    b, t, h, w = tokens.shape
    g = generator
    dev = tokens.device
    n_vis = int(np.floor((1.0 - float(ratio)) * h * w + 1e-9))
    # small noise breaks ties (regions the mixture never reaches; with 20 centres and 19 visible
    # tokens, the centres' equal peaks) at random: one draw per position for the whole clip, so
    # equal maps give equal picks at every step (zero flow stays tube masking). 1e-5 is above the
    # float error of repeated warps (~1e-6) and far below real differences of the map.
    noise = torch.as_tensor(g.random((b, 1, h, w)), dtype=tokens.dtype, device=dev) * 1e-5
    scores = tokens + noise
    visible = torch.zeros(b, t * h * w, dtype=torch.bool, device=dev)
    if topk == "frame":
        idx = scores.reshape(b, t, h * w).topk(n_vis, dim=-1).indices
        idx = idx + (torch.arange(t, device=dev) * h * w)[None, :, None]
        visible.scatter_(1, idx.reshape(b, -1), True)
    else:
        idx = scores.reshape(b, -1).topk(n_vis * t, dim=-1).indices
        visible.scatter_(1, idx, True)
    return ~visible.reshape(b, t, h, w)


@register("mgmae")
def mgmae_mask(grid, ratio, *, generator, batch=1, flow=None, flow_backward=None,
               hole_fill: str = "tube", topk: str = "frame", tubelet: int = 2,
               base_frame: int | None = None, sigma: float | None = None,
               centres: str = "paper", gaussian: str = "paper"):
    """MGMAE motion-guided masking (paper 002); see `mgmae_torch` for every argument.

    flow: dense forward flow between consecutive clip frames [T-1, h, w, 2] (from the flow cache:
    the clip's frames; for a strided clip the flow between sampled frames must be composed first,
    see `motionmvm.masking.align.compose_flow`). -> bool np [B, T', H', W']."""
    if flow is None:
        raise ValueError("masking 'mgmae' needs flow= dense forward flow [T-1, H, W, 2] of the clip")
    return mgmae_torch(grid, ratio, generator=generator, batch=batch, flow=flow,
                       flow_backward=flow_backward, hole_fill=hole_fill, topk=topk,
                       tubelet=tubelet, base_frame=base_frame, sigma=sigma,
                       centres=centres, gaussian=gaussian).cpu().numpy()
