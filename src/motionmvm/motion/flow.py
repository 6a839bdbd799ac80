"""Dense optical flow between consecutive frames: OpenCV DIS (default), Farneback, TV-L1
(opencv-contrib only) and RAFT-small (torchvision, weights from a local file).

All functions return forward flow `[F-1, H, W, 2]` float32, (dx, dy) in pixels: the content at
pixel (x, y) of frame t is found at (x + dx, y + dy) in frame t+1 (x right, y down).
`compute_backward` runs the same algorithm on the reversed pairs: v_{t+1 -> t} (MGMAE warps the
frames after its base frame with it; inverting forward flow is only exact for constant motion).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

ALGORITHMS = ("dis", "farneback", "tvl1", "raft_small")


class FlowUnavailable(RuntimeError):
    """The requested flow algorithm cannot run in this environment (the message says why)."""


def _gray(frames: np.ndarray) -> list[np.ndarray]:
    import cv2

    return [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]


def _pairwise(frames: np.ndarray, calc) -> np.ndarray:
    gray = _gray(frames)
    h, w = gray[0].shape
    out = np.empty((len(gray) - 1, h, w, 2), np.float32)
    for t in range(len(gray) - 1):
        out[t] = calc(gray[t], gray[t + 1])
    return out


def dis(frames: np.ndarray, preset: str = "medium") -> np.ndarray:
    """OpenCV DIS optical flow (Kroeger et al. 2016); preset ultrafast | fast | medium."""
    import cv2

    presets = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
               "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
               "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}
    if preset not in presets:
        raise ValueError(f"DIS preset {preset!r} unknown; allowed: {sorted(presets)}")
    algo = cv2.DISOpticalFlow_create(presets[preset])
    return _pairwise(frames, lambda a, b: algo.calc(a, b, None))


def farneback(frames: np.ndarray, pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5,
              poly_sigma=1.2) -> np.ndarray:
    """OpenCV Farneback polynomial-expansion flow (the OpenCV documentation's example values)."""
    import cv2

    return _pairwise(frames, lambda a, b: cv2.calcOpticalFlowFarneback(
        a, b, None, pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, 0))


def tvl1(frames: np.ndarray, tau=0.25, lambda_=0.15, theta=0.3, nscales=5, warps=5,
         epsilon=0.01) -> np.ndarray:
    """TV-L1 (Zach et al. 2007) from opencv-contrib's `cv2.optflow`.

    opencv-contrib-python-headless cannot be installed beside opencv-python-headless (both ship
    the `cv2` package and overwrite each other), so this build may lack it: then a clear error.
    """
    import cv2

    if not hasattr(cv2, "optflow") or not hasattr(cv2.optflow, "DualTVL1OpticalFlow_create"):
        raise FlowUnavailable(
            f"TV-L1 flow is not available in this OpenCV build ({cv2.__version__}, no cv2.optflow): "
            "it needs opencv-contrib-python(-headless) instead of opencv-python-headless; "
            "use motion.flow.algorithm: dis, farneback or raft_small")
    algo = cv2.optflow.DualTVL1OpticalFlow_create(tau=tau, lambda_=lambda_, theta=theta,
                                                  nscales=nscales, warps=warps, epsilon=epsilon)
    return _pairwise(frames, lambda a, b: algo.calc(a, b, None))


def load_raft_small(weights: str | Path | None, device: str = "cpu"):
    """torchvision RAFT-small with a state dict from a local file (never downloaded)."""
    import torch
    from torchvision.models.optical_flow import raft_small

    if not weights:
        raise FlowUnavailable("raft_small needs motion.flow.raft.weights: a local path to a "
                              "torchvision raft_small state dict (nothing is downloaded)")
    path = Path(weights)
    if not path.is_file():
        raise FlowUnavailable(f"RAFT-small weights file not found: {path}")
    model = raft_small(weights=None, progress=False)
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval().to(device)


def resolve_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def raft(frames: np.ndarray, weights: str | Path | None, iterations: int = 12,
         device: str = "auto", batch: int = 1, model=None) -> np.ndarray:
    """RAFT-small (Teed & Deng 2020) flow; input padded (replicate) to a multiple of 8 and >= 128 px, the
    prediction of the last refinement iteration cropped back. frames: [F, H, W, 3] uint8."""
    import torch
    import torch.nn.functional as F

    device = resolve_device(device)
    model = model or load_raft_small(weights, device)
    t, h, w, _ = frames.shape
    # RAFT needs sides divisible by 8 and at least 128 px (its 4-level correlation pyramid).
    ph, pw = max(128, h + (-h) % 8) - h, max(128, w + (-w) % 8) - w
    out = np.empty((t - 1, h, w, 2), np.float32)
    with torch.inference_mode():
        x = torch.from_numpy(frames).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        for s in range(0, t - 1, batch):
            e = min(s + batch, t - 1)
            a, b = x[s:e].to(device), x[s + 1:e + 1].to(device)
            flow = model(a, b, num_flow_updates=iterations)[-1]
            out[s:e] = flow[:, :, :h, :w].permute(0, 2, 3, 1).cpu().numpy()
    return out


def check_available(cfg: dict) -> None:
    """Raise FlowUnavailable before any work when `motion.flow` names an algorithm that cannot run."""
    algo = cfg["algorithm"]
    if algo == "tvl1":
        tvl1(np.zeros((2, 8, 8, 3), np.uint8))  # raises with the reason when cv2.optflow is absent
    elif algo == "raft_small":
        weights = cfg.get("raft", {}).get("weights")
        if not weights:
            load_raft_small(weights)  # raises: no path given
        if not Path(weights).is_file():
            raise FlowUnavailable(f"RAFT-small weights file not found: {weights}")


def compute(frames: np.ndarray, cfg: dict) -> np.ndarray:
    """Forward flow [F-1, H, W, 2] with the algorithm and settings of params `motion.flow`."""
    algo = cfg["algorithm"]
    if algo == "dis":
        return dis(frames, **cfg.get("dis", {}))
    if algo == "farneback":
        return farneback(frames, **cfg.get("farneback", {}))
    if algo == "tvl1":
        opts = dict(cfg.get("tvl1", {}))
        if "lambda" in opts:
            opts["lambda_"] = opts.pop("lambda")
        return tvl1(frames, **opts)
    if algo == "raft_small":
        r = cfg.get("raft", {})
        return raft(frames, r.get("weights"), r.get("iterations", 12), r.get("device", "auto"),
                    r.get("batch", 1))
    raise ValueError(f"motion.flow.algorithm {algo!r} unknown; allowed: {list(ALGORITHMS)}")


def compute_backward(frames: np.ndarray, cfg: dict) -> np.ndarray:
    """Backward flow [F-1, H, W, 2]: entry t = v_{t+1 -> t}, the flow from frame t+1 to frame t,
    estimated directly (the algorithm on the time-reversed video), not by inverting forward flow."""
    rev = np.ascontiguousarray(frames[::-1])
    return np.ascontiguousarray(compute(rev, cfg)[::-1])


def quantize(flow: np.ndarray, scale: int) -> np.ndarray:
    """int16 storage, value = int16 / scale (scale 64: 1/64 px steps, range +/-512 px)."""
    lim = np.iinfo(np.int16).max
    return np.clip(np.rint(flow * scale), -lim, lim).astype(np.int16)
