import json

import numpy as np
import pytest
from scipy import stats

from motionmvm.eval.aggregate import aggregate
from motionmvm.eval.metrics import metrics_from_probs, read_predictions, recompute_metrics, write_predictions
from motionmvm.eval.outputs import write_run
from motionmvm.eval.stats import mean_ci, paired_difference
from eval_doubles import fake_dataset_dir

CFG = {"profile": "smoke", "paths": {}, "eval": {}}


def test_metrics_by_hand():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3], [0.6, 0.3, 0.1]])
    labels = np.array([0, 1, 1, 2])
    m = metrics_from_probs(labels, probs, ["a", "b", "c"])
    assert m["top1"] == pytest.approx(0.5)
    assert m["top5"] == 1.0 and m["topk_k"] == 3
    assert m["per_class_accuracy"] == {"a": 1.0, "b": 0.5, "c": 0.0}
    assert m["confusion_matrix"] == [[1, 0, 0], [0, 1, 1], [1, 0, 0]]


def test_metrics_json_equals_recomputation(tmp_path):
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(6), size=40)
    labels = rng.integers(0, 6, 40)
    ids = [f"clip{i}" for i in range(40)]
    out = tmp_path / "run"
    m = write_run(out, CFG, clip_ids=ids, labels=labels, probs=probs, class_names=list("abcdef"), seed=3,
                  started=0.0, quarantined=[{"clip_id": "q", "reason": "truncated"}],
                  dataset_dirs=[fake_dataset_dir(tmp_path)], checkpoint=None,
                  scored={"dataset": str(fake_dataset_dir(tmp_path)), "split": "test", "max_clips": 0, "seed": 3})
    saved = json.loads((out / "metrics.json").read_text())
    again = recompute_metrics(out / "predictions.csv")
    for key, value in again.items():
        assert saved[key] == value, key
    assert saved["clips_quarantined"] == 1 and saved["seed"] == 3 and "provenance" in saved
    assert saved["provenance"]["dataset"]["manifest_hash"] == "test-hash"
    assert saved["scored"]["manifest_hash"] == "test-hash" and saved["scored"]["split"] == "test"
    rids, rlabels, rprobs, names = read_predictions(out / "predictions.csv")
    assert rids == ids and (rlabels == labels).all() and np.allclose(rprobs, probs) and names == list("abcdef")
    assert m["top1"] == pytest.approx(float((probs.argmax(1) == labels).mean()))


def test_predictions_refuse_bad_input(tmp_path):
    with pytest.raises(ValueError, match="labels must lie"):
        write_predictions(tmp_path / "p.csv", ["a"], np.array([3]), np.ones((1, 3)) / 3, ["x", "y", "z"])
    with pytest.raises(ValueError, match="not unique"):
        write_predictions(tmp_path / "p.csv", ["a", "a"], np.array([0, 1]), np.ones((2, 2)) / 2, ["x", "y"])


@pytest.mark.parametrize("n", [2, 3, 10])
def test_ci_matches_scipy(n):
    x = np.random.default_rng(n).normal(0.6, 0.05, n)
    r = mean_ci(x)
    lo, hi = stats.t.interval(0.95, n - 1, loc=x.mean(), scale=stats.sem(x))
    assert r["ci_low"] == pytest.approx(lo) and r["ci_high"] == pytest.approx(hi)
    assert r["std"] == pytest.approx(np.std(x, ddof=1))


def test_ci_single_value_has_no_spread():
    assert mean_ci([0.5])["ci_low"] is None


def test_paired_difference_uses_common_seeds():
    d = paired_difference({0: 0.7, 1: 0.8, 2: 0.9}, {0: 0.6, 1: 0.6, 5: 0.1})
    assert d["seeds"] == [0, 1] and d["mean"] == pytest.approx(0.15)


def test_negative_transfer_fraction():
    # source classes a..e; the target has only b and d; 2 of 5 predictions fall on source-only classes
    names = ["a", "b", "c", "d", "e"]
    pred = [1, 3, 0, 4, 1]
    probs = np.eye(5)[pred] * 0.9 + 0.02
    labels = np.array([1, 3, 3, 1, 1])
    m = metrics_from_probs(labels, probs, names, eval_classes=["b", "d"])
    assert m["negative_transfer"] == pytest.approx(2 / 5)
    assert m["top1"] == pytest.approx(3 / 5)


def test_aggregate_table(tmp_path):
    root = tmp_path / "eval"
    for method, base in (("videomae", 0.6), ("mgm", 0.7)):
        for seed in range(3):
            d = root / "finetune" / method / "synth" / f"seed{seed}"
            d.mkdir(parents=True)
            (d / "metrics.json").write_text(json.dumps({"top1": base + 0.01 * seed, "top5": 1.0}))
    rows = aggregate(root, tmp_path / "results")
    mgm = next(r for r in rows if r["method"] == "mgm")
    assert mgm["top1"]["mean"] == pytest.approx(0.71)
    assert mgm["vs_baseline"]["top1"]["mean"] == pytest.approx(0.1)
    assert (tmp_path / "results" / "table.csv").read_text().count("\n") == 3
    assert "mgm" in (tmp_path / "results" / "table.md").read_text()
