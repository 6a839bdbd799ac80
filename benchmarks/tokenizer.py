"""Tokenizer and Video Swin throughput on this machine (prints figures; never a test).

    PYTHONPATH=src python benchmarks/tokenizer.py [--profile small] [--threads 2] [--steps 10]

Tokenizer: Adam training steps per second and clips/s for the profile's `tokenizer` section
(the input clip is clip_frames x size/input_downsample^2). Swin: forward+backward clips/s of
swin3d_tiny and swin3d_t on a 16 x 64 x 64 clip batch of 2. Uses the GPU when there is one.
"""
from __future__ import annotations

import argparse
import os

import torch

from _common import machine, timed
from motionmvm import config, models
from motionmvm.tokenizer.train import build_tokenizer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--profile", default="small")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(machine())
    print(f"torch threads {args.threads}, load {os.getloadavg()[0]:.1f}, device {dev}")

    tcfg = config.load(args.params, args.profile)["tokenizer"]
    for kind in ("3d", "2d"):
        model = build_tokenizer(kind, tcfg).to(dev).train()
        opt = torch.optim.Adam(model.parameters(), lr=tcfg["lr"])
        side = tcfg["size"] // tcfg["input_downsample"]
        x = torch.rand(tcfg["batch_size"], 3, tcfg["clip_frames"], side, side, device=dev) - 0.5

        def step():
            out = model(x)
            opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            opt.step()

        s, c = timed(step, args.steps, warmup=2, cuda=dev.type == "cuda")
        print(f"tokenizer {kind} ({args.profile}: {tcfg['clip_frames']}x{side}x{side}, batch "
              f"{tcfg['batch_size']}): {s * 1000:.0f} ms/step wall ({c * 1000:.0f} ms CPU), "
              f"{tcfg['batch_size'] / s:.1f} clips/s, {tcfg['steps'] * s:.0f} s wall for {tcfg['steps']} steps")

    for name, kw in (("swin3d_tiny", {}), ("swin3d_t", {})):
        model = models.build(name, **kw).to(dev).train()
        x = torch.randn(2, 3, 16, 64, 64, device=dev)

        def fb():
            feats = model(x)
            feats[-1].mean().backward()

        s, c = timed(fb, max(2, args.steps // 3), warmup=1, cuda=dev.type == "cuda")
        print(f"{name} forward+backward 2x3x16x64x64: {s * 1000:.0f} ms wall ({c * 1000:.0f} ms CPU), "
              f"{2 / s:.1f} clips/s")


if __name__ == "__main__":
    main()
