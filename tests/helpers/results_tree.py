"""A small fabricated-but-consistent results tree for audit/report tests: real files, real hashes.

Layout (relative to `root`, profile smoke): a dataset with a manifest, a motion settings file,
pretraining checkpoints and logs, eval runs (predictions.csv + metrics.json with provenance),
summary.json / table.md in the evaluation area's format, and a dvc.lock recording their md5.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np
import yaml
from scipy import stats

from motionmvm import config, provenance
from motionmvm.data import manifest
from motionmvm.eval import health as health_mod
from motionmvm.eval.aggregate import collect
from motionmvm.io import atomic_write_text, sha256_file, sha256_json, write_json

METHODS = ("videomae", "mgm")
SEEDS = (0, 1, 2)
PROTOCOL, DATASET, CLASSES = "linear_probe", "synth", ("walk", "run", "jump")


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def write_predictions(path: Path, rng: np.random.Generator, n: int = 12, skill: float = 0.0) -> float:
    """Random softmax outputs; returns the true top-1 computed here independently."""
    labels = rng.integers(0, len(CLASSES), n)
    logits = rng.standard_normal((n, len(CLASSES)))
    logits[np.arange(n), labels] += skill
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    lines = ["clip_id,label,pred," + ",".join(f"prob_{c}" for c in CLASSES)]
    for i in range(n):
        lines.append(f"clip{i:03d},{labels[i]},{probs[i].argmax()}," + ",".join(repr(float(v)) for v in probs[i]))
    atomic_write_text(path, "\n".join(lines) + "\n")
    return float((probs.argmax(1) == labels).mean())


def fmt(values: list[float]) -> tuple[dict, str]:
    x = np.asarray(values)
    half = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    stat = {"n": len(x), "mean": float(x.mean()), "std": float(x.std(ddof=1)), "half_width": half,
            "ci_low": float(x.mean()) - half, "ci_high": float(x.mean()) + half}
    return stat, f"{stat['mean'] * 100:.1f} ± {half * 100:.1f}"


def write_health(cfg: dict, runs: Path, results: Path) -> dict:
    """health.json as `motionmvm aggregate` computes it from the tree's metrics files."""
    health = health_mod.compute(collect(runs / "eval"), health_mod.collect_pretrain(runs / "pretrain"), cfg, "videomae")
    write_json(results / "health.json", health)
    return health


