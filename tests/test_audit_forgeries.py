"""Forgeries that stay consistent: predictions edited, metrics.json rewritten from them by the
evaluation area's own code, the table re-aggregated by `motionmvm.eval.aggregate`, and dvc.lock
recommitted (`relock`, what `dvc commit --force` does). The audit must still fail, naming the
cell and the broken link; the honest trees pass.

A realistic tree (eval_tree: real videos, the evaluation commands) carries the forgeries that need
the real evaluation (subset, cherry-picked few-shot draws, a scored clip claimed undecodable); the
fabricated tree (results_tree) the others."""
import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from motionmvm import config
from motionmvm.eval import aggregate as agg
from motionmvm.io import read_json, write_json
from motionmvm.report.audit import audit
from tests.helpers import eval_tree, results_tree

REPO = Path(__file__).resolve().parents[1]
LP = "linear_probe/videomae/synth"
FS = "fewshot/videomae/synth_mimed"


def reaggregate_and_commit(root: Path = Path(".")) -> None:
    """`motionmvm aggregate` (table, summary and health gates) then what `dvc commit -f` does."""
    from motionmvm import cli

    assert cli.main(["aggregate", "--profile", "smoke"]) == 0
    results_tree.relock(root)


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(path.open()))
    return rows[0], rows[1:]


