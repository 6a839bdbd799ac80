"""A small fabricated-but-consistent results tree for audit/report tests: real files, real hashes.

Layout (relative to `root`, profile smoke): a dataset (classInd.txt, a manifest with train and test
clips and one quarantined test clip), a motion settings file, pretraining checkpoints and logs,
linear-probe runs whose predictions.csv score exactly the test split's usable clips with the
manifest's labels (metrics.json from the evaluation area's own `metrics_from_probs`, with the
`scored` record and provenance), summary.json / table.md from `motionmvm.eval.aggregate`, and a
dvc.lock recording the md5 of every output. `relock` plays `dvc commit --force` after an edit.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import yaml

from motionmvm import config, provenance
from motionmvm.data import manifest
from motionmvm.eval import health as health_mod
from motionmvm.eval.aggregate import aggregate, collect
from motionmvm.eval.metrics import metrics_from_probs
from motionmvm.io import atomic_write_text, read_json, sha256_file, sha256_json, write_json

METHODS = ("videomae", "mgm")
SEEDS = (0, 1, 2)
PROTOCOL, DATASET, CLASSES = "linear_probe", "synth", ("walk", "run", "jump")
PER_CLASS = {"train": 3, "test": 4}
DDIR = Path("data/smoke/synth")


def clip_ids(split: str) -> list[tuple[str, int]]:
    """(clip id, label) of the usable clips of a split, in manifest (sorted id) order."""
    return sorted((f"{DATASET}_{split}_{c}_{i}", ci) for ci, c in enumerate(CLASSES) for i in range(PER_CLASS[split]))


def write_predictions(path: Path, rng: np.random.Generator, skill: float = 0.0, split: str = "test") -> float:
    """Random softmax outputs over the split's usable clips with their true labels; returns the
    top-1 computed here independently."""
    ids = clip_ids(split)
    labels = np.array([y for _, y in ids])
    logits = rng.standard_normal((len(ids), len(CLASSES)))
    logits[np.arange(len(ids)), labels] += skill
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    lines = ["clip_id,label,pred," + ",".join(f"prob_{c}" for c in CLASSES)]
    for (cid, y), p in zip(ids, probs):
        lines.append(f"{cid},{y},{p.argmax()}," + ",".join(repr(float(v)) for v in p))
    atomic_write_text(path, "\n".join(lines) + "\n")
    return float((probs.argmax(1) == labels).mean())


def rewrite_metrics(run: Path) -> dict:
    """metrics.json's numbers recomputed from the run's predictions.csv by the evaluation area's
    code, as a forger who edits predictions would do to stay consistent; returns the metrics."""
    from motionmvm.eval.metrics import recompute_metrics

    m = read_json(run / "metrics.json")
    m.update(recompute_metrics(run / "predictions.csv", m.get("eval_classes")))
    write_json(run / "metrics.json", m)
    return m


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def relock(root: Path = Path(".")) -> None:
    """Rewrite every md5 in dvc.lock from the files (what `dvc commit --force` does)."""
    lock_path = root / "dvc.lock"
    lock = yaml.safe_load(lock_path.read_text())
    for stage in lock["stages"].values():
        stage["outs"] = [out for out in stage["outs"] if (root / out["path"]).exists()]  # removed outputs
        for out in stage["outs"]:
            out["md5"] = _md5(root / out["path"])
    lock_path.write_text(yaml.safe_dump(lock, sort_keys=False))


def _dataset(rng) -> None:
    DDIR.mkdir(parents=True, exist_ok=True)
    (DDIR / "classInd.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(CLASSES)))
    entries = []
    for split in PER_CLASS:
        for cid, y in clip_ids(split):
            video = DDIR / "videos" / f"{cid}.mp4"
            video.parent.mkdir(parents=True, exist_ok=True)
            video.write_bytes(rng.bytes(256))
            entries.append({"clip_id": cid, "path": str(video.relative_to(DDIR)), "label": y,
                            "label_name": CLASSES[y], "split": split, "domain": "A", "frames": 16, "fps": 25,
                            "width": 64, "height": 64, "size": 256, "sha256": sha256_file(video), "status": "ok",
                            "reason": ""})
    entries.append({"clip_id": f"{DATASET}_test_bad", "path": "videos/bad.mp4", "label": 0, "label_name": CLASSES[0],
                    "split": "test", "domain": "A", "frames": 0, "fps": 0, "width": 0, "height": 0, "size": 0,
                    "sha256": "", "status": "quarantined", "reason": "zero bytes"})
    manifest.write(DDIR, entries)


def write_run(run: Path, cfg: dict, rng, skill: float, seed: int, checkpoint: Path, settings: Path,
              gflops: float) -> None:
    run.mkdir(parents=True, exist_ok=True)
    write_predictions(run / "predictions.csv", rng, skill=skill)
    from motionmvm.eval.metrics import recompute_metrics

    m = recompute_metrics(run / "predictions.csv")
    m.update({"seed": seed, "views_per_video": 1, "clips_quarantined": 1,
              "quarantined": [{"clip_id": f"{DATASET}_test_bad", "reason": "zero bytes"}],
              "scored": {"dataset": str(DDIR), "split": "test", "max_clips": cfg["eval"][PROTOCOL]["max_test_clips"],
                         "seed": seed, "manifest_hash": read_json(DDIR / "manifest.json")["hash"],
                         "classes_from": str(DDIR)},
              "gflops_per_view": gflops,
              "provenance": provenance.record(cfg, dataset_dir=DDIR, motion_settings=[settings],
                                              checkpoint=checkpoint, seed=seed)})
    write_json(run / "metrics.json", m)


def write_health(cfg: dict, runs: Path, results: Path) -> dict:
    """health.json as `motionmvm aggregate` computes it from the tree's metrics files."""
    health = health_mod.compute(collect(runs / "eval"), health_mod.collect_pretrain(runs / "pretrain"), cfg, "videomae")
    write_json(results / "health.json", health)
    return health


