"""Audit a results table: trace each cell to its runs, recompute it from the per-clip predictions
and the dataset manifest, and check every recorded hash against the files and dvc.lock.

A broken link is reported as `<cell>: <link>: <what is wrong>`. The checks are plain functions in
motionmvm.report.audit_checks: RUN_CHECKS run on every run of a cell (one metrics.json +
predictions.csv), CELL_CHECKS on every cell, TABLE_CHECKS once over all cells; a new artefact check
is one function appended to a list. docs/audit.md lists the links and what each catches.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from motionmvm import config as mcfg
from motionmvm.data.manifest import manifest_hash
from motionmvm.io import read_json, sha256_file
from motionmvm.report import audit_clips as clips
from motionmvm.report import audit_recompute as rc
from motionmvm.report.audit_checks import (CELL_CHECKS, RUN_CHECKS, SUMMARY_METRICS, TABLE_CHECKS, CellRuns, Run,
                                           _close, protocol_settings)
from motionmvm.report.audit_dvc import DvcLock, md5_file
from motionmvm.report.table import Cell, parse_number, read_cells
from motionmvm.report.audit_health import check_health

@dataclass
class Problem:
    cell: str
    link: str
    detail: str

    def __str__(self) -> str:
        return f"{self.cell}: {self.link}: {self.detail}"


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
        self.data_rel = Path(self.cfg["paths"]["data"]) / self.cfg["profile"]  # as runs record it
        self.data = self.root / self.data_rel
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

    def dataset_view(self, ddir: Path, cell: str | None = None) -> clips.DatasetView | None:
        """The dataset's manifest and classes; None (a `dataset` problem of `cell`) when its
        manifest.jsonl or classInd.txt is missing."""
        key = os.path.normpath(self.rel(ddir))
        if key not in self._views:
            missing = [f for f in ("manifest.jsonl", "classInd.txt") if not (self.root / key / f).exists()]
            self._views[key] = f"{key}/{missing[0]} is missing" if missing else clips.DatasetView(self.root / key)
        if isinstance(self._views[key], str):
            if cell is not None:
                self.fail(cell, "dataset", self._views[key])
            return None
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
        if view is None:
            return [self._views[os.path.normpath(ddir_rel)]]
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
            bad = [p for p in row["metrics_files"] if not Path(p).parent.name.removeprefix("seed").isdigit()]
            if bad:
                self.fail(cell.name, "summary.json", f"metrics_files {bad} are not in seed<S> directories")
            return [(int(Path(p).parent.name.removeprefix("seed")), self.root / p) for p in row["metrics_files"]
                    if p not in bad]
        base = self.runs / "eval" / cell.protocol / cell.method / cell.dataset
        planned = mcfg.planned_seeds(self.cfg, cell.protocol, cell.method)
        seeds = sorted(set(planned) | set((row or {}).get("seeds", [])))
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
        for msg in check_health(self.table_md.parent, self.cfg, self.runs):  # health.json, recomputed
            self.fail("health gates", "health.json", msg.removeprefix("health.json: "))
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
