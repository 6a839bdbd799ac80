"""Wall-clock seconds of every evaluation protocol for one method and seed, on this machine.

Builds a throwaway project in a temp dir: a small H.264 dataset (`--classes` x `--clips` train and
test clips per class, written with PyAV, plus a target domain with a class subset), an encoder from
`motionmvm.models.build(--model, num_frames, img_size, patch)` saved as a pretraining encoder.pt,
then runs `motionmvm finetune / mar-finetune / linear-probe / fewshot / domain-adapt` with the
chosen profile's `eval` settings and prints the seconds each took.

    PYTHONPATH=src python benchmarks/eval_protocol_times.py --profile small --model vit_tiny --frames 16 --size 112
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from _common import machine, timed, write_h264

ROOT = Path(__file__).resolve().parents[1]


def write_clip(path: Path, color: int, rng, frames: int, size: int) -> None:
    """Noise frames whose channel `color % 3` is lifted: the colour is the class."""
    imgs = []
    for _ in range(frames):
        img = rng.integers(0, 90, (size, size, 3)).astype(np.uint8)
        img[..., color % 3] += 150
        imgs.append(img)
    write_h264(path, np.stack(imgs), fps=25)


def make_dataset(root: Path, profile: str, name: str, classes: list[str], n: int, frames: int, size: int, seed: int):
    from motionmvm.data import manifest

    d = root / "data" / profile / name
    d.mkdir(parents=True)
    (d / "classInd.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(classes)))
    rng, entries = np.random.default_rng(seed), []
    for split in ("train", "test"):
        for ci, c in enumerate(classes):
            for i in range(n):
                cid = f"{name}_{split}_{c}_{i}"
                rel = f"videos/{cid}.mp4"
                write_clip(d / rel, int(c[1:]), rng, frames, size)
                entries.append(dict(clip_id=cid, path=rel, label=ci, label_name=c, split=split, domain=name,
                                    frames=frames, fps=25, width=size, height=size, size=(d / rel).stat().st_size,
                                    sha256="", status="ok", reason=None))
    manifest.write(d, entries)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="small")
    ap.add_argument("--model", default="vit_tiny")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--patch", type=int, default=16)
    ap.add_argument("--classes", type=int, default=6)
    ap.add_argument("--clips", type=int, default=20, help="clips per class and split")
    ap.add_argument("--video-frames", type=int, default=40)
    args = ap.parse_args(argv)

    from motionmvm import cli, models

    tmp = Path(tempfile.mkdtemp(prefix="eval_bench_"))
    here = os.getcwd()
    try:
        shutil.copy(ROOT / "params.yaml", tmp / "params.yaml")
        shutil.copytree(ROOT / "workflow" / "schemas", tmp / "workflow" / "schemas")
        os.chdir(tmp)
        names = [f"c{i}" for i in range(args.classes)]
        vsize = max(args.size, 32)
        make_dataset(tmp, args.profile, "synth", names, args.clips, args.video_frames, vsize, 0)
        make_dataset(tmp, args.profile, "synth_b", names[: max(2, args.classes // 2)], args.clips // 2,
                     args.video_frames, vsize, 1)
        torch.manual_seed(0)
        enc = models.build(args.model, num_frames=args.frames, img_size=args.size, patch=args.patch)
        config = {f: getattr(enc.cfg, f) for f in enc.cfg.__dataclass_fields__}
        for seed_dir in ("videomae",):
            path = tmp / "runs" / args.profile / "pretrain" / seed_dir / "seed0" / "encoder.pt"
            path.parent.mkdir(parents=True)
            torch.save({"model": args.model, "config": config, "state_dict": enc.state_dict()}, path)
        common = ["--profile", args.profile, "--seed", "0"]
        steps = [
            ("finetune", ["finetune", "--method", "videomae", "--dataset", "synth"]),
            ("mar-finetune 50%", ["mar-finetune", "--mask-percent", "50", "--dataset", "synth"]),
            ("linear-probe", ["linear-probe", "--method", "videomae", "--dataset", "synth"]),
            ("fewshot", ["fewshot", "--method", "videomae", "--dataset", "synth"]),
            ("domain-adapt", ["domain-adapt", "--method", "videomae"]),
        ]
        print(machine())
        print(f"profile {args.profile}, encoder {args.model} {args.frames}x{args.size}x{args.size} patch {args.patch}, "
              f"{args.classes} classes x {args.clips} clips per split, torch threads {torch.get_num_threads()}")
        total = 0.0
        for label, argv_ in steps:
            dt = timed(lambda: cli.main(argv_ + common))[0]
            total += dt
            print(f"  {label:18s} {dt:7.1f} s")
        print(f"  {'all five':18s} {total:7.1f} s")
    finally:
        os.chdir(here)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
