"""The audit's checks, one function per link (see docs/audit.md).

RUN_CHECKS take (auditor, run) and run on every run of a cell; CELL_CHECKS take (auditor, cell)
once its runs are checked; TABLE_CHECKS take (auditor, {key: cell}) once over the table. A check
reports with `aud.fail(cell, link, detail)`; a new artefact check is one function added to a list.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from motionmvm.config import planned_seeds
from motionmvm.io import read_json
from motionmvm.report import audit_clips as clips
from motionmvm.report import audit_recompute as rc
from motionmvm.report.table import Cell

if TYPE_CHECKING:
    from motionmvm.report.audit import Auditor

BASELINE = "videomae"  # paired differences: against videomae under the same protocol; MAR against
# videomae's full fine-tuning (the claim "as accurate at fewer FLOPs")
SUMMARY_METRICS = ("top1", "top5", "mean_class_accuracy", "negative_transfer")
PAIRED_METRICS = ("top1", "top5", "negative_transfer")


@dataclass
class Run:
    cell: str
    key: tuple[str, str, str]  # protocol, method, dataset
    seed: int
    path: Path                  # metrics.json
    rel: str
    metrics: dict
    preds: rc.Predictions | None
    recomputed: dict | None = None


@dataclass
class CellRuns:
    cell: Cell
    row: dict | None            # summary.json row
    printed: dict               # table.md row: header -> text
    runs: list[Run]
    recomputed: dict = field(default_factory=dict)  # metric -> {seed: value}


def baseline_key(key: tuple) -> tuple:
    protocol, _, dataset = key
    return ("finetune", BASELINE, dataset) if protocol == "mar_finetune" else (protocol, BASELINE, dataset)


def protocol_settings(cfg: dict, protocol: str) -> dict:
    """What params define for one run of `protocol`: its clip caps, views per video, draws."""
    ev = cfg["eval"]
    ft = ev["finetune"]
    if protocol == "domain_adapt":
        ft = {**ft, **{k: v for k, v in ev["domain_adapt"].items() if k not in ("source", "target")}}
    if protocol in ("finetune", "domain_adapt", "mar_finetune"):
        return {"max_test_clips": ft["max_test_clips"], "views_per_video": ft["test_clips"] * ft["test_crops"]}
    sec = ev[protocol]
    out = {"max_test_clips": sec["max_test_clips"], "views_per_video": 1}
    if protocol == "fewshot":
        out.update(max_train_clips=sec["max_train_clips"], k=sec["k"], draws=sec["draws"])
    return out


def _same_path(a, b) -> bool:
    return os.path.normpath(str(a)) == os.path.normpath(str(b))


def _close(a, b) -> bool:
    return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, abs_tol=1e-9)


# --- checks on one run ------------------------------------------------------------------------------

def check_files_locked(aud: "Auditor", run: Run) -> None:
    aud.check_lock(run.cell, run.path)
    aud.check_lock(run.cell, run.path.parent / "predictions.csv")


def check_provenance(aud: "Auditor", run: Run) -> None:
    prov = run.metrics.get("provenance")
    if not prov:
        return aud.fail(run.cell, "provenance", f"{run.rel} has no provenance block")
    if prov.get("params_hash") != aud.params_hash:
        aud.fail(run.cell, "params", f"{run.rel} was made with params hash {str(prov.get('params_hash'))[:12]}, "
                                     f"current params hash {aud.params_hash[:12]} (stale metrics file)")
    ck = prov.get("checkpoint")
    if ck:
        ck_path = aud.root / ck["path"]
        if not ck_path.exists():
            aud.fail(run.cell, "checkpoint", f"{ck['path']} is missing")
        elif aud.sha256(ck_path) != ck["sha256"]:
            aud.fail(run.cell, "checkpoint", f"{ck['path']} sha256 {aud.sha256(ck_path)[:12]} differs from "
                                             f"{ck['sha256'][:12]} recorded in {run.rel} (swapped checkpoint)")
        else:
            aud.check_lock(run.cell, ck_path)
    if prov.get("dataset"):
        aud.check_dataset(run.cell, prov["dataset"]["dir"], prov["dataset"]["manifest_hash"])
    for settings, recorded in (prov.get("motion") or {}).items():
        spath = aud.root / settings
        if not spath.exists():
            aud.fail(run.cell, "motion settings", f"{settings} is missing")
        elif read_json(spath).get("settings_hash") != recorded:
            aud.fail(run.cell, "motion settings", f"{settings} settings_hash differs from {recorded[:12]} "
                                                  f"recorded in {run.rel} (motion cache changed)")
        else:
            aud.check_lock(run.cell, spath)


def check_scored_clips(aud: "Auditor", run: Run) -> None:
    """predictions.csv covers exactly the scored split's usable clips, once each (per draw for
    few-shot), with the manifest's labels, and its columns are the dataset's classes in order."""
    protocol, _, dataset = run.key
    scored_name, classes_name = (dataset.split("-to-", 1)[::-1] if protocol == "domain_adapt"
                                 else (dataset, dataset))
    scored_dir, classes_dir = aud.data_rel / scored_name, aud.data_rel / classes_name  # relative to the root
    rec = run.metrics.get("scored")
    if not rec:
        return aud.fail(run.cell, "scored split", f"{run.rel} does not record which split of which manifest it "
                                                  "scored (made before runs recorded it: rerun the evaluation)")
    want = {"dataset": scored_dir, "split": "test", "max_clips": aud.settings(protocol)["max_test_clips"],
            "seed": run.seed, "classes_from": classes_dir}
    for k, v in want.items():
        same = _same_path(rec.get(k), v) if isinstance(v, Path) else rec.get(k) == v
        if not same:
            aud.fail(run.cell, "scored split", f"{run.rel} records {k} {rec.get(k)!r}, the protocol scores "
                                               f"{str(v) if isinstance(v, Path) else v!r}")
    if not aud.check_dataset(run.cell, str(scored_dir), rec.get("manifest_hash", "")) or run.preds is None:
        return
    view, class_view = aud.dataset_view(aud.root / scored_dir, run.cell), aud.dataset_view(aud.root / classes_dir, run.cell)
    if view is None or class_view is None:
        return
    classes = class_view.classes
    if run.preds.columns != classes:
        aud.fail(run.cell, "class columns", f"{run.rel}: predictions.csv columns {run.preds.columns[:4]}... are not "
                                            f"{classes_name}'s classes in classInd.txt order {classes[:4]}...")
    listed = {q["clip_id"] for q in run.metrics.get("quarantined", [])}
    unlisted = sorted(view.quarantined("test") - listed)
    if unlisted:
        aud.fail(run.cell, "quarantine", f"{run.rel} does not list the manifest's quarantined clips {unlisted[:3]}")
    test, found = clips.bank(view, "test", want["max_clips"], run.seed, listed)
    for p in found:
        aud.fail(run.cell, "quarantine", f"{run.rel}: {p}")
    test_ids = [e["clip_id"] for e in test]
    rows = run.preds.clip_and_draw()
    if protocol == "fewshot":
        check_draws(aud, run, view, listed, test_ids, rows)
    else:
        for p in clips.coverage([c for c, _ in rows], test_ids, f"the test split of {scored_name}", view):
            aud.fail(run.cell, "scored clips", f"{run.rel}: {p}")
    wrong = [c for (c, _), y in zip(rows, run.preds.labels)
             if c in view.by_id and (y >= len(run.preds.columns) or run.preds.columns[y] != view.by_id[c]["label_name"])]
    if wrong:
        aud.fail(run.cell, "labels", f"{run.rel}: {len(wrong)} rows give a true class other than the manifest's "
                                     f"(e.g. {sorted(set(wrong))[:3]}; relabelled clips)")


def check_draws(aud: "Auditor", run: Run, view: clips.DatasetView, listed: set, test_ids: list[str], rows) -> None:
    """Few-shot: the shots of every draw are the seeded draw rule's, and each draw scores the rest
    of the test split (all of it when shots come from the train split)."""
    s = aud.settings("fewshot")
    shot_split = "train" if view.has_split("train") else "test"
    shots = run.metrics.get("shots") or []
    if run.metrics.get("k") != s["k"]:
        aud.fail(run.cell, "draws", f"{run.rel}: k {run.metrics.get('k')} shots per class, params define {s['k']}")
    if run.metrics.get("shot_split") != shot_split:
        aud.fail(run.cell, "draws", f"{run.rel}: shots from split {run.metrics.get('shot_split')!r}, the protocol "
                                    f"draws them from {shot_split!r}")
    if shot_split == "test":
        pool_ids = test_ids
    else:
        pool, found = clips.bank(view, "train", s["max_train_clips"], run.seed, listed)
        pool_ids = [e["clip_id"] for e in pool]
        for p in found:
            aud.fail(run.cell, "quarantine", f"{run.rel}: {p}")
    labels = [view.classes.index(view.by_id[c]["label_name"]) for c in pool_ids]
    by_draw: dict = {}
    for c, d in rows:
        by_draw.setdefault(d, []).append(c)
    for d in range(len(shots)):
        try:
            rule = [pool_ids[i] for i in clips.draw_rule(labels, s["k"], len(view.classes), run.seed, d)]
        except ValueError as exc:
            return aud.fail(run.cell, "draws", f"{run.rel}: the draw rule cannot draw: {exc}")
        if shots[d] != rule:
            aud.fail(run.cell, "draws", f"{run.rel}: draw {d}'s shots are not the seeded draw rule's "
                                        "(cherry-picked or renumbered draws)")
        rest = [c for c in test_ids if c not in set(shots[d])] if shot_split == "test" else test_ids
        for p in clips.coverage(by_draw.get(d, []), rest, f"draw {d}'s test set", view):
            aud.fail(run.cell, "scored clips", f"{run.rel}: {p}")
    extra = sorted(k for k in by_draw if k is None or not 0 <= k < len(shots))
    if extra:
        aud.fail(run.cell, "draws", f"{run.rel}: predictions of draws {extra} that record no shots")


def check_complete_run(aud: "Auditor", run: Run) -> None:
    """Views per video and few-shot draws as params define them."""
    protocol = run.key[0]
    s = aud.settings(protocol)
    if run.metrics.get("views_per_video") != s["views_per_video"]:
        aud.fail(run.cell, "incomplete", f"{run.rel}: {run.metrics.get('views_per_video')} views per video, "
                                         f"the protocol defines {s['views_per_video']}")
    if protocol == "fewshot":
        n = [run.metrics.get("draws"), len(run.metrics.get("shots") or [])]
        if run.preds is not None:
            n.append(len({d for _, d in run.preds.clip_and_draw()}))
        if any(x != s["draws"] for x in n):
            aud.fail(run.cell, "incomplete", f"{run.rel}: {max(x or 0 for x in n)} draws recorded/scored, the "
                                             f"protocol defines {s['draws']}")


def check_recomputation(aud: "Auditor", run: Run) -> None:
    """metrics.json agrees with the audit's own recomputation from predictions.csv."""
    if run.preds is None:
        return
    eval_classes = None
    if run.key[0] == "domain_adapt":
        target = aud.dataset_view(aud.data / run.key[2].split("-to-", 1)[1], run.cell)
        if target is None:
            return
        eval_classes = target.classes
        if run.metrics.get("eval_classes") != eval_classes:
            aud.fail(run.cell, "metrics.json", f"{run.rel} eval_classes {run.metrics.get('eval_classes')} are not "
                                               f"the target's classes {eval_classes}")
    run.recomputed = rc.scores(run.preds, eval_classes)
    for k, v in run.recomputed.items():
        got = run.metrics.get(k)
        same = (isinstance(v, list) and isinstance(got, list) and len(got) == len(v)
                and all(_close(a, b) for a, b in zip(got, v))) or _close(got, v)
        if not same:
            aud.fail(run.cell, "metrics.json", f"{run.rel} {k} {got} != {v} recomputed from predictions.csv "
                                               "(stale or edited metrics file)")


