"""Pre-resize: re-encode a dataset's listed videos to a short side (VideoMAE: 320 for K400 / SSv2).

`motionmvm data resize --dataset D` reads the split lists (`classInd.txt`, `trainlist01.txt`,
`testlist01.txt`) and writes `data/P/D/videos_resized/`: each listed video `videos/<x>.<ext>`
re-encoded as `videos_resized/<x>.mp4` (H.264, crf / keyframe interval from `data.resize`, the
source frame rate and every frame), plus `resize.json` (settings; per video the source and output
sha256, or the reason it failed). The manifest step then describes the resized videos (paths,
sizes, sha256, with the source's sha256 beside them), so every later step (the clip store,
pretraining, evaluation, the tokenizer and the motion caches) reads the same resized file and the
manifest hash covers both. A video that fails to decode is listed and quarantined by the manifest,
never replaced. `short_side: 0` (off, e.g. the embedded datasets, made at their final size) writes
resize.json alone and the manifest describes the original videos.

Frames only shrink: a video whose short side is already at or below the target is used as it is
(its record points at the original; e.g. the 112 px synth datasets under the paper profile);
OpenCV's area interpolation, dimensions rounded to even (yuv420p). `keep_original: false` deletes
each source once its resized copy is written (only for sources that no step declares as output).
"""
from __future__ import annotations

from pathlib import Path, PurePosixPath

import cv2

from motionmvm.data.video import VideoError, probe
from motionmvm.io import read_json, sha256_file, sha256_json, write_json

DIR = "videos_resized"


def resized_path(rel: str) -> str:
    """The resized copy of a listed path: `videos/a/b.avi` -> `videos_resized/a/b.mp4`."""
    p = PurePosixPath(rel)
    parts = p.parts[1:] if p.parts and p.parts[0] == "videos" else p.parts
    return str(PurePosixPath(DIR, *parts).with_suffix(".mp4"))


def _target_hw(h: int, w: int, short_side: int) -> tuple[int, int]:
    s = min(1.0, short_side / min(h, w))
    return max(2, round(h * s / 2) * 2), max(2, round(w * s / 2) * 2)


def resize_video(src: Path, dst: Path, short_side: int, crf: int, gop: int) -> dict:
    """Stream-decode `src` (PyAV), resize each frame, encode to `dst`; -> {frames, width, height}."""
    import av

    from motionmvm.data.synth import encode_h264

    info = {}
    with av.open(str(src)) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        fps = stream.average_rate or stream.guessed_rate or 25

        def frames():
            n = 0
            for frame in container.decode(stream):
                img = frame.to_ndarray(format="rgb24")
                h, w = _target_hw(*img.shape[:2], short_side)
                if (h, w) != img.shape[:2]:
                    img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
                info.update(height=h, width=w)
                n += 1
                info["frames"] = n
                yield img

        encode_h264(frames(), dst, fps, crf, gop)
    return info


def run(dataset_dir: str | Path, settings: dict, log=print) -> dict:
    """Resize every listed video of `dataset_dir` under `settings` (params `data.resize`)."""
    from motionmvm.data.build_manifest import read_lists

    dataset_dir = Path(dataset_dir)
    out_dir = dataset_dir / DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = {k: settings[k] for k in ("short_side", "crf", "gop", "keep_original")}
    old = read_json(out_dir / "resize.json") if (out_dir / "resize.json").exists() else {}
    done = {r["path"]: r for r in old.get("videos", []) if "sha256" in r} if old.get("settings") == settings else {}
    records = []
    items = read_lists(dataset_dir) if settings["short_side"] else []
    for n, item in enumerate(items, 1):
        rel, src = item["path"], dataset_dir / item["path"]
        out_rel = resized_path(rel)
        prev = done.get(rel)
        src_sha = sha256_file(src) if src.exists() else None
        if prev and (dataset_dir / prev["out"]).exists() and src_sha in (prev["source_sha256"], None):
            records.append(prev)  # unchanged source (or already removed after resizing): keep
            continue
        if src_sha is None:
            records.append({"path": rel, "reason": "missing"})
            continue
        try:
            info = probe(src)
        except VideoError as exc:
            records.append({"path": rel, "reason": f"{exc.reason}: {exc.detail}" if exc.detail else exc.reason})
            continue
        if min(info.height, info.width) <= settings["short_side"]:  # small enough: used as it is
            records.append({"path": rel, "out": rel, "source_sha256": src_sha, "sha256": src_sha,
                            "frames": info.frames, "width": info.width, "height": info.height})
            continue
        try:
            info = resize_video(src, dataset_dir / out_rel, settings["short_side"], settings["crf"], settings["gop"])
        except Exception as exc:  # PyAV raises many error types for broken input: listed, not replaced
            records.append({"path": rel, "reason": f"not decodable: {str(exc)[:200]}"})
            continue
        records.append({"path": rel, "out": out_rel, "source_sha256": src_sha,
                        "sha256": sha256_file(dataset_dir / out_rel), **info})
        if not settings["keep_original"]:
            src.unlink()
        if n % 100 == 0 or n == len(items):
            log(f"resize {dataset_dir.name}: {n}/{len(items)} videos")
    summary = {"settings": settings, "videos": records,
               "failed": [r for r in records if "reason" in r]}
    summary["hash"] = sha256_json({"settings": settings, "videos": records})
    write_json(out_dir / "resize.json", summary)
    return summary


def lookup(dataset_dir: str | Path) -> dict | None:
    """resize.json of a dataset when its videos were resized (short side > 0), else None."""
    path = Path(dataset_dir) / DIR / "resize.json"
    if not path.exists():
        return None
    summary = read_json(path)
    return summary if summary["settings"]["short_side"] else None
