"""Clips/s for 16-frame clips (stride 2) at 112x112: decord, PyAV, and the project's loader.

Usage: python benchmarks/loader.py [--profile small] [--dataset synth] [--workers 2]
Needs `motionmvm data synth` + `motionmvm data manifest` for that dataset first.
"""
import argparse
import time

import numpy as np
import torch

from _common import machine
from motionmvm import config
from motionmvm.data import manifest, sampling, video
from motionmvm.data.dataset import ClipDataset, make_loader


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="small")
    ap.add_argument("--dataset", default="synth")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--frames", type=int, default=16)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(machine())
    cfg = config.load("params.yaml", args.profile)
    root = f"{cfg['paths']['data']}/{args.profile}/{args.dataset}"
    entries = manifest.load(root, split="train")
    stride = 2 if entries[0]["frames"] >= sampling.span(args.frames, 2) else 1
    rng = np.random.default_rng(0)
    for backend in ("decord", "pyav"):
        t = time.perf_counter()
        for e in entries:
            idx = sampling.sparse_indices(e["frames"], args.frames, stride, train=True, rng=rng)
            video.read_frames(f"{root}/{e['path']}", idx, backend=backend)
        print(f"{backend:8s} decode only: {len(entries) / (time.perf_counter() - t):7.1f} clips/s")
    ds = ClipDataset(root, "train", num_frames=args.frames, stride=stride, size=112, train=True)
    t = time.perf_counter()
    n = sum(len(b["label"]) for b in make_loader(ds, 8, workers=args.workers))
    print(f"loader   ({args.workers} workers, crop+resize+normalise): {n / (time.perf_counter() - t):7.1f} clips/s "
          f"[{n} clips, {args.profile}/{args.dataset}, stride {stride}]")


if __name__ == "__main__":
    main()
