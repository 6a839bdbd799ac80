"""Run directories and the metrics.json + predictions.csv pair every protocol writes."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from motionmvm.eval.metrics import recompute_metrics, write_predictions
from motionmvm.io import write_json

PROTOCOLS = ("finetune", "mar_finetune", "linear_probe", "fewshot", "domain_adapt")


def run_dir(cfg: dict, protocol: str, method: str, dataset: str, seed: int) -> Path:
    """runs/P/eval/<protocol>/<method>/<dataset>/seed<S>."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol {protocol!r} is not one of {PROTOCOLS}")
    return Path(cfg["paths"]["runs"]) / cfg["profile"] / "eval" / protocol / method / dataset / f"seed{seed}"


def dataset_dir(cfg: dict, dataset: str) -> Path:
    return Path(cfg["paths"]["data"]) / cfg["profile"] / dataset


def pretrain_encoder(cfg: dict, method: str, seed: int) -> Path:
    return Path(cfg["paths"]["runs"]) / cfg["profile"] / "pretrain" / method / f"seed{seed}" / "encoder.pt"


def write_run(out_dir: str | Path, cfg: dict, *, clip_ids: list[str], labels: np.ndarray,
              probs: np.ndarray, class_names: list[str], seed: int, started: float,
              quarantined: list[dict], dataset_dirs: list[Path], checkpoint: str | Path | None,
              scored: dict, eval_classes: list[str] | None = None, extra: dict | None = None) -> dict:
    """predictions.csv first, then metrics.json recomputed from it (so the two always agree).

    scored: the `selection` of the ClipBank whose clips were scored; recorded with the hash of its
    dataset's manifest and the dataset whose classes are the probability columns (dataset_dirs[0]),
    so the audit can recompute which clips, labels and columns predictions.csv must hold.
    """
    from motionmvm.io import read_json
    from motionmvm.provenance import record

    out_dir = Path(out_dir)
    pred_path = out_dir / "predictions.csv"
    write_predictions(pred_path, clip_ids, labels, probs, class_names)
    metrics = recompute_metrics(pred_path, eval_classes)
    prov = record(cfg, dataset_dir=dataset_dirs[0], checkpoint=checkpoint, seed=seed, started=started,
                  datasets=[str(d) for d in dataset_dirs])
    metrics.update({
        "scored": {**scored, "manifest_hash": read_json(Path(scored["dataset"]) / "manifest.json")["hash"],
                   "classes_from": str(dataset_dirs[0])},
        "seed": seed,
        "clips_quarantined": len(quarantined),
        "quarantined": quarantined,
        "wall_time_s": round(time.time() - started, 3),
        "provenance": prov,
        **(extra or {}),
    })
    metrics.setdefault("gflops_per_view", None)
    write_json(out_dir / "metrics.json", metrics)
    return metrics
