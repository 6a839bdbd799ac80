"""Audit a results table: trace each cell to its runs, recompute it from the per-clip predictions
and the dataset manifest, and check every recorded hash against the files and dvc.lock.

A broken link is reported as `<cell>: <link>: <what is wrong>`. The checks are plain functions:
RUN_CHECKS run on every run of a cell (one metrics.json + predictions.csv), CELL_CHECKS on every
cell, TABLE_CHECKS once over all cells; a new artefact check is one function appended to a list.
docs/audit.md lists the links and what each catches.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from motionmvm import config as mcfg
from motionmvm.data.manifest import manifest_hash
from motionmvm.io import read_json, sha256_file
from motionmvm.report import audit_clips as clips
from motionmvm.report import audit_recompute as rc
from motionmvm.report.audit_dvc import DvcLock, md5_file
from motionmvm.report.table import Cell, parse_number, read_cells

BASELINE = "videomae"  # paired differences: against videomae under the same protocol; MAR against
# videomae's full fine-tuning (the claim "as accurate at fewer FLOPs")
SUMMARY_METRICS = ("top1", "top5", "mean_class_accuracy", "negative_transfer")
PAIRED_METRICS = ("top1", "top5", "negative_transfer")


@dataclass
class Problem:
    cell: str
    link: str
    detail: str

    def __str__(self) -> str:
        return f"{self.cell}: {self.link}: {self.detail}"


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
    scored_dir, classes_dir = aud.data / scored_name, aud.data / classes_name
    rec = run.metrics.get("scored")
    if not rec:
        return aud.fail(run.cell, "scored split", f"{run.rel} does not record which split of which manifest it "
                                                  "scored (made before runs recorded it: rerun the evaluation)")
    want = {"dataset": scored_dir, "split": "test", "max_clips": aud.settings(protocol)["max_test_clips"],
            "seed": run.seed, "classes_from": classes_dir}
    for k, v in want.items():
        same = _same_path(rec.get(k), aud.rel(v)) if isinstance(v, Path) else rec.get(k) == v
        if not same:
            aud.fail(run.cell, "scored split", f"{run.rel} records {k} {rec.get(k)!r}, the protocol scores "
                                               f"{aud.rel(v) if isinstance(v, Path) else v!r}")
    if not aud.check_dataset(run.cell, aud.rel(scored_dir), rec.get("manifest_hash", "")) or run.preds is None:
        return
    view, classes = aud.dataset_view(scored_dir), aud.dataset_view(classes_dir).classes
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
        eval_classes = aud.dataset_view(aud.data / run.key[2].split("-to-", 1)[1]).classes
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
    want = sorted(aud.cfg["experiment"]["seeds"])
    got = sorted(c.row["seeds"]) if c.row else sorted(r.seed for r in c.runs)
    if got != want:
        aud.fail(c.cell.name, "incomplete", f"built from seeds {got}, the experiment defines {want} "
                                            "(a seed is missing or was dropped)")
    if c.printed.get("seeds") not in (None, str(len(want))):
        aud.fail(c.cell.name, "table.md", f"seeds column says {c.printed['seeds']}, the experiment defines {len(want)}")


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


# --- the auditor ---------------------------------------------------------------------------------

def table_rows(table_md: Path) -> dict:
    """(protocol, method, dataset) -> {header: text} for every row of table.md."""
    lines = [ln.strip().strip("|") for ln in table_md.read_text().splitlines() if ln.strip().startswith("|")]
    head = [h.strip() for h in lines[0].split("|")]
    out = {}
    for ln in lines[2:]:
        row = dict(zip(head, (c.strip() for c in ln.split("|"))))
        out[(row.get("protocol"), row.get("method"), row.get("dataset"))] = row
    return out


@dataclass
class Auditor:
    table_md: Path
    cfg: dict
    root: Path = Path(".")
    dvc_lock: Path | None = None
    hash_videos: bool = True
    check_dvc_lock: bool = True
    problems: list[Problem] = field(default_factory=list)
    _sha: dict = field(default_factory=dict)
    _datasets: dict = field(default_factory=dict)
    _views: dict = field(default_factory=dict)

    def __post_init__(self):
        self.root = Path(self.root)
        lock = self.dvc_lock if self.dvc_lock is not None else self.root / "dvc.lock"
        self.lock = DvcLock(lock if self.check_dvc_lock else None, self.root)
        self.params_hash = mcfg.params_hash(self.cfg)
        self.runs = self.root / self.cfg["paths"]["runs"] / self.cfg["profile"]
        self.data = self.root / self.cfg["paths"]["data"] / self.cfg["profile"]
        self.confidence = self.cfg["eval"]["confidence"]

    def fail(self, cell: str, link: str, detail: str) -> None:
        self.problems.append(Problem(cell, link, detail))

    def settings(self, protocol: str) -> dict:
        return protocol_settings(self.cfg, protocol)

    def sha256(self, path: Path) -> str:
        if path not in self._sha:
            self._sha[path] = sha256_file(path)
        return self._sha[path]

    def rel(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)

    def dataset_view(self, ddir: Path) -> clips.DatasetView:
        key = os.path.normpath(self.rel(ddir))
        if key not in self._views:
            self._views[key] = clips.DatasetView(self.root / key)
        return self._views[key]

    def check_lock(self, cell: str, path: Path) -> None:
        want = self.lock.expected(self.rel(path))
        if want is not None and path.exists() and md5_file(path) != want[0]:
            self.fail(cell, "dvc.lock", f"{self.rel(path)} md5 differs from {want[1]} "
                                        "(changed after DVC recorded it)")

    def check_dataset(self, cell: str, ddir_rel: str, recorded_hash: str) -> bool:
        """The dataset a run recorded (manifest hash) is the one on disk; True when it holds."""
        ddir = self.root / ddir_rel
        summary_path = ddir / "manifest.json"
        if not summary_path.exists():
            self.fail(cell, "dataset", f"{summary_path} is missing")
            return False
        current = read_json(summary_path)["hash"]
        if current != recorded_hash:
            self.fail(cell, "dataset", f"{ddir_rel} manifest hash {current[:12]} differs from "
                                       f"{str(recorded_hash)[:12]} recorded (dataset changed)")
            return False
        self.check_lock(cell, summary_path)
        key = os.path.normpath(ddir_rel)
        if key not in self._datasets:
            self._datasets[key] = self._dataset_problems(ddir, ddir_rel, current)
        for p in self._datasets[key]:
            self.fail(cell, "dataset", p)
        return not self._datasets[key]

    def _dataset_problems(self, ddir: Path, ddir_rel: str, current: str) -> list[str]:
        view = self.dataset_view(ddir)
        if manifest_hash(view.entries) != current:
            return [f"{ddir_rel}/manifest.jsonl does not hash to manifest.json's hash (dataset changed)"]
        found = list(view.problems)
        if self.hash_videos:
            for e in view.entries:
                video = ddir / e["path"]
                if e.get("status") == "ok" and (not video.exists() or self.sha256(video) != e["sha256"]):
                    found.append(f"video {e['path']} {'is missing' if not video.exists() else 'sha256 differs from the manifest'} "
                                 "(dataset changed)")
        return found

    def load_run(self, cell: Cell, seed: int, path: Path) -> Run | None:
        rel = self.rel(path)
        if not path.exists():
            self.fail(cell.name, "metrics.json", f"{rel} is missing")
            return None
        pred_path = path.parent / "predictions.csv"
        preds = None
        if not pred_path.exists():
            self.fail(cell.name, "predictions.csv", f"{self.rel(pred_path)} is missing")
        else:
            try:
                preds = rc.read(pred_path)
            except ValueError as exc:
                self.fail(cell.name, "predictions.csv", str(exc))
        metrics = read_json(path)
        if metrics.get("seed", seed) != seed:
            self.fail(cell.name, "metrics.json", f"{rel} records seed {metrics.get('seed')}, its directory seed {seed}")
        return Run(cell.name, (cell.protocol, cell.method, cell.dataset), seed, path, rel, metrics, preds)

    def cell_files(self, cell: Cell, row: dict | None) -> list[tuple[int, Path]]:
        if row is None:
            self.fail(cell.name, "summary.json", "no row for this cell")
        if row and row.get("metrics_files"):
            return [(int(Path(p).parent.name.removeprefix("seed")), self.root / p) for p in row["metrics_files"]]
        base = self.runs / "eval" / cell.protocol / cell.method / cell.dataset
        seeds = sorted(set(self.cfg["experiment"]["seeds"]) | set((row or {}).get("seeds", [])))
        return [(s, base / f"seed{s}" / "metrics.json") for s in seeds]

    def run(self) -> dict:
        summary_path = self.table_md.parent / "summary.json"
        summary = read_json(summary_path) if summary_path.exists() else {"rows": []}
        if not summary_path.exists():
            self.fail(str(self.table_md), "summary.json", f"{summary_path} is missing")
        if not _close(summary.get("confidence", self.confidence), self.confidence):
            self.fail(str(self.table_md), "summary.json", f"confidence {summary.get('confidence')}, params "
                                                          f"eval.confidence {self.confidence}")
        self.check_lock(str(self.table_md), self.table_md)
        self.check_lock(str(self.table_md), summary_path)
        rows = {(r["protocol"], r["method"], r["dataset"]): r for r in summary["rows"]}
        printed = table_rows(self.table_md)
        cells: dict = {}
        for cell in read_cells(self.table_md):
            key = (cell.protocol, cell.method, cell.dataset)
            c = CellRuns(cell, rows.get(key), printed.get(key, {}), [])
            files = self.cell_files(cell, c.row)
            if not files:
                self.fail(cell.name, "metrics.json", "no metrics files for this cell")
            for seed, path in files:
                run = self.load_run(cell, seed, path)
                if run is None:
                    continue
                for check in RUN_CHECKS:
                    check(self, run)
                c.runs.append(run)
            if files and len(c.runs) == len(files) and all(r.recomputed for r in c.runs):
                for metric in SUMMARY_METRICS:
                    if all(metric in r.recomputed for r in c.runs):
                        c.recomputed[metric] = {r.seed: r.recomputed[metric] for r in c.runs}
            for check in CELL_CHECKS:
                check(self, c)
            cells[key] = c
        for check in TABLE_CHECKS:
            check(self, cells)
        trace = []
        for c in cells.values():
            top1 = c.recomputed.get("top1")
            entry = {"cell": c.cell.name, "printed": c.cell.text, "metrics_files": [r.rel for r in c.runs],
                     "problems": [str(p) for p in self.problems if p.cell == c.cell.name]}
            if top1:
                mean, half = rc.interval([top1[s] for s in sorted(top1)], self.confidence)
                entry["recomputed"] = {"per_seed": [top1[s] for s in sorted(top1)], "mean": mean, "half_width": half}
            trace.append(entry)
        return {"table": str(self.table_md), "ok": not self.problems, "cells": trace,
                "problems": [str(p) for p in self.problems], "_cells": cells}

    def compare_printed(self, cell: str, column: str, text: str, mean: float, half: float | None) -> None:
        num = parse_number(text)
        decimals = num[2] if num else 1
        want = f"{mean * 100:.{decimals}f}" + ("" if half is None else f" ± {half * 100:.{decimals}f}")
        tol = 0.5 * 10 ** (-decimals) + 1e-9  # the printed value is rounded to `decimals`
        bad = num is None or abs(num[0] - mean * 100) > tol or (half is None) != (num[1] is None) or (
            half is not None and abs(num[1] - half * 100) > tol)
        if bad:
            self.fail(cell, "table.md", f"printed {text!r} in {column!r} but the predictions give {want!r} (edited number)")


def audit(table_md: str | Path, cfg: dict, root: str | Path = ".", dvc_lock: str | Path | None = None,
          hash_videos: bool = True, check_dvc_lock: bool = True, summary_out: str | Path | None = None) -> dict:
    """Run every check; returns the trace with `ok` and the list of `problems`. summary_out: also
    write the signed summary (motionmvm.report.audit_summary) there."""
    from motionmvm.report import audit_summary

    aud = Auditor(Path(table_md), cfg, Path(root), Path(dvc_lock) if dvc_lock else None, hash_videos,
                  check_dvc_lock=check_dvc_lock)
    result = aud.run()
    cells = result.pop("_cells")
    if summary_out is not None:
        result["summary"] = audit_summary.write(Path(summary_out), aud, cells, result["ok"])
    return result
