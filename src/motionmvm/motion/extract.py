"""Run one motion kind over a dataset: a process pool over videos, one atomic cache entry each.

Each worker writes its entry as soon as it is done, so a crash elsewhere never loses it. A rerun
skips entries whose stored `settings_hash` and `video_sha256` match and redoes the rest.
Undecodable videos (`VideoError`) and clips the manifest quarantined are skipped and listed in
`failed.json`; a worker that dies (segfault, OOM kill) breaks the pool: the unfinished clips are
then retried one process each, so only the culprit ends up listed as crashed.
"""
from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import Callable

from motionmvm.io import sha256_file, write_json
from motionmvm.motion import KINDS, cache


def library_versions(kind: str, mcfg: dict) -> dict[str, str]:
    import numpy

    out = {"numpy": numpy.__version__}
    if kind == "mv":
        import av

        out["av"] = av.__version__
        out["libavcodec"] = ".".join(map(str, av.library_versions.get("libavcodec", ())))
    else:
        import cv2

        out["opencv"] = cv2.__version__
        if kind in ("flow", "traj") and mcfg["flow"]["algorithm"] == "raft_small":
            import torch
            import torchvision

            out["torch"], out["torchvision"] = torch.__version__, torchvision.__version__
    return out


def _flow_settings(fcfg: dict) -> dict:
    algo = fcfg["algorithm"]
    key = {"raft_small": "raft"}.get(algo, algo)
    params = dict(fcfg.get(key, {}))
    if algo == "raft_small":
        params.pop("device", None)  # where it runs does not define the result
        params.pop("batch", None)
        w = params.get("weights")
        params["weights_sha256"] = sha256_file(w) if w and Path(w).is_file() else None
    return {"algorithm": algo, "params": params}


def build_settings(kind: str, mcfg: dict) -> dict:
    """Everything that determines a cache entry of `kind`, plus its settings_hash."""
    if kind not in KINDS:
        raise ValueError(f"motion kind {kind!r} unknown; allowed: {list(KINDS)}")
    s: dict = {"kind": kind, "format_version": cache.FORMAT_VERSION}
    if kind == "mv":
        s.update(algorithm="codec motion vectors (FFmpeg export_mvs via PyAV)",
                 params={"cell": 4,
                         "normalize": "display distance to the nearest reference frame (H.264 nal_ref_idc; else I/P)",
                         "direction": "field[t]: forward motion t -> t+1 (vectors of frame t+1), dx right dy down"},
                 quantization={"field": "float16"})
    elif kind == "flow":
        s.update(_flow_settings(mcfg["flow"]),
                 direction="flow[t] = v_{t -> t+1}; flow_backward[t] = v_{t+1 -> t} (reversed pair)",
                 quantization={"flow": "int16", "flow_backward": "int16", "scale": mcfg["flow"]["scale"]})
    elif kind == "klt":
        s.update(algorithm="Shi-Tomasi corners + pyramidal Lucas-Kanade (OpenCV)",
                 params=dict(mcfg["klt"]), quantization={"motion_map": "uint8", "points": "float32"})
    else:
        s.update(algorithm="dense-flow point trajectories with trajectory-aligned HOG (MME)",
                 params=dict(mcfg["traj"]), flow=_flow_settings(mcfg["flow"]),
                 quantization={"disp": "float16", "hog": "float16"})
    s["libraries"] = library_versions(kind, mcfg)
    s["settings_hash"] = cache.settings_hash(s)
    return s


def compute_entry(kind: str, video: str | Path, mcfg: dict) -> dict:
    """The arrays of one cache entry (without the meta fields)."""
    import numpy as np

    if kind == "mv":
        from motionmvm.motion import mv

        return mv.extract(video, threads=mcfg.get("decoder_threads", 1),
                          skip_loop_filter=mcfg["mv"]["skip_loop_filter"],
                          skip_idct=mcfg["mv"]["skip_idct"])
    from motionmvm.data.video import read_frames

    frames = read_frames(video)
    if kind == "flow":
        from motionmvm.motion import flow

        scale = mcfg["flow"]["scale"]
        return {"flow": flow.quantize(flow.compute(frames, mcfg["flow"]), scale),
                "flow_backward": flow.quantize(flow.compute_backward(frames, mcfg["flow"]), scale),
                "scale": np.array(scale, np.int32)}
    if kind == "klt":
        from motionmvm.motion import klt

        return klt.extract(frames, mcfg["klt"])
    from motionmvm.motion import traj

    return traj.extract(frames, mcfg["traj"], mcfg["flow"])


