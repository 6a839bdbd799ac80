"""Per-clip predictions (predictions.csv) and the metrics recomputed from them.

predictions.csv columns: `clip_id, label, pred, prob_<class name>...` with one probability column
per class the classifier predicts over (softmax, averaged over the views of a video where there are
several). `label` is the index of the true class among those columns. Every number in metrics.json
comes from `recompute_metrics`, so the audit can recompute it from the CSV alone.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from motionmvm.io import atomic_write_text

PROB_PREFIX = "prob_"
DRAW_SEP = "#draw"  # few-shot: one row per (clip, draw)


def write_predictions(path: str | Path, clip_ids: list[str], labels: np.ndarray, probs: np.ndarray,
                      class_names: list[str]) -> None:
    """clip_ids: [N]; labels: int [N] (column index); probs: float [N, K]; class_names: [K]."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n, k = probs.shape
    if len(clip_ids) != n or labels.shape != (n,) or len(class_names) != k:
        raise ValueError(f"predictions: {len(clip_ids)} clip ids, labels {labels.shape}, probs "
                         f"{probs.shape}, {len(class_names)} class names do not agree")
    if len(set(clip_ids)) != n:
        raise ValueError("predictions: clip ids are not unique")
    if n and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"predictions: labels must lie in [0, {k}), got [{labels.min()}, {labels.max()}]")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["clip_id", "label", "pred", *(PROB_PREFIX + c for c in class_names)])
    for cid, y, p in zip(clip_ids, labels, probs):
        w.writerow([cid, int(y), int(p.argmax()), *(repr(float(v)) for v in p)])
    atomic_write_text(path, buf.getvalue())


def read_predictions(path: str | Path) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """-> clip_ids [N], labels int [N], probs [N, K], class_names [K]."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ValueError(f"{path}: empty predictions file")
    head = rows[0]
    if head[:3] != ["clip_id", "label", "pred"] or not all(h.startswith(PROB_PREFIX) for h in head[3:]):
        raise ValueError(f"{path}: header must be clip_id,label,pred,{PROB_PREFIX}<class>...; got {head[:4]}...")
    names = [h[len(PROB_PREFIX):] for h in head[3:]]
    body = rows[1:]
    ids = [r[0] for r in body]
    labels = np.array([int(r[1]) for r in body], dtype=np.int64)
    probs = np.array([[float(v) for v in r[3:]] for r in body], dtype=np.float64).reshape(len(body), len(names))
    return ids, labels, probs, names


def metrics_from_probs(labels: np.ndarray, probs: np.ndarray, class_names: list[str],
                       eval_classes: list[str] | None = None) -> dict:
    """Top-1, top-5 (top-min(5, K)), per-class accuracy, confusion matrix [true, predicted].

    eval_classes: the classes that can occur in this evaluation (partial domain adaptation: the
    target's subset); adds `negative_transfer`, the fraction of predictions outside them.
    """
    labels = np.asarray(labels)
    probs = np.asarray(probs)
    n, k = probs.shape
    if n == 0:
        raise ValueError("no predictions to score")
    pred = probs.argmax(1)
    topk = min(5, k)
    top = np.argsort(-probs, axis=1, kind="stable")[:, :topk]
    conf = np.zeros((k, k), dtype=np.int64)
    np.add.at(conf, (labels, pred), 1)
    support = conf.sum(1)
    per_class = {c: (float(conf[i, i] / support[i]) if support[i] else None) for i, c in enumerate(class_names)}
    out = {
        "top1": float((pred == labels).mean()),
        "top5": float((top == labels[:, None]).any(1).mean()),
        "topk_k": topk,
        "mean_class_accuracy": float(np.mean([v for v in per_class.values() if v is not None])),
        "per_class_accuracy": per_class,
        "confusion_matrix": conf.tolist(),
        "class_names": list(class_names),
        "clips_evaluated": int(n),
    }
    if eval_classes is not None:
        unknown = sorted(set(eval_classes) - set(class_names))
        if unknown:
            raise ValueError(f"eval_classes {unknown} are not among the predicted classes")
        inside = np.isin(np.asarray(class_names)[pred], list(eval_classes))
        out["negative_transfer"] = float(1.0 - inside.mean())
        out["eval_classes"] = list(eval_classes)
    return out


def per_draw(ids: list[str], labels: np.ndarray, probs: np.ndarray) -> dict | None:
    """Few-shot files hold every draw (clip ids `<id>#draw<d>`): top-1 per draw, mean and 95% CI."""
    if not ids or not all(DRAW_SEP in c for c in ids):
        return None
    from motionmvm.eval.stats import mean_ci

    draw = np.array([int(c.rsplit(DRAW_SEP, 1)[1]) for c in ids])
    correct = probs.argmax(1) == labels
    accs = [float(correct[draw == d].mean()) for d in sorted(set(draw.tolist()))]
    return {"top1_per_draw": accs, "top1_over_draws": mean_ci(accs)}


def recompute_metrics(predictions_csv: str | Path, eval_classes: list[str] | None = None) -> dict:
    """Every metric of a run recomputed from its predictions.csv (also used to write metrics.json).

    eval_classes: see `metrics_from_probs` (domain adaptation runs record it in metrics.json).
    """
    ids, labels, probs, names = read_predictions(predictions_csv)
    out = metrics_from_probs(labels, probs, names, eval_classes)
    draws = per_draw(ids, labels, probs)
    if draws:
        out.update(draws)
    return out
