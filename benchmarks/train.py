"""Pretraining throughput: clips/s per method at a profile on the CPU, and ViT-B MFU on a GPU.

CPU part: for each method, optimizer steps of the method's model on random clips with the
method's own masks (data decoding excluded: it is measured by the data benchmarks), at the
profile's clip size, batch and model. GPU part (only when CUDA is available): VideoMAE ViT-B on
16x224x224 clips at 90% tube masking, bf16 autocast, fused attention, torch.compile; model FLOPs
from torch.utils.flop_counter (forward + backward of one step), MFU = achieved / peak bf16 FLOP/s.

    PYTHONPATH=src python benchmarks/train.py --profile small [--methods videomae stmae] [--gpu-only]
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from _common import machine, timed
from motionmvm import config, methods
from motionmvm.train import accounting
from motionmvm.train.loop import clip_side, mask_grid
from motionmvm.train.optim import build_optimizer



def random_motion(spec, frames, size, rng) -> dict:
    """Well-formed random motion inputs for motion-guided masks (their cost is not timed here)."""
    if spec.masking == "mgmae":
        return {"flow": rng.normal(size=(frames - 1, size, size, 2)).astype(np.float32)}
    if spec.masking in ("mgm", "mgm_sparse"):
        return {"mv": rng.normal(size=(frames, size // 4, size // 4, 2)).astype(np.float32)}
    if spec.masking == "fgdm":
        return {"klt": (rng.random((frames, size // 8, size // 8)) > 0.7).astype(np.uint8)}
    return {}


def random_batch(spec, grid, batch, frames, size, device, traj_len=6, n_codes=None):
    rng = np.random.default_rng(0)
    mask = np.stack([spec.mask_fn(grid, 0, rng, random_motion(spec, frames, size, rng))
                     for _ in range(batch)])
    out = {"video": torch.randn(batch, 3, frames, size, size, device=device),
           "mask": torch.from_numpy(mask).to(device)}
    if spec.target == "tokens":  # DEMVM: random codebook ids on the token grid
        out["tokens"] = torch.randint(0, n_codes, (batch, *grid), device=device)
    if spec.target == "trajectory":
        t, h, w = grid
        shape = (batch, t, 2 * h, 2 * w, traj_len)
        out.update(traj_disp=torch.randn(*shape, 2), traj_hog=torch.rand(*shape, 9),
                   traj_valid=torch.ones(shape, dtype=torch.bool))
    return out


def time_steps(model, opt, batch, steps, warmup, autocast=False) -> tuple[float, float]:
    """(wall seconds, CPU seconds of all threads) per optimiser step."""
    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
            loss = model(batch)["loss"]
        loss.backward()
        opt.step()

    return timed(step, steps, warmup, cuda=autocast)


def cpu_benchmark(cfg, names, steps):
    p = cfg["pretrain"]
    threads = p["threads"] or torch.get_num_threads()
    torch.set_num_threads(threads)
    print(f"CPU, profile {cfg['profile']}: {cfg['model']['vit']}, clip {p['frames']}x{p['size']}x{p['size']}, "
          f"batch {p['batch_size']}, {threads} threads")
    for name in names:
        spec = methods.get(name)
        if name not in methods_available():
            print(f"  {name:10s} skipped: needs {spec.masking!r} masking / {spec.target!r} target packages")
            continue
        torch.manual_seed(0)
        model = spec.build(cfg)
        opt = build_optimizer(model, spec.optim, p["batch_size"])
        batch = random_batch(spec, mask_grid(model), p["batch_size"], p["frames"], clip_side(model, p["size"]),
                             "cpu", n_codes=cfg["tokenizer"]["n_codes"])
        dt, cpu = time_steps(model, opt, batch, steps, warmup=1)
        print(f"  {name:10s} {p['batch_size'] / dt:8.2f} clips/s wall ({dt * 1000:.0f} ms/step), "
              f"{p['batch_size'] / cpu:8.2f} clips per CPU-second")


def methods_available() -> list[str]:
    """Methods whose masking strategy and target can be built in this checkout."""
    from motionmvm.methods.masks import strategy

    ok = []
    for name in methods.names():
        spec = methods.get(name)
        try:
            strategy(spec.masking)
            if spec.target != "pixel" or spec.builder.__module__.endswith("mme"):
                import motionmvm.targets  # noqa: F401
        except (KeyError, ModuleNotFoundError):
            continue
        ok.append(name)
    return ok


def gpu_benchmark(batch, steps, compile_model):
    cfg = config.load("params.yaml", "paper")
    cfg["model"]["vit"] = "vit_b"
    spec = methods.get("videomae")
    dev = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.manual_seed(0)
    model = spec.build(cfg).to(dev)
    opt = build_optimizer(model, spec.optim, batch)
    data = random_batch(spec, model.encoder.cfg.grid, batch, 16, 224, dev)
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as fc:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(data)["loss"]
        loss.backward()
    flops = fc.get_total_flops()
    opt.zero_grad(set_to_none=True)
    run = torch.compile(model) if compile_model else model
    dt, _ = time_steps(run, opt, data, steps, warmup=3, autocast=True)
    name = torch.cuda.get_device_name(0)
    peak = accounting.peak_flops(name)  # the bf16 dense peak table the pretraining loop uses
    achieved = flops / dt
    mfu = f"{100 * achieved / peak:.1f}%" if peak else "unknown peak"
    print(f"GPU {name}: ViT-B videomae 16x224x224, 90% tube mask, batch {batch}, bf16, "
          f"compile={compile_model}: {batch / dt:.1f} clips/s, {dt * 1000:.1f} ms/step, "
          f"{flops / batch / 1e9:.1f} GFLOP/clip (fwd+bwd), {achieved / 1e12:.1f} TFLOP/s, MFU {mfu}, "
          f"peak memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="small")
    ap.add_argument("--methods", nargs="*", default=None)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--gpu-batch", type=int, default=64)
    ap.add_argument("--gpu-steps", type=int, default=20)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--gpu-only", action="store_true")
    args = ap.parse_args()
    print(machine())
    if not args.gpu_only:
        cfg = config.load("params.yaml", args.profile)
        cpu_benchmark(cfg, args.methods or methods.names(), args.steps)
    if torch.cuda.is_available():
        gpu_benchmark(args.gpu_batch, args.gpu_steps, not args.no_compile)
    else:
        print("no CUDA device: GPU MFU benchmark skipped")


if __name__ == "__main__":
    main()
