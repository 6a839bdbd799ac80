"""The embedded benchmark: motion-defined action classes rendered procedurally, encoded as H.264.

Three datasets (the papers' dataset roles, in miniature):
- `synth`: domain A with a background-context bias: with probability `context_bias` a clip's
  background family is the one tied to its class (family = class index % 12), in train *and* test
  (as in UCF101, where scene context predicts the action).
- `synth_mimed`: the same classes, backgrounds drawn independently of the class (set
  `context_bias: 0`): the Mimetics analogue, where only the motion tells the class.
- `synth_b`: domain B (pastel palette, blocky hard-edged textures, outlined speckled sprites) with
  the first `num_classes` classes of `motions.B_ORDER` (default 6: translate_right, rotate_cw,
  zoom_in, circling, translate_up, zigzag), all of which are classes of `synth`: the UCF->HMDB
  partial domain adaptation analogue (target label set a subset of the source's; match by name).

Determinism: every clip draws from its own `numpy.random.Generator` seeded by (seed, dataset,
split, class, index), and libx264 runs single-threaded, so the same seed gives byte-identical
files whatever the number of worker processes.

Output, in `data/<profile>/<dataset>/`: `videos/<class>/<clip_id>.mp4` (H.264, yuv420p, no
B-frames so every frame after the first carries forward motion vectors), `classInd.txt`
(`<index from 1> <class>`), `trainlist01.txt` / `testlist01.txt` (`<path> <index from 1>`, as
UCF101), `gt/<clip_id>.npz` (see `render_clip`) and `synth.json` (classes, domain, parameters).
"""
from __future__ import annotations

import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from motionmvm.data import motions, render
from motionmvm.io import atomic_path, write_json

DATASETS = ("synth", "synth_mimed", "synth_b")
SPLITS = ("train", "test")


def domain_of(name: str) -> str:
    return "b" if name == "synth_b" else "a"


def classes_of(name: str, data_cfg: dict) -> list[str]:
    """Class names of one synth dataset; refuses a synth_b/synth_mimed set that is not a subset of synth's."""
    ds = data_cfg[name]
    a_classes = list(motions.CLASSES[: data_cfg["synth"]["num_classes"]])
    if name == "synth_b":
        classes = list(motions.B_ORDER[: ds["num_classes"]])
        missing = [c for c in classes if c not in a_classes]
        if missing:
            raise ValueError(f"data.synth_b.num_classes={ds['num_classes']} needs classes {missing} that "
                             f"data.synth (num_classes={len(a_classes)}) lacks; lower synth_b.num_classes "
                             f"or raise synth.num_classes (synth_b takes {list(motions.B_ORDER)} in order)")
        return classes
    classes = list(motions.CLASSES[: ds["num_classes"]])
    if name == "synth_mimed" and classes != a_classes:
        raise ValueError("data.synth_mimed.num_classes must equal data.synth.num_classes "
                         f"({ds['num_classes']} != {len(a_classes)}): it is the same label set without the bias")
    return classes


def clip_rng(seed: int, name: str, split: str, label: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, DATASETS.index(name), SPLITS.index(split), label, index])