RUN_CHECKS = [check_files_locked, check_provenance, check_scored_clips, check_complete_run, check_recomputation]


# --- checks on one cell and on the whole table ---------------------------------------------------

def check_seeds(aud: "Auditor", c: CellRuns) -> None:
    """The cell is built from exactly its planned seeds: the experiment's, or those params
    `eval.seed_plan` lists for the protocol or the reference row (config.planned_seeds)."""
    want = planned_seeds(aud.cfg, c.cell.protocol, c.cell.method)
    got = sorted(c.row["seeds"]) if c.row else sorted(r.seed for r in c.runs)
    if got != want:
        plan = "" if want == sorted(aud.cfg["experiment"]["seeds"]) else " for this cell (eval.seed_plan)"
        aud.fail(c.cell.name, "incomplete", f"built from seeds {got}, the experiment defines {want}{plan} "
                                            "(a seed is missing or was dropped)")
    if c.printed.get("seeds") not in (None, str(len(want))):
        aud.fail(c.cell.name, "table.md", f"seeds column says {c.printed['seeds']}, the plan defines {len(want)}")


def check_cell_numbers(aud: "Auditor", c: CellRuns) -> None:
    """summary.json mean/CI of every metric and the table's top-1 and top-5 equal the recomputation."""
    for metric in SUMMARY_METRICS:
        vals = c.recomputed.get(metric)
        stat = (c.row or {}).get(metric)
        if vals is None:
            continue
        mean, half = rc.interval([vals[s] for s in sorted(vals)], aud.confidence)
        if c.row is not None and (stat is None or not _close(stat.get("mean"), mean)
                                  or (half is None) != (stat.get("half_width") is None)
                                  or (half is not None and not _close(stat["half_width"], half))):
            aud.fail(c.cell.name, "summary.json", f"{metric} {None if stat is None else (stat.get('mean'), stat.get('half_width'))}"
                                                  f" != mean {mean}, half-width {half} recomputed")
        column = {"top1": c.cell.column, "top5": "top-5 %", "negative_transfer": "neg. transfer %"}.get(metric)
        if column is not None and column in c.printed:
            aud.compare_printed(c.cell.name, column, c.printed[column], mean, half)