def build(root: Path, repo: Path, write_lock: bool = True, edit_params=None) -> dict:
    """Write the tree under `root` (cwd must be `root`; `root` may be `repo` itself, e.g. a copy of
    the repository); returns useful paths. write_lock: also write a dvc.lock with the md5s.
    edit_params(params): changes the copied params.yaml before any run is written."""
    if root.resolve() != repo.resolve():
        (root / "workflow").symlink_to((repo / "workflow").resolve())
        params = yaml.safe_load((repo / "params.yaml").read_text())
        if edit_params:
            edit_params(params)
        (root / "params.yaml").write_text(yaml.safe_dump(params))
    cfg = config.load(root / "params.yaml", "smoke")
    rng = np.random.default_rng(0)
    _dataset(rng)
    settings = Path("cache/smoke/synth/motion/flow/settings.json")
    body = {"kind": "flow", "algorithm": "farneback"}
    write_json(settings, {**body, "settings_hash": sha256_json(body)})
    outs = [str(DDIR / "manifest.json")]
    for j, method in enumerate(METHODS):
        for seed in SEEDS:
            pre = Path(f"runs/smoke/pretrain/{method}/seed{seed}")
            pre.mkdir(parents=True, exist_ok=True)
            (pre / "encoder.pt").write_bytes(rng.bytes(512))
            (pre / "log.csv").write_text("step,loss\n" + "".join(f"{s},{2.0 / (s + 1) + seed * 0.01}\n" for s in range(10)))
            write_json(pre / "metrics.json", {"wall_time_s": 10.0 + j * 5 + seed})
            run = Path(f"runs/smoke/eval/{PROTOCOL}/{method}/{DATASET}/seed{seed}")
            write_run(run, cfg, rng, 1.0 + j, seed, pre / "encoder.pt", settings, gflops=1.5 + j)
            outs += [str(run / "metrics.json"), str(run / "predictions.csv"), str(pre / "encoder.pt")]
    results = Path("results/smoke")
    aggregate("runs/smoke/eval", results, cfg["eval"]["confidence"], cfg=cfg, pretrain_root="runs/smoke/pretrain")
    outs += [str(results / f) for f in ("summary.json", "table.md", "health.json")]
    lock = {"schema": "2.0", "stages": {
        "eval": {"cmd": "motionmvm eval ...", "outs": [{"path": p, "hash": "md5", "md5": _md5(Path(p))} for p in outs]}}}
    if write_lock:
        (root / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))
    return {"cfg": cfg, "table": results / "table.md", "dataset": DDIR, "settings": settings,
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
