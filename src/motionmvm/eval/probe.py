"""Frozen-encoder features (cached as npz with clip ids), linear classifiers, few-shot draws."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from motionmvm.data.clips import ClipBank, test_views
from motionmvm.io import atomic_path


@torch.no_grad()
def extract_features(encoder, bank: ClipBank, clip_len: int, stride: int, size: int,
                     batch_size: int) -> np.ndarray:
    """One centre view per clip (deterministic, so features are computed once) -> [N, D] float32."""
    from motionmvm.eval.engine import device

    encoder.to(device()).eval()
    views = [test_views(bank, i, clip_len, stride, size, 1, 1)[0] for i in range(len(bank))]
    feats = [encoder.forward_features(torch.stack(views[j:j + batch_size]).to(device())).float().cpu()
             for j in range(0, len(views), batch_size)]
    return torch.cat(feats).numpy()


def cached_features(path: str | Path, key: str, compute) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Features from `path` (npz: features [N, D], clip_ids [N], labels [N], key) when its key
    matches (encoder checksum + settings), else compute() -> (features, clip_ids, labels) and store."""
    path = Path(path)
    if path.exists():
        z = np.load(path, allow_pickle=False)
        if str(z["key"]) == key:
            return z["features"], [str(c) for c in z["clip_ids"]], z["labels"]
    feats, ids, labels = compute()
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, features=feats, clip_ids=np.asarray(ids), labels=labels, key=np.asarray(key))
    return feats, ids, labels


def fit_linear(train_x: np.ndarray, train_y: np.ndarray, num_classes: int, c: float, max_iter: int,
               seed: int):
    """Standardised features -> multinomial logistic regression (scikit-learn, lbfgs).

    -> predict_proba(x) giving [N, num_classes] (classes absent from training get probability 0).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=max_iter, random_state=seed))
    clf.fit(train_x, train_y)
    classes = clf.classes_

    def predict_proba(x: np.ndarray) -> np.ndarray:
        p = np.zeros((len(x), num_classes))
        p[:, classes] = clf.predict_proba(x)
        return p

    return predict_proba


def draw_shots(labels: np.ndarray, k: int, num_classes: int, seed: int, draw: int) -> np.ndarray:
    """Indices of k samples per class, drawn without replacement from rng([seed, draw])."""
    rng = np.random.default_rng([seed, draw])
    picks = []
    for c in range(num_classes):
        pool = np.flatnonzero(labels == c)
        if len(pool) < k:
            raise ValueError(f"few-shot: class {c} has {len(pool)} training clips, fewer than k={k}")
        picks.append(np.sort(rng.choice(pool, size=k, replace=False)))
    return np.concatenate(picks)