def check_paired(aud: "Auditor", cells: dict) -> None:
    """Paired differences against the baseline cell (same seeds), in summary.json and table.md."""
    for key, c in cells.items():
        base = cells.get(baseline_key(key))
        recorded = (c.row or {}).get("vs_baseline", {})
        if base is None or baseline_key(key) == key:
            if recorded:
                aud.fail(c.cell.name, "summary.json", f"a paired difference against {recorded.get('baseline')}, "
                                                      "a cell the table does not have")
            continue
        for metric in PAIRED_METRICS:
            a, b = c.recomputed.get(metric), base.recomputed.get(metric)
            got = recorded.get(metric)
            diff = rc.paired(a, b, aud.confidence) if a and b else None
            if diff is None:
                continue
            mean, half, seeds = diff
            if got is None or not _close(got.get("mean"), mean) or got.get("seeds") not in (None, seeds) or (
                    (half is None) != (got.get("half_width") is None)) or (half is not None and not _close(got["half_width"], half)):
                aud.fail(c.cell.name, "summary.json", f"paired {metric} difference vs {'/'.join(baseline_key(key))} "
                                                      f"{None if got is None else got.get('mean')} != {mean} recomputed")
            if metric == "top1":
                col = next((h for h in c.printed if h.startswith("Δ")), None)
                if col is not None:
                    aud.compare_printed(c.cell.name, col, c.printed[col].split(" (vs ")[0], mean, half)


CELL_CHECKS = [check_seeds, check_cell_numbers]
TABLE_CHECKS = [check_paired]
