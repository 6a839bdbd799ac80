"""The audit's own arithmetic: every number of a cell recomputed from predictions.csv and the
manifest, independently of `motionmvm.eval` (whose bugs the audit must be able to catch).

Definitions (those of docs/evaluation.md, written out again here):
- top-k: the true class is among the k highest probabilities, ties going to the lower column
  (a stable sort of the columns); k = min(5, number of columns);
- mean class accuracy: the mean over classes with at least one scored clip of their top-1;
- negative transfer: the fraction of argmax predictions outside `eval_classes`;
- interval: Student t over seeds, `scipy.stats.t.interval(c, n - 1, loc=mean, scale=sem)`;
- paired difference: the same interval over per-seed differences on the seeds both cells have.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

PREFIX = "prob_"
DRAW = "#draw"


@dataclass
class Predictions:
    ids: list[str]          # as written (few-shot: `<clip>#draw<d>`)
    labels: np.ndarray      # int [N], column index of the true class
    probs: np.ndarray       # [N, K]
    columns: list[str]      # class names of the probability columns, in order

    def clip_and_draw(self) -> list[tuple[str, int | None]]:
        out = []
        for c in self.ids:
            base, sep, d = c.rpartition(DRAW)
            out.append((base, int(d)) if sep and d.isdigit() else (c, None))
        return out


def read(path: str | Path) -> Predictions:
    """predictions.csv -> Predictions; ValueError naming the file on a malformed one."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0][:3] != ["clip_id", "label", "pred"] or not all(h.startswith(PREFIX) for h in rows[0][3:]):
        raise ValueError(f"{path}: header must be clip_id,label,pred,{PREFIX}<class>...")
    k = len(rows[0]) - 3
    if k == 0 or any(len(r) != k + 3 for r in rows[1:]):
        raise ValueError(f"{path}: every row needs {k} probability columns")
    try:
        labels = np.array([int(r[1]) for r in rows[1:]], dtype=np.int64)
        probs = np.array([[float(v) for v in r[3:]] for r in rows[1:]], dtype=np.float64).reshape(-1, k)
    except ValueError as exc:
        raise ValueError(f"{path}: not a number: {exc}") from None
    if len(labels) == 0:
        raise ValueError(f"{path}: no predictions")
    if labels.min() < 0 or labels.max() >= k:
        raise ValueError(f"{path}: a label lies outside the {k} class columns")
    return Predictions([r[0] for r in rows[1:]], labels, probs, [h[len(PREFIX):] for h in rows[0][3:]])


def hits(labels: np.ndarray, probs: np.ndarray, k: int) -> np.ndarray:
    """bool [N]: the true class ranks among the first k (rank = columns scoring higher, plus
    equal-scoring columns to its left)."""
    true = probs[np.arange(len(labels)), labels][:, None]
    left = np.arange(probs.shape[1])[None, :] < labels[:, None]
    rank = (probs > true).sum(1) + ((probs == true) & left).sum(1)
    return rank < k


def scores(p: Predictions, eval_classes: list[str] | None = None) -> dict:
    """top1, top5, mean_class_accuracy (+ negative_transfer, + top1_per_draw for few-shot)."""
    top1 = hits(p.labels, p.probs, 1)
    out = {"top1": float(top1.mean()), "top5": float(hits(p.labels, p.probs, min(5, p.probs.shape[1])).mean()),
           "mean_class_accuracy": float(np.mean([top1[p.labels == c].mean() for c in np.unique(p.labels)]))}
    if eval_classes is not None:
        allowed = [i for i, c in enumerate(p.columns) if c in set(eval_classes)]
        out["negative_transfer"] = float(1.0 - np.isin(p.probs.argmax(1), allowed).mean())
    draws = [d for _, d in p.clip_and_draw()]
    if all(d is not None for d in draws):
        d = np.array(draws)
        out["top1_per_draw"] = [float(top1[d == i].mean()) for i in sorted(set(draws))]
    return out


def interval(values: list[float], confidence: float) -> tuple[float, float | None]:
    """Mean and half-width of the t interval (None for a single value)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        return float(x.mean()), None
    sem = stats.sem(x)
    if sem == 0:  # identical values: a zero-width interval (scipy answers nan for scale 0)
        return float(x.mean()), 0.0
    lo, hi = stats.t.interval(confidence, x.size - 1, loc=x.mean(), scale=sem)
    return float(x.mean()), float((hi - lo) / 2)


def paired(a: dict, b: dict, confidence: float) -> tuple[float, float | None, list[int]] | None:
    """a, b: {seed: value} -> interval of a - b over the common seeds (None without one)."""
    common = sorted(set(a) & set(b))
    if not common:
        return None
    return (*interval([a[s] - b[s] for s in common], confidence), common)