def process_clip(kind: str, clip_id: str, video: str, out: str, settings_hash: str,
                 video_sha256: str, mcfg: dict) -> tuple[str, str, str]:
    """Worker: compute and write one entry. Returns (clip_id, "done" | "failed" | "error", reason)."""
    from motionmvm.data.video import VideoError

    try:
        arrays = compute_entry(kind, video, mcfg)
    except VideoError as exc:
        return clip_id, "failed", f"{exc.reason}: {exc.detail}" if exc.detail else exc.reason
    except Exception as exc:  # a bug or an unusable setting: reported, other clips go on
        return clip_id, "error", f"{type(exc).__name__}: {exc}"[:500]
    cache.write_entry(out, arrays, settings_hash, video_sha256)
    return clip_id, "done", ""


def _init_worker() -> None:
    # One core per worker: the pool provides the parallelism. torch (RAFT) reads OMP_NUM_THREADS
    # when it is first imported; importing it here would cost seconds per worker for nothing.
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    cv2.setNumThreads(1)


def _run_pool(jobs: list[tuple], workers: int, fn: Callable) -> tuple[dict, list[tuple]]:
    """Run jobs; returns ({clip_id: (status, reason)}, unfinished jobs if the pool broke)."""
    results, unfinished = {}, []
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                             initializer=_init_worker) as pool:
        futures = {pool.submit(fn, *job): job for job in jobs}
        for fut in as_completed(futures):
            job = futures[fut]
            try:
                clip_id, status, reason = fut.result()
                results[clip_id] = (status, reason)
            except BrokenProcessPool:
                unfinished.append(job)
    return results, unfinished


def run(kind: str, dataset_dir: str | Path, cache_root: str | Path, mcfg: dict,
        workers: int | None = None, fn: Callable = process_clip, log=print) -> dict:
    """Extract `kind` for every clip of the dataset manifest into `cache_root/<kind>/`.

    Returns the summary (also written to summary.json); failed clips go to failed.json.
    """
    from motionmvm.data import manifest

    t0 = time.time()
    if kind in ("flow", "traj"):
        from motionmvm.motion.flow import check_available

        check_available(mcfg["flow"])  # a missing TV-L1 / RAFT weights fails once, up front
    dataset_dir, out_dir = Path(dataset_dir), cache.kind_dir(cache_root, kind)
    settings = build_settings(kind, mcfg)
    shash = settings["settings_hash"]
    entries = manifest.load(dataset_dir, status=None)
    failed = [{"clip_id": e["clip_id"], "path": e["path"], "reason": f"quarantined: {e.get('reason')}"}
              for e in entries if e["status"] != "ok"]
    jobs, skipped = [], 0
    for e in entries:
        if e["status"] != "ok":
            continue
        out = cache.entry_path(cache_root, kind, e["clip_id"])
        meta = cache.entry_meta(out) if out.exists() else None
        if meta == {"settings_hash": shash, "video_sha256": e.get("sha256") or ""}:
            skipped += 1
            continue
        jobs.append((kind, e["clip_id"], str(dataset_dir / e["path"]), str(out), shash,
                     e.get("sha256") or "", mcfg))
    workers = max(1, min(workers or mcfg.get("workers", 1), len(jobs) or 1))
    log(f"motion {kind}: {len(jobs)} to compute, {skipped} up to date, {len(failed)} quarantined, "
        f"{workers} workers")
    results, unfinished = _run_pool(jobs, workers, fn) if jobs else ({}, [])
    if unfinished:
        log(f"motion {kind}: a worker died; retrying {len(unfinished)} unfinished clips one process each")
        for job in unfinished:
            res, broke = _run_pool([job], 1, fn)
            results.update(res)
            if broke:
                results[job[1]] = ("error", "worker process crashed (killed or segfault)")
    by_id = {e["clip_id"]: e for e in entries}
    for clip_id, (status, reason) in sorted(results.items()):
        if status != "done":
            failed.append({"clip_id": clip_id, "path": by_id[clip_id]["path"],
                           "reason": reason if status == "failed" else f"error: {reason}"})
    computed = sum(1 for s, _ in results.values() if s == "done")
    errors = sum(1 for s, _ in results.values() if s == "error")
    summary = {"kind": kind, "dataset": dataset_dir.name, "settings_hash": shash,
               "clips": len(entries), "computed": computed, "skipped": skipped,
               "failed": len(failed), "errors": errors, "seconds": round(time.time() - t0, 3)}
    write_json(out_dir / "failed.json", failed)
    write_json(out_dir / "settings.json", settings)
    write_json(out_dir / "summary.json", summary)
    log(f"motion {kind}: computed {computed}, skipped {skipped}, failed {len(failed)} "
        f"(errors {errors}) in {summary['seconds']} s -> {out_dir}")
    return summary
