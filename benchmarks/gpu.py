"""GPU benchmark (issue 13 item 5): every figure printed with the GPU's name, machine and date.

Parts (each prints its own lines, prefixed with its name):
  steps   ViT-B videomae pretraining steps on 16x224x224 clips (90% tube mask) from device memory,
          bf16 autocast, eager and torch.compile: clips/s, FLOPs per clip (FlopCounterMode, forward
          + backward) and MFU against the GPU's bf16 dense peak (motionmvm.train.accounting).
  loader  the same model through the real pretraining loop (`motionmvm.train.loop.pretrain`) fed
          by the project's loader with N workers from 320p H.264 videos written here: clips/s,
          fraction of the time waiting for data, MFU (the loop's own metrics.json accounting).
  flow    RAFT-small (torchvision, random weights: speed does not depend on them) optical flow on
          the GPU vs codec motion vectors (motionmvm.motion.mv) on the CPU, frames per second.
  mgmae   MGMAE motion-guided masks (motionmvm.masking.mgmae.mgmae_torch) from flow on the GPU.

    python benchmarks/gpu.py [--dry] [--parts steps loader flow mgmae] [--workers 16]

--dry runs every part on the CPU with tiny sizes in seconds (CI: tests/test_gpu_benchmark.py).
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import torch

from _common import machine, write_h264
from motionmvm import config, methods
from motionmvm.train import accounting

PARTS = ("steps", "loader", "flow", "mgmae")


class Sizes:
    """Paper geometry on a GPU; tiny sizes (the smoke profile's model) in the dry mode."""

    def __init__(self, dry: bool, workers: int):
        self.dry = dry
        self.profile = "smoke" if dry else "paper"
        self.frames, self.size = (4, 32) if dry else (16, 224)
        self.batch = 2 if dry else 64           # synthetic steps
        self.steps, self.warmup = (2, 1) if dry else (20, 3)
        self.loader_batch = 2 if dry else 32    # per step of the real loop (VideoMAE: 32 per GPU)
        self.loader_steps = 3 if dry else 60
        self.workers = 2 if dry else workers
        self.videos = 4 if dry else 48          # distinct videos written (listed repeatedly)
        self.video_hw = (48, 64) if dry else (320, 427)   # short side 320, 4:3
        self.video_frames = 12 if dry else 72   # >= 61 = (16 - 1) x 4 + 1 at stride 4
        self.stride = 1 if dry else 4
        self.raft_batch = 2 if dry else 16
        self.mask_batch = 2 if dry else 64


def _cfg(s: Sizes) -> dict:
    cfg = config.load("params.yaml", s.profile)
    cfg["pretrain"].update(frames=s.frames, size=s.size, stride=s.stride)
    return cfg


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def _peak(dev: torch.device) -> tuple[str, float | None]:
    name = accounting.device_name(dev)
    return name, accounting.peak_flops(name) if dev.type == "cuda" else None


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


# ---------------------------------------------------------------------------------------- steps
def part_steps(s: Sizes, dev: torch.device) -> None:
    from motionmvm.masking import get as get_mask
    from motionmvm.train.loop import mask_grid
    from motionmvm.train.optim import build_optimizer

    cfg = _cfg(s)
    spec = methods.get("videomae")
    dtype = accounting.autocast_dtype("auto", dev)
    name, peak = _peak(dev)
    # dry: eager only (torch.compile agreeing with eager is tests/test_pretrain_step.py's job)
    for compiled in (False,) if s.dry else (False, True):
        torch.manual_seed(0)
        model = spec.build(cfg).to(dev).train()
        opt = build_optimizer(model, spec.optim, s.batch)
        grid = mask_grid(model)
        mask = get_mask("tube")(grid, spec.mask_ratio, generator=np.random.default_rng(0), batch=s.batch)
        batch = {"video": torch.randn(s.batch, 3, s.frames, s.size, s.size, device=dev),
                 "mask": torch.from_numpy(mask.reshape(s.batch, -1)).to(dev)}
        flops = accounting.count_flops(model, batch, dtype)
        net = torch.compile(model) if compiled else model

        def step():
            opt.zero_grad(set_to_none=True)
            with accounting.autocast(dev, dtype):
                loss = net(batch)["loss"]
            loss.backward()
            opt.step()

        t = time.perf_counter()
        for _ in range(s.warmup):
            step()
        _sync(dev)
        warm = time.perf_counter() - t
        t = time.perf_counter()
        for _ in range(s.steps):
            step()
        _sync(dev)
        dt = (time.perf_counter() - t) / s.steps
        mfu = accounting.mfu(flops, 1, dt, peak)
        print(f"steps  [{name}] {cfg['model']['vit']} videomae {s.frames}x{s.size}x{s.size}, "
              f"mask {spec.mask_ratio:.0%}, batch {s.batch}, {str(dtype or 'fp32').replace('torch.', '')}, "
              f"{'compiled' if compiled else 'eager'}: {s.batch / dt:.1f} clips/s, {dt * 1e3:.1f} ms/step, "
              f"{flops / s.batch / 1e9:.4g} GFLOP/clip (fwd+bwd), {flops / dt / 1e12:.4g} TFLOP/s, "
              f"MFU {_pct(mfu)} of bf16 dense peak"
              + ("" if mfu is None else f" (target >= 40%: {'met' if mfu >= 0.40 else 'NOT met'})")
              + f"; warm-up {s.warmup} steps {warm:.1f} s"
              + (f", peak memory {torch.cuda.max_memory_allocated(dev) / 2**30:.1f} GiB" if dev.type == "cuda" else ""),
              flush=True)
        del model, opt, net
        if dev.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(dev)


# --------------------------------------------------------------------------------------- videos
def _write_one(args) -> str:
    path, seed, frames, h, w = args
    rng = np.random.default_rng(seed)
    # a smooth texture panning a few pixels per frame: natural-looking motion for the codec
    tex = rng.integers(0, 256, (h // 8 + 8, w // 8 + 8, 3)).astype(np.uint8).repeat(8, 0).repeat(8, 1)
    dy, dx = rng.integers(1, 4, 2)
    clip = np.stack([np.roll(tex, (t * dy, t * dx), (0, 1))[:h, :w] for t in range(frames)])
    write_h264(Path(path), clip)
    return path


def write_videos(s: Sizes, root: Path) -> list[Path]:
    jobs = [(str(root / f"v{i:03d}.mp4"), i, s.video_frames, *s.video_hw) for i in range(s.videos)]
    with Pool(min(len(jobs), os.cpu_count() or 1)) as pool:
        return [Path(p) for p in pool.map(_write_one, jobs)]


# -------------------------------------------------------------------------------------- loader
def part_loader(s: Sizes, dev: torch.device, tmp: Path) -> None:
    from motionmvm.data import manifest
    from motionmvm.train.loop import pretrain

    ddir = tmp / s.profile / "bench"
    t = time.perf_counter()
    paths = write_videos(s, ddir / "videos")
    n = s.loader_batch * s.loader_steps   # one epoch of exactly loader_steps steps
    h, w = s.video_hw
    entries = [{"clip_id": f"c{i:05d}", "path": str(paths[i % len(paths)].relative_to(ddir)), "label": 0,
                "label_name": "a", "split": "train", "domain": "A", "frames": s.video_frames, "fps": 25.0,
                "width": w, "height": h, "size": paths[i % len(paths)].stat().st_size, "sha256": "",
                "status": "ok", "reason": ""} for i in range(n)]
    manifest.write(ddir, entries)
    print(f"loader {len(paths)} H.264 videos {w}x{h}, {s.video_frames} frames written in "
          f"{time.perf_counter() - t:.1f} s; {n} clips listed", flush=True)
    cfg = copy.deepcopy(_cfg(s))
    cfg["paths"]["data"] = str(tmp)
    # the loader production uses at this geometry: profile paper decodes the pre-resized videos
    # (data.store.enabled off, K400 does not fit a store); the dry run's smoke profile turns the
    # store on, so set it here for both
    cfg["data"]["store"]["enabled"] = False
    cfg["pretrain"].update(epochs=1, warmup_epochs=0, batch_size=s.loader_batch, accum_steps=1,
                           num_workers=s.workers, ckpt_every=10**9, log_every=10, threads=0,
                           device=dev.type, precision="auto", compile=False)
    m = pretrain(cfg, "videomae", "bench", 0, run_dir=tmp / "run", progress=False)
    print(f"loader [{m['device_name']}] real loop, {s.workers} workers, {cfg['model']['vit']} "
          f"{s.frames}x{s.size}x{s.size} stride {s.stride}, batch {s.loader_batch}, {m['precision']}, "
          f"{m['steps_this_session']} steps: {m['clips_per_s']:.1f} clips/s, waiting for data "
          f"{_pct(m['data_wait_fraction'])} of the time, {m['gflops_per_clip']:.4g} GFLOP/clip, "
          f"MFU {_pct(m['mfu'])} (includes start-up and the final checkpoint)", flush=True)


# ---------------------------------------------------------------------------------------- flow
def _mv_frames(path: str) -> int:
    from motionmvm.motion import mv

    return len(mv.extract(path, threads=1)["missing"])


def part_flow(s: Sizes, dev: torch.device, tmp: Path) -> None:
    from torchvision.models.optical_flow import raft_small

    from motionmvm.data.video import read_frames

    cores = os.cpu_count() or 1
    path = _write_one((str(tmp / "flow.mp4"), 7, s.video_frames, *s.video_hw))
    frames = read_frames(path)                          # [F, H, W, 3]
    if s.dry:  # RAFT needs >= 128 px: 2 frames of the tiny video, upsampled
        frames = np.ascontiguousarray(frames[:2].repeat(3, 1).repeat(2, 2))
    t = time.perf_counter()
    n = _mv_frames(path)
    mv_one = n / (time.perf_counter() - t)
    t = time.perf_counter()
    with Pool(cores) as pool:
        total = sum(pool.map(_mv_frames, [path] * cores))
    mv_all = total / (time.perf_counter() - t)

    torch.manual_seed(0)
    model = raft_small(weights=None, progress=False).eval().to(dev)
    h, w = frames.shape[1] - frames.shape[1] % 8, frames.shape[2] - frames.shape[2] % 8
    x = torch.from_numpy(frames[:, :h, :w]).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0).to(dev)
    pairs = len(x) - 1

    def run():
        with torch.inference_mode():
            for i in range(0, pairs, s.raft_batch):
                j = min(i + s.raft_batch, pairs)
                model(x[i:j], x[i + 1:j + 1], num_flow_updates=12)

    run()  # warm-up (cuDNN autotuning, allocations)
    _sync(dev)
    t = time.perf_counter()
    run()
    _sync(dev)
    raft_fps = pairs / (time.perf_counter() - t)
    name = accounting.device_name(dev)
    print(f"flow   RAFT-small (12 updates, batch {s.raft_batch}) on [{name}] at {w}x{h}: {raft_fps:.1f} frames/s; "
          f"codec motion vectors on the CPU (H.264 {frames.shape[2]}x{frames.shape[1]}): {mv_one:.1f} frames/s "
          f"on 1 core, {mv_all:.1f} frames/s on {cores} cores; MV / RAFT: {mv_one / raft_fps:.1f}x per core, "
          f"{mv_all / raft_fps:.1f}x for the whole CPU vs the whole GPU (MGM paper: ~30x)", flush=True)


# --------------------------------------------------------------------------------------- mgmae
def part_mgmae(s: Sizes, dev: torch.device) -> None:
    from motionmvm.masking.mgmae import mgmae_torch

    grid = (s.frames // 2, s.size // 16, s.size // 16) if not s.dry else (s.frames // 2, 4, 4)
    side = grid[1] * (s.size // grid[1])
    flow = torch.randn(s.mask_batch, s.frames - 1, side, side, 2, device=dev) * 2
    rng = np.random.default_rng(0)

    def run():
        return mgmae_torch(grid, 0.9, generator=rng, batch=s.mask_batch, flow=flow)

    out = run()
    _sync(dev)
    reps = 2 if s.dry else 10
    t = time.perf_counter()
    for _ in range(reps):
        out = run()
    _sync(dev)
    dt = (time.perf_counter() - t) / reps
    kept = float((~out).float().mean())
    print(f"mgmae  [{accounting.device_name(dev)}] {s.mask_batch} masks of grid {grid} from flow "
          f"{side}x{side} ({s.frames - 1} steps): {s.mask_batch / dt:.1f} masks/s ({dt * 1e3:.1f} ms per batch), "
          f"visible fraction {kept:.3f}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry", action="store_true", help="every part on the CPU with tiny sizes")
    ap.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    ap.add_argument("--workers", type=int, default=16, help="loader workers (real loop)")
    args = ap.parse_args()
    if not args.dry and not torch.cuda.is_available():
        print("benchmarks/gpu.py: no CUDA device visible; run on a GPU machine or pass --dry", file=sys.stderr)
        return 2
    dev = torch.device("cpu" if args.dry else "cuda")
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    print(machine(), f"| torch {torch.__version__}", f"| {'DRY (CPU, tiny sizes)' if args.dry else 'GPU run'}",
          flush=True)
    s = Sizes(args.dry, args.workers)
    with tempfile.TemporaryDirectory(prefix="motionmvm-gpu-bench-") as tmp:
        for part in args.parts:
            t = time.perf_counter()
            if part == "steps":
                part_steps(s, dev)
            elif part == "loader":
                part_loader(s, dev, Path(tmp))
            elif part == "flow":
                part_flow(s, dev, Path(tmp))
            else:
                part_mgmae(s, dev)
            print(f"{part:6s} done in {time.perf_counter() - t:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