def render_clip(name: str, ds: dict, class_name: str, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Render one clip of `class_name`.

    Returns frames uint8 `[F, S, S, 3]` and ground truth:
    `flow` float16 `[F-1, S, S, 2]` forward flow t -> t+1 (dx right, dy down, camera pan
    included); `masks` uint8 `[F, S, S]` (0 background, 1..n main objects, n+1.. distractors, top
    layer wins); `centres` float32 `[F, 2, 2]` and `boxes` float32 `[F, 2, 4]` (x0, y0, x1, y1 of
    the visible pixels) of the main objects (NaN-padded when there is one, NaN when invisible);
    `num_objects`; `distractor_boxes` float32 `[F, D, 4]`; `pan` float32 `[2]` px/frame;
    `background_family` (0..11); `label_name`; `domain`.
    """
    size, n = ds["size"], ds["frames"]
    style = render.Style(domain_of(name))
    label = motions.CLASSES.index(class_name)
    if rng.random() < ds["context_bias"]:
        family = label % render.NUM_FAMILIES
    else:
        family = int(rng.integers(render.NUM_FAMILIES))
    pan_len = rng.uniform(0, ds["camera_pan"]) * size
    pan_dir = rng.uniform(0, 2 * np.pi)
    pan = np.array([np.cos(pan_dir), np.sin(pan_dir)]) * pan_len / max(n - 1, 1)
    margin = int(np.ceil(pan_len)) + 2
    canvas = render.background(rng, family, size + 2 * margin, size + 2 * margin, style)

    # Main objects 0.15-0.22 of the frame (docs/calibration.md, session 5): at the model's 32 x 32
    # a smaller sprite spans under one patch and supervised training from scratch stalls near 60%.
    r = rng.uniform(0.15, 0.22) * size
    main = motions.poses(class_name, rng, n, size, r)
    distract = []
    for _ in range(int(rng.integers(0, ds["distractors"] + 1))):
        rd = rng.uniform(0.05, 0.09) * size
        distract.append((rd, motions.distractor_poses(rng, n, size, rd)))
    shift = pan[None] * np.arange(n)[:, None]  # everything in the scene moves with the camera
    layers, centres = [], []
    for radius, poses in [*distract, *[(r, p) for p in main]]:  # distractors behind the main objects
        sp = render.sprite(rng, radius, style)
        xy = poses[:, :2] + shift
        mats = np.stack([render.pose_matrix(sp, x, y, a, s) for (x, y), a, s in zip(xy, poses[:, 2], poses[:, 3])])
        layers.append((sp, mats))
        centres.append(xy)
    frames, labels, flow = render.render(canvas, margin, pan, layers, (size, size))

    nd = len(distract)
    # Relabel so that main objects are 1..n and distractors follow (render labels are by layer).
    order = list(range(nd, nd + len(main))) + list(range(nd))
    masks = np.zeros_like(labels)
    for new, old in enumerate(order, start=1):
        masks[labels == old + 1] = new
    boxes = np.full((n, 2, 4), np.nan, np.float32)
    cents = np.full((n, 2, 2), np.nan, np.float32)
    dboxes = np.full((n, nd, 4), np.nan, np.float32)
    for t in range(n):
        for j in range(len(main) + nd):
            ys, xs = np.nonzero(masks[t] == j + 1)
            box = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1] if len(xs) else [np.nan] * 4
            if j < len(main):
                boxes[t, j] = box
                cents[t, j] = centres[nd + j][t]
            else:
                dboxes[t, j - len(main)] = box
    gt = dict(flow=flow.astype(np.float16), masks=masks, centres=cents, boxes=boxes,
              num_objects=np.int64(len(main)), distractor_boxes=dboxes, pan=pan.astype(np.float32),
              background_family=np.int64(family), label_name=np.str_(class_name),
              domain=np.str_(style.name))
    return frames, gt


def encode_h264(frames, path: str | Path, fps, crf: int, gop: int | None = None) -> None:
    """Write uint8 RGB frames (`[F, H, W, 3]` or any iterable of `[H, W, 3]`, streamed) as H.264
    mp4 (yuv420p) atomically; `gop`: frames between keyframes (None: the encoder context's 12).

    Single-threaded libx264 and no B-frames: the output is byte-identical for identical frames.
    """
    import itertools

    import av

    frames = iter(frames)
    first = next(frames)
    h, w, _ = first.shape
    if h % 2 or w % 2:
        raise ValueError(f"yuv420p needs even frame sizes, got {w}x{h}")
    params = "bframes=0:threads=1:sliced-threads=0" + (f":keyint={gop}" if gop else "")
    with atomic_path(path) as tmp:
        with av.open(str(tmp), "w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            stream.codec_context.thread_count = 1
            stream.options = {"crf": str(crf), "preset": "medium", "threads": "1", "x264-params": params}
            for frame in itertools.chain([first], frames):
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)


def _make_clip(job: tuple) -> str:
    name, ds, out, class_name, label, split, index = job
    clip_id = f"{class_name}_{split}_{index:03d}"
    rng = clip_rng(ds["seed"], name, split, label, index)
    frames, gt = render_clip(name, ds, class_name, rng)
    rel = f"videos/{class_name}/{clip_id}.mp4"
    encode_h264(frames, out / rel, ds["fps"], ds["crf"])
    with atomic_path(out / "gt" / f"{clip_id}.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **gt)
    return rel


def generate(name: str, data_cfg: dict, out_dir: str | Path, workers: int = 1) -> dict:
    """Generate one synth dataset into `out_dir` (replacing an earlier one); returns counts."""
    if name not in DATASETS:
        raise ValueError(f"unknown synth dataset {name!r}; allowed: {list(DATASETS)}")
    ds = data_cfg[name]
    if ds["size"] % 2:
        raise ValueError(f"data.{name}.size must be even for yuv420p, got {ds['size']}")
    classes = classes_of(name, data_cfg)
    out = Path(out_dir)
    part = out.with_name(out.name + ".partial")
    if part.exists():
        shutil.rmtree(part)
    part.mkdir(parents=True)
    counts = {"train": ds["train_per_class"], "test": ds["test_per_class"]}
    jobs = [(name, ds, part, c, motions.CLASSES.index(c), split, i)
            for split in SPLITS for c in classes for i in range(counts[split])]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            rels = list(pool.map(_make_clip, jobs, chunksize=4))
    else:
        rels = [_make_clip(j) for j in jobs]
    (part / "classInd.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(classes)))
    for split, fname in (("train", "trainlist01.txt"), ("test", "testlist01.txt")):
        lines = [f"{rel} {classes.index(job[3]) + 1}\n" for rel, job in zip(rels, jobs) if job[5] == split]
        (part / fname).write_text("".join(lines))
    meta = {"dataset": name, "domain": domain_of(name), "classes": classes, "params": ds,
            "shared_with_synth": [c for c in classes if c in motions.CLASSES[: data_cfg["synth"]["num_classes"]]],
            "clips": {s: sum(1 for j in jobs if j[5] == s) for s in SPLITS}}
    write_json(part / "synth.json", meta)
    # Swap in the finished dataset: an interrupted run never leaves a half-written one behind.
    if out.exists():
        shutil.rmtree(out)
    part.rename(out)
    return meta