def write_rows(path: Path, head: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([head, *rows])


def forge(run: Path, edit) -> dict:
    """Edit a run's predictions (edit(head, rows) -> head, rows), make metrics.json agree,
    re-aggregate, recommit; returns the new metrics."""
    head, rows = edit(*read_rows(run / "predictions.csv"))
    write_rows(run / "predictions.csv", head, rows)
    m = results_tree.rewrite_metrics(run)
    reaggregate_and_commit()
    return m


def broken(cfg, cell: str, link: str) -> list[str]:
    res = audit("results/smoke/table.md", cfg)
    assert not res["ok"]
    hits = [p for p in res["problems"] if p.startswith(cell) and f": {link}: " in p]
    assert hits, res["problems"]
    return hits


def correct(row: list[str]) -> bool:
    return row[1] == row[2]


# --- the realistic tree -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval_tree")
    eval_tree.build(root)
    return root


@pytest.fixture
def real(built, tmp_path, monkeypatch):
    root = tmp_path / "tree"
    shutil.copytree(built, root, symlinks=True)
    monkeypatch.chdir(root)
    return config.load("params.yaml", "smoke")


def test_honest_realistic_tree_passes(real):
    res = audit("results/smoke/table.md", real)
    assert res["ok"], res["problems"]
    assert len(res["cells"]) == 4  # linear probe x 2 methods, few-shot, domain adaptation


def test_subset_forgery_keeps_the_correct_clips(real):
    """The issue's forgery: keep the correct predictions and a few wrong ones, fix top1, re-aggregate."""
    run = Path(f"runs/smoke/eval/{LP}/seed0")
    before = read_json(run / "metrics.json")["top1"]
    m = forge(run, lambda head, rows: (head, [r for r in rows if correct(r)] + [r for r in rows if not correct(r)][:1]))
    assert m["top1"] > before  # a better number, consistent everywhere
    (p,) = broken(real, LP, "scored clips")
    assert "missing" in p and "a subset was scored" in p and "seed0" in p


def test_cherry_picked_fewshot_draws(real):
    """Run more draws than params define, keep the best, renumber them 0..draws-1."""
    from motionmvm import cli

    run = Path(f"runs/smoke/eval/{FS}/seed0")
    extra = run.parent / "many"
    with pytest.MonkeyPatch.context() as mp:
        from eval_doubles import build_tiny_encoder
        from motionmvm.eval import encoder as enc_mod

        mp.setattr(enc_mod, "build_encoder", build_tiny_encoder)
        assert cli.main(["fewshot", "--profile", "smoke", "--method", "videomae", "--seed", "0", "--draws", "12",
                         "--out", str(extra)]) == 0
    many = read_json(extra / "metrics.json")
    best = sorted(range(12), key=lambda d: -many["top1_per_draw"][d])[:3]
    head, rows = read_rows(extra / "predictions.csv")
    keep = []
    for new, old in enumerate(best):
        keep += [[r[0].replace(f"#draw{old}", f"#draw{new}"), *r[1:]] for r in rows if r[0].endswith(f"#draw{old}")]
    shutil.rmtree(extra)
    before = read_json(run / "metrics.json")["top1"]
    write_rows(run / "predictions.csv", head, keep)
    m = read_json(run / "metrics.json")
    m["shots"] = [many["shots"][d] for d in best]
    write_json(run / "metrics.json", m)
    m = results_tree.rewrite_metrics(run)
    reaggregate_and_commit()
    assert m["top1"] > before
    hits = broken(real, FS, "draws")
    assert any("not the seeded draw rule's" in p and "cherry-picked" in p for p in hits), hits


def test_scored_clip_dropped_as_quarantined(real):
    """Drop wrong clips and list them as "failed to decode at evaluation": they decode."""
    run = Path(f"runs/smoke/eval/{LP}/seed1")
    _, rows = read_rows(run / "predictions.csv")
    wrong = [r[0] for r in rows if not correct(r)]
    forge(run, lambda head, rows: (head, [r for r in rows if correct(r)]))
    m = read_json(run / "metrics.json")
    m["quarantined"] += [{"clip_id": c, "reason": "decode at evaluation: corrupt"} for c in wrong]
    write_json(run / "metrics.json", m)
    reaggregate_and_commit()
    hits = broken(real, LP, "quarantine")
    assert any("decodes" in p and wrong[0] in p for p in hits), hits


# --- the fabricated tree ------------------------------------------------------------------------

CELL0 = "linear_probe/videomae/synth"


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    results_tree.build(tmp_path, REPO)
    return config.load("params.yaml", "smoke")


def test_honest_fabricated_tree_passes(tree):
    assert audit("results/smoke/table.md", tree)["ok"]


def test_relabelled_true_labels(tree):
    """Wrong rows get the predicted class as their true label."""
    run = Path("runs/smoke/eval/linear_probe/videomae/synth/seed0")
    forge(run, lambda head, rows: (head, [[r[0], r[2], *r[2:]] for r in rows]))
    (p,) = broken(tree, CELL0, "labels")
    assert "relabelled" in p and "seed0" in p


def test_scored_on_the_train_split(tree):
    """The probe's own training clips score better; the run claims nothing else changed."""
    run = Path("runs/smoke/eval/linear_probe/videomae/synth/seed1")
    results_tree.write_predictions(run / "predictions.csv", np.random.default_rng(1), skill=6.0, split="train")
    results_tree.rewrite_metrics(run)
    reaggregate_and_commit()
    hits = broken(tree, CELL0, "scored clips")
    assert any("not among" in p and "from split train" in p for p in hits), hits


def test_dropped_bad_seed(tree):
    """Delete the worst seed's run and re-aggregate: the cell now has 2 seeds."""
    base = Path("runs/smoke/eval/linear_probe/videomae/synth")
    worst = min(results_tree.SEEDS, key=lambda s: read_json(base / f"seed{s}/metrics.json")["top1"])
    shutil.rmtree(base / f"seed{worst}")
    reaggregate_and_commit()
    hits = broken(tree, CELL0, "incomplete")
    assert any("built from seeds" in p and "the experiment defines [0, 1, 2]" in p for p in hits), hits


def test_duplicated_good_clips(tree):
    """Wrong rows replaced by copies of correct ones (same row count)."""
    run = Path("runs/smoke/eval/linear_probe/videomae/synth/seed2")

    def dup(head, rows):
        good = [r for r in rows if correct(r)]
        return head, [r if correct(r) else good[i % len(good)] for i, r in enumerate(rows)]

    forge(run, dup)
    hits = broken(tree, CELL0, "scored clips")
    assert any("more than once" in p and "duplicated" in p for p in hits), hits


def test_swapped_class_columns(tree):
    """Two class columns renamed into each other, labels rewritten by name: the classifier's
    systematic confusion between them becomes correct."""
    run = Path("runs/smoke/eval/linear_probe/videomae/synth/seed0")

    def swap(head, rows):
        head = head[:3] + [head[4], head[3], *head[5:]]
        names = [h[len("prob_"):] for h in head[3:]]
        old = list(results_tree.CLASSES)
        return head, [[r[0], str(names.index(old[int(r[1])])), *r[2:]] for r in rows]

    forge(run, swap)
    hits = broken(tree, CELL0, "class columns")
    assert any("classInd.txt order" in p for p in hits), hits


def test_aggregation_bug_is_caught_independently(tree, monkeypatch):
    """A normal-approximation CI (too narrow for 3 seeds) in the aggregation: the audit's own
    t interval disagrees with summary.json and with the printed table."""
    from scipy import stats

    def z_ci(values, confidence=0.95):
        x = np.asarray(values, float)
        half = stats.norm.ppf((1 + confidence) / 2) * x.std(ddof=1) / np.sqrt(x.size)
        return {"n": x.size, "mean": float(x.mean()), "std": float(x.std(ddof=1)), "half_width": float(half),
                "ci_low": float(x.mean() - half), "ci_high": float(x.mean() + half)}

    monkeypatch.setattr(agg, "mean_ci", z_ci)
    reaggregate_and_commit()
    res = audit("results/smoke/table.md", tree)
    assert any(p.startswith(CELL0) and ": summary.json: top1" in p for p in res["problems"]), res["problems"]
    assert any(p.startswith(CELL0) and ": table.md: printed" in p for p in res["problems"]), res["problems"]


def test_signed_summary_verifies_and_catches_a_later_forgery(tree, capsys):
    from motionmvm.cli import main

    assert main(["audit", "results/smoke/table.md", "--out", "results/smoke/audit.json"]) == 0
    summary = Path("results/smoke/audit_summary.json")
    body = read_json(summary)
    assert body["audit_ok"] and len(body["cells"]) == 2 and len(body["cells"][0]["runs"]) == 3
    r = body["cells"][0]["runs"][0]
    assert {"predictions_sha256", "manifest_hash", "checkpoint_sha256", "params_hash", "code_commit"} <= set(r)
    assert main(["audit", "--verify", str(summary)]) == 0
    assert "every hash holds" in capsys.readouterr().out
    run = Path("runs/smoke/eval/linear_probe/mgm/synth/seed1")
    forge(run, lambda head, rows: (head, [[r[0], r[2], *r[2:]] for r in rows]))
    assert main(["audit", "--verify", str(summary)]) == 1
    out = capsys.readouterr().out
    assert "VERIFY FAIL linear_probe/mgm/synth" in out and "predictions: " in out and "seed1/predictions.csv" in out
    assert "results/smoke/table.md: differs" in out
    body["cells"][0]["printed"] = "99.9 ± 0.1"
    write_json(summary, body)
    assert main(["audit", "--verify", str(summary)]) == 1
    assert "digest does not match" in capsys.readouterr().out


# --- the audit's own rules agree with the evaluation's ------------------------------------------

def test_selection_and_draw_rules_match_the_evaluation(real):
    """The audit restates load_bank's capped subsample and draw_shots' draws; on honest data both
    give the evaluation's clips (a divergence would fail every honest run)."""
    from motionmvm.data.clips import load_bank
    from motionmvm.eval.probe import draw_shots
    from motionmvm.report import audit_clips

    view = audit_clips.DatasetView(Path("data/smoke/synth"))
    for seed in range(4):
        bank = load_bank("data/smoke/synth", "test", 16, max_clips=7, seed=seed)
        assert bank.clip_ids == [e["clip_id"] for e in view.selected("test", 7, seed)]
    rng = np.random.default_rng(0)
    for seed in range(3):
        labels = rng.integers(0, 4, 40)
        for d in range(5):
            assert audit_clips.draw_rule(labels.tolist(), 3, 4, seed, d) == draw_shots(labels, 3, 4, seed, d).tolist()


def test_fewshot_on_a_test_only_dataset(real):
    """Shots drawn from the test split: each draw must score the rest of it; scoring the shots
    themselves too (a free win per shot) is caught."""
    from motionmvm import cli
    from motionmvm.data import manifest

    d = Path("data/smoke/synth_mimed")
    entries = [e for e in manifest.load(d, status=None) if e["split"] == "test"]
    manifest.write(d, entries)  # a test-only dataset (Mimetics-like)
    # its clip store follows its manifest (the DAG's data store step; readers refuse a stale one)
    assert cli.main(["data", "store", "--profile", "smoke", "--dataset", "synth_mimed"]) == 0
    shutil.rmtree("runs/smoke/eval/fewshot")
    with pytest.MonkeyPatch.context() as mp:
        from eval_doubles import build_tiny_encoder
        from motionmvm.eval import encoder as enc_mod

        mp.setattr(enc_mod, "build_encoder", build_tiny_encoder)
        for seed in eval_tree.SEEDS:
            assert cli.main(["fewshot", "--profile", "smoke", "--method", "videomae", "--seed", str(seed)]) == 0
    reaggregate_and_commit()
    assert read_json(Path(f"runs/smoke/eval/{FS}/seed0/metrics.json"))["shot_split"] == "test"
    res = audit("results/smoke/table.md", real)
    assert res["ok"], res["problems"]
    run = Path(f"runs/smoke/eval/{FS}/seed2")
    shots = read_json(run / "metrics.json")["shots"]

    def add_shots(head, rows):
        k = len(head) - 3
        label = {e["clip_id"]: e["label"] for e in entries}
        extra = [[f"{c}#draw0", str(label[c]), str(label[c]), *("1.0" if j == label[c] else "0.0" for j in range(k))]
                 for c in shots[0]]
        return head, rows + extra

    forge(run, add_shots)
    hits = broken(real, FS, "scored clips")
    assert any("not among" in p and "draw 0's test set" in p for p in hits), hits
