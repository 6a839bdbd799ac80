"""Seconds `motionmvm audit` takes on a results tree of the small profile's shape, on this machine.

Builds a throwaway tree in a temp dir with the small profile's datasets (clip counts per class
and split from params `profiles.small.data`, videos as random bytes of `--video-kb` KB: the audit
hashes them, never decodes them), one encoder.pt of `--ckpt-mb` MB per method and seed, and every
evaluation run of the experiment (each protocol x method x seed the workflow's `eval_all_metrics`
lists) written by the evaluation area's own `write_run` with random predictions that score exactly
the runs' test clips; few-shot draws from `eval.probe.draw_shots`. Then `motionmvm aggregate`,
then the audit, timed (with and without re-hashing the videos).

    PYTHONPATH=src python benchmarks/audit.py [--profile small]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import machine, timed

ROOT = Path(__file__).resolve().parents[1]


def make_dataset(d: Path, spec: dict, rng, video_kb: int) -> list[dict]:
    from motionmvm.data import manifest
    from motionmvm.io import sha256_file

    classes = [f"class{i}" for i in range(spec["num_classes"])]
    d.mkdir(parents=True)
    (d / "classInd.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(classes)))
    entries = []
    for split in ("train", "test"):
        for ci, c in enumerate(classes):
            for i in range(spec[f"{split}_per_class"]):
                cid, rel = f"{d.name}_{split}_{c}_{i}", f"videos/{d.name}_{split}_{c}_{i}.mp4"
                (d / rel).parent.mkdir(exist_ok=True)
                (d / rel).write_bytes(rng.bytes(video_kb * 1024))
                entries.append(dict(clip_id=cid, path=rel, label=ci, label_name=c, split=split, domain=d.name,
                                    frames=spec["frames"], fps=25, width=spec["size"], height=spec["size"],
                                    size=video_kb * 1024, sha256=sha256_file(d / rel), status="ok", reason=""))
    manifest.write(d, entries)
    return entries


def build(root: Path, cfg: dict, video_kb: int, ckpt_mb: int) -> int:
    from motionmvm.data import manifest
    from motionmvm.eval.aggregate import aggregate
    from motionmvm.eval.outputs import write_run
    from motionmvm.eval.probe import draw_shots

    rng = np.random.default_rng(0)
    data = Path("data") / cfg["profile"]
    ev, exp = cfg["eval"], cfg["experiment"]
    fs, da = ev["fewshot"], ev["domain_adapt"]
    for name in sorted({*exp["eval_datasets"], fs["dataset"], da["source"], da["target"]}):
        make_dataset(data / name, cfg["data"][name], rng, video_kb)

    def bank(name, split):
        es = manifest.load(data / name, split=split)
        classes = (data / name / "classInd.txt").read_text().split()[1::2]
        return [e["clip_id"] for e in es], np.array([classes.index(e["label_name"]) for e in es]), classes

    def encoder(method, seed):
        path = Path(cfg["paths"]["runs"]) / cfg["profile"] / "pretrain" / method / f"seed{seed}" / "encoder.pt"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(rng.bytes(ckpt_mb << 20))
        return path

    def run(protocol, method, ds, seed, ids, labels, classes, views, scored_ds, extra=None, eval_classes=None):
        out = Path(cfg["paths"]["runs"]) / cfg["profile"] / "eval" / protocol / method / ds / f"seed{seed}"
        probs = rng.dirichlet(np.ones(len(classes)), size=len(ids))
        cap = {"finetune": ev["finetune"], "domain_adapt": ev["finetune"], "mar_finetune": ev["finetune"],
               "linear_probe": ev["linear_probe"], "fewshot": fs}[protocol]["max_test_clips"]
        src = data / (ds.split("-to-")[0] if protocol == "domain_adapt" else ds)
        write_run(out, cfg, clip_ids=ids, labels=labels, probs=probs, class_names=classes, seed=seed,
                  started=time.time(), quarantined=[], dataset_dirs=[src], checkpoint=encoder("videomae", seed),
                  scored={"dataset": str(data / scored_ds), "split": "test", "max_clips": cap, "seed": seed},
                  eval_classes=eval_classes, extra={"views_per_video": views, **(extra or {})})

    views = ev["finetune"]["test_clips"] * ev["finetune"]["test_crops"]
    methods = list(exp["methods"]) + list(ev["reference_methods"])
    n = 0
    for seed in exp["seeds"]:
        for ds in exp["eval_datasets"]:
            ids, labels, classes = bank(ds, "test")
            for m in methods:
                run("finetune", m, ds, seed, ids, labels, classes, views, ds)
                run("linear_probe", m, ds, seed, ids, labels, classes, 1, ds)
                n += 2
            for pct in ev["mar"]["mask_percents"]:
                run("mar_finetune", f"mar_r{pct}", ds, seed, ids, labels, classes, views, ds)
                n += 1
        tids, tlabels, classes = bank(fs["dataset"], "train")
        ids, labels, _ = bank(fs["dataset"], "test")
        shots = [[tids[i] for i in draw_shots(tlabels, fs["k"], len(classes), seed, d)] for d in range(fs["draws"])]
        for m in methods:
            run("fewshot", m, fs["dataset"], seed, [f"{c}#draw{d}" for d in range(fs["draws"]) for c in ids],
                np.tile(labels, fs["draws"]), classes, 1, fs["dataset"],
                extra={"k": fs["k"], "draws": fs["draws"], "shots": shots, "shot_split": "train"})
            n += 1
        _, _, src_classes = bank(da["source"], "train")
        ids, labels, tgt_classes = bank(da["target"], "test")
        mapped = np.array([src_classes.index(tgt_classes[y]) for y in labels])
        for m in exp["methods"]:
            run("domain_adapt", m, f"{da['source']}-to-{da['target']}", seed, ids, mapped, src_classes, views,
                da["target"], eval_classes=tgt_classes)
            n += 1
    aggregate(Path(cfg["paths"]["runs"]) / cfg["profile"] / "eval", Path(cfg["paths"]["results"]) / cfg["profile"],
              ev["confidence"])
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="small")
    ap.add_argument("--video-kb", type=int, default=60)
    ap.add_argument("--ckpt-mb", type=int, default=8)
    args = ap.parse_args()
    from motionmvm import config
    from motionmvm.report.audit import audit

    cfg = config.load(ROOT / "params.yaml", args.profile)
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        t = time.perf_counter()
        runs = build(Path(tmp), cfg, args.video_kb, args.ckpt_mb)
        print(f"built {runs} runs ({args.profile} shape) in {time.perf_counter() - t:.1f} s")
        result = {}
        for hash_videos in (True, False):
            wall, cpu = timed(lambda: result.update(audit(f"results/{args.profile}/table.md", cfg,
                                                          hash_videos=hash_videos, check_dvc_lock=False)))
            print(f"audit ({'with' if hash_videos else 'without'} video hashes): {len(result['cells'])} cells, "
                  f"ok={result['ok']}, {wall:.2f} s wall, {cpu:.2f} s CPU")
            for p in result["problems"][:5]:
                print("  ", p)
    print(machine())


if __name__ == "__main__":
    main()
