"""CPU ms per pretraining sample of the motion-guided methods, with and without the motion memo.

What `motionmvm pretrain` iterates (`train.samples.MaskedClips` with the profile's geometry and its
motion caches), one thread, `pretrain.motion_memo_mb` 0 (read and cut the cache entry every
sample) against the profile's value. Warm-up: `--warm` epochs over `--clips` clips, then the next 4
epochs are timed (process CPU time, robust on a shared machine). Also checks that both give the
same samples. Run it after a pipeline run of the profile (it reads data/, cache/ of the repo root).

Usage: python benchmarks/motion_memo.py [--profile small] [--clips 64] [--warm 6] [mgmae mme mgm]
"""
import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

from _common import machine  # noqa: E402
from motionmvm import config, methods  # noqa: E402
from motionmvm.data.clips import open_videos  # noqa: E402
from motionmvm.train.samples import MaskedClips  # noqa: E402


def draws(cfg: dict, method: str, memo_mb: int, clips: int, warm: int) -> tuple[float, list]:
    p, patch = cfg["pretrain"], cfg["model"]["patch"]
    videos = open_videos(cfg, cfg["experiment"]["pretrain_dataset"], "train")
    root = Path("cache") / cfg["profile"] / cfg["experiment"]["pretrain_dataset"]
    ds = MaskedClips(videos, methods.get(method), grid=(p["frames"] // 2, p["size"] // patch, p["size"] // patch),
                     num_frames=p["frames"], stride=p["stride"], size=p["size"], seed=0,
                     masking_cfg=cfg.get("masking"), motion_root=root / "motion", tokens_root=root,
                     traj_cache_patch=cfg["motion"]["traj"]["patch"], motion_memo_mb=memo_mb)
    for e in range(warm):
        for i in range(clips):
            ds[(e, i)]
    t = time.process_time()
    got = [ds[(e, i)] for e in range(warm, warm + 4) for i in range(clips)]
    return (time.process_time() - t) / len(got) * 1000, got


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) if torch.is_tensor(a[k]) else a[k] == b[k] for k in a)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("methods", nargs="*", default=["mgmae", "mme", "mgm"])
    ap.add_argument("--profile", default="small")
    ap.add_argument("--clips", type=int, default=64)
    ap.add_argument("--warm", type=int, default=6)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = config.load("params.yaml", profile=args.profile)
    memo = cfg["pretrain"]["motion_memo_mb"]
    print(f"| method | memo 0 (ms / sample) | memo {memo} MB | same samples |\n|---|---|---|---|")
    for m in args.methods:
        off, a = draws(cfg, m, 0, args.clips, args.warm)
        on, b = draws(cfg, m, memo, args.clips, args.warm)
        print(f"| {m} | {off:.2f} | {on:.2f} | {all(same(x, y) for x, y in zip(a, b))} |")
    print(f"\n{machine()}")


if __name__ == "__main__":
    main()