def build(root: Path, repo: Path, write_lock: bool = True) -> dict:
    """Write the tree under `root` (cwd must be `root`; `root` may be `repo` itself, e.g. a copy of
    the repository); returns useful paths. write_lock: also write a dvc.lock with the md5s."""
    if root.resolve() != repo.resolve():
        (root / "workflow").symlink_to((repo / "workflow").resolve())
        params = yaml.safe_load((repo / "params.yaml").read_text())
        (root / "params.yaml").write_text(yaml.safe_dump(params))
    cfg = config.load(root / "params.yaml", "smoke")
    rng = np.random.default_rng(0)
    ddir = Path("data/smoke/synth")
    entries = []
    for i in range(4):
        video = ddir / "videos" / f"clip{i}.mp4"
        video.parent.mkdir(parents=True, exist_ok=True)
        video.write_bytes(rng.bytes(256))
        entries.append({"clip_id": f"clip{i}", "path": str(video.relative_to(ddir)), "label": i % 3,
                        "label_name": CLASSES[i % 3], "split": "test", "domain": "A", "frames": 16, "fps": 25,
                        "width": 64, "height": 64, "size": 256, "sha256": sha256_file(video), "status": "ok",
                        "reason": ""})
    manifest.write(ddir, entries)
    settings = Path("cache/smoke/synth/motion/flow/settings.json")
    body = {"kind": "flow", "algorithm": "farneback"}
    write_json(settings, {**body, "settings_hash": sha256_json(body)})
    lock_outs = {}
    table = ["| protocol | method | dataset | seeds | top-1 % (± 95% CI) | top-5 % |", "|---|---|---|---|---|---|"]
    rows = []
    for j, method in enumerate(METHODS):
        tops = []
        for seed in SEEDS:
            pre = Path(f"runs/smoke/pretrain/{method}/seed{seed}")
            pre.mkdir(parents=True, exist_ok=True)
            (pre / "encoder.pt").write_bytes(rng.bytes(512))
            (pre / "log.csv").write_text("step,loss\n" + "".join(f"{s},{2.0 / (s + 1) + seed * 0.01}\n" for s in range(10)))
            write_json(pre / "metrics.json", {"wall_time_s": 10.0 + j * 5 + seed})
            run = Path(f"runs/smoke/eval/{PROTOCOL}/{method}/{DATASET}/seed{seed}")
            run.mkdir(parents=True, exist_ok=True)
            top1 = write_predictions(run / "predictions.csv", rng, skill=1.0 + j)
            tops.append(top1)
            prov = provenance.record(cfg, dataset_dir=ddir, motion_settings=[settings],
                                     checkpoint=pre / "encoder.pt", seed=seed)
            write_json(run / "metrics.json", {"top1": top1, "seed": seed, "provenance": prov})
            for f in ("metrics.json", "predictions.csv"):
                lock_outs[str(run / f)] = _md5(run / f)
            lock_outs[str(pre / "encoder.pt")] = _md5(pre / "encoder.pt")
        stat, text = fmt(tops)
        rows.append({"protocol": PROTOCOL, "method": method, "dataset": DATASET, "seeds": list(SEEDS),
                     "top1": stat, "gflops_per_view": {"mean": 1.5 + j, "half_width": None}})
        table.append(f"| {PROTOCOL} | {method} | {DATASET} | {len(SEEDS)} | {text} |  |")
    results = Path("results/smoke")
    write_json(results / "summary.json", {"confidence": 0.95, "baseline": "videomae", "rows": rows})
    health = write_health(cfg, Path("runs/smoke"), results)
    atomic_write_text(results / "table.md", "\n".join(health_mod.markdown(health) + table) + "\n")
    lock = {"schema": "2.0", "stages": {
        "eval": {"cmd": "motionmvm eval ...", "outs": [{"path": p, "hash": "md5", "md5": m} for p, m in lock_outs.items()]},
        "data": {"cmd": "motionmvm data ...", "outs": [{"path": str(ddir / "manifest.json"), "hash": "md5",
                                                       "md5": _md5(ddir / "manifest.json")}]}}}
    if write_lock:
        (root / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))
    return {"cfg": cfg, "table": results / "table.md", "dataset": ddir, "settings": settings,
            "run": lambda m, s: Path(f"runs/smoke/eval/{PROTOCOL}/{m}/{DATASET}/seed{s}"),
            "encoder": lambda m, s: Path(f"runs/smoke/pretrain/{m}/seed{s}/encoder.pt")}


GATE_METHODS = ("videomae", "mgm")


def gate_runs(runs: Path, seeds=(0, 1, 2, 3, 4), *, scratch=0.80, single_frame=0.11, mimed_gain=0.20,
              noise=0.005, pixel_loss=0.60, trivial=0.99) -> None:
    """A fabricated runs/P tree for the health gates: eval metrics.json files (top1 + class names)
    and pretraining metrics.json files, with the knobs each gate reads. Defaults pass every gate:
    scratch 80% on synth, scratch_1frame at chance on synth_mimed, pretrained methods `mimed_gain`
    above random_init there, paired noise `noise`, pixel loss 0.6 against a trivial 0.99."""
    rng = np.random.default_rng(0)
    classes = [f"c{i}" for i in range(10)]

    def put(protocol, method, dataset, seed, top1):
        gflops = 0.17 if protocol == "finetune" else None  # the same encoder shape: points coincide
        write_json(runs / "eval" / protocol / method / dataset / f"seed{seed}" / "metrics.json",
                   {"top1": float(top1), "seed": seed, "class_names": classes, "gflops_per_view": gflops})

    for s in seeds:
        put("finetune", "scratch", "synth", s, scratch)
        for protocol in ("linear_probe", "fewshot"):
            put(protocol, "scratch", "synth_mimed", s, 0.60)
            put(protocol, "scratch_1frame", "synth_mimed", s, single_frame)
            put(protocol, "random_init", "synth_mimed", s, 0.20 + rng.normal(0, 0.01))
            for method in GATE_METHODS:
                put(protocol, method, "synth_mimed", s, 0.20 + mimed_gain + rng.normal(0, noise))
        for method in GATE_METHODS:
            put("finetune", method, "synth", s, 0.75 + rng.normal(0, noise))
            write_json(runs / "pretrain" / method / f"seed{s}" / "metrics.json",
                       {"target": "pixel", "loss_last": pixel_loss, "trivial_loss_last": trivial})
