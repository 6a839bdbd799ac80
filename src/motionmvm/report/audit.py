"""Audit a results table: trace each cell to its metrics files and predictions, recompute it, and
check every recorded hash against the files on disk and against dvc.lock.

Links checked per cell (a broken one is reported as `<cell>: <link>: <what is wrong>`):
- `table.md`          the printed mean ± CI equals the one recomputed from the predictions;
- `summary.json`      the aggregated mean equals the recomputed one;
- `metrics.json`      exists, and its top1 equals the top1 recomputed from predictions.csv (a
                      stale or edited metrics file fails here);
- `params`            provenance.params_hash equals the hash of the current params (profile);
- `checkpoint`        provenance.checkpoint.sha256 equals the sha256 of that file;
- `dataset`           provenance.dataset.manifest_hash equals manifest.json's hash, which equals the
                      hash of manifest.jsonl, whose per-video sha256 match the videos;
- `motion settings`   provenance.motion {settings.json: hash} equal the files' settings_hash;
- `dvc.lock`          every file above that a DVC stage declares as an output has that md5.
The metrics files of a cell come from summary.json (`metrics_files` if a row carries them, else
`runs/P/eval/<protocol>/<method>/<dataset>/seed<S>/metrics.json` for the row's seeds).
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from motionmvm import config as mcfg
from motionmvm.io import read_json, sha256_file
from motionmvm.report.audit_health import check_health
from motionmvm.report.table import Cell, read_cells


@dataclass
class Problem:
    cell: str
    link: str
    detail: str

    def __str__(self) -> str:
        return f"{self.cell}: {self.link}: {self.detail}"


# --- recomputation (the evaluation area's functions when present, else a local top-1) -----------

def _recompute_top1_local(predictions_csv: Path) -> float:
    """top-1 from a CSV with clip_id, label[, pred], then one probability column per class
    (`prob_<class>` or `p_<index>`); label is the column index of the true class."""
    with open(predictions_csv, newline="") as f:
        rows = list(csv.reader(f))
    head = rows[0]
    cols = [i for i, h in enumerate(head) if h.startswith(("prob_", "p_"))]
    if head[:2] != ["clip_id", "label"] or not cols:
        raise ValueError(f"{predictions_csv}: expected clip_id,label,...,prob_<class>... columns, got {head[:4]}")
    probs = np.array([[float(r[i]) for i in cols] for r in rows[1:]])
    labels = np.array([int(r[1]) for r in rows[1:]])
    if len(labels) == 0:
        raise ValueError(f"{predictions_csv}: no predictions")
    return float((probs.argmax(1) == labels).mean())


def _eval_recompute():
    """`recompute_metrics(predictions_csv, eval_classes)` of the evaluation area, if installed."""
    import importlib

    for name in ("motionmvm.eval", "motionmvm.eval.metrics"):
        try:
            fn = getattr(importlib.import_module(name), "recompute_metrics", None)
        except ModuleNotFoundError as exc:
            if exc.name not in ("motionmvm.eval", name):
                raise
            continue
        if fn is not None:
            return fn
    return None


def recompute_top1(predictions_csv: Path, eval_classes: list[str] | None = None) -> float:
    fn = _eval_recompute()
    if fn is None:
        return _recompute_top1_local(predictions_csv)
    return float(fn(predictions_csv, eval_classes)["top1"])


def mean_half_width(values: list[float], confidence: float = 0.95) -> tuple[float, float | None]:
    """Mean and Student-t CI half-width over seeds (None for one seed), as motionmvm.eval.stats."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        return float(x.mean()), None
    from scipy import stats

    return float(x.mean()), float(stats.t.ppf((1 + confidence) / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))


# --- dvc.lock -------------------------------------------------------------------------------------

class DvcLock:
    """md5 of every output DVC recorded, for files directly or inside directory outputs: the
    stage outputs in dvc.lock and the files tracked with `dvc add` (`*.dvc` files)."""

    def __init__(self, lock_path: Path | None, root: Path):
        self.root = root
        self.files: dict[str, tuple[str, str]] = {}  # relpath -> (md5, stage or .dvc file)
        self.dirs: dict[str, tuple[str, str]] = {}
        if lock_path is None:
            return
        if lock_path.exists():
            lock = yaml.safe_load(lock_path.read_text()) or {}
            for stage, body in (lock.get("stages") or {}).items():
                self._add(body.get("outs"), Path("."), f"stage {stage!r} in dvc.lock")
        for dvcfile in sorted(root.rglob("*.dvc")):
            rel = dvcfile.relative_to(root)
            if rel.parts[0] in (".dvc", ".git") or not dvcfile.is_file():
                continue
            body = yaml.safe_load(dvcfile.read_text()) or {}
            self._add(body.get("outs"), rel.parent, str(rel))

    def _add(self, outs, base: Path, source: str) -> None:
        for out in outs or []:
            md5 = out.get("md5")
            if md5 is not None:
                path = str(Path(base, out["path"])).rstrip("/")
                (self.dirs if md5.endswith(".dir") else self.files)[path] = (md5, source)

    def _dir_listing(self, md5_dir: str) -> dict[str, str] | None:
        obj = self.root / ".dvc" / "cache" / "files" / "md5" / md5_dir[:2] / md5_dir[2:]
        if not obj.exists():
            return None
        return {e["relpath"]: e["md5"] for e in json.loads(obj.read_text())}

    def expected(self, rel: str) -> tuple[str, str] | None:
        """(md5, stage) that dvc.lock records for file `rel`, or None if no stage outputs it."""
        if rel in self.files:
            return self.files[rel]
        for d, (md5, stage) in self.dirs.items():
            if rel.startswith(d + "/"):
                listing = self._dir_listing(md5)
                if listing is None:
                    return None  # directory object not in the cache: cannot tell
                inner = rel[len(d) + 1:]
                return (listing.get(inner, "<not in the directory output>"), stage)
        return None


def md5_file(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --- the audit ------------------------------------------------------------------------------------

@dataclass
class Auditor:
    table_md: Path
    cfg: dict
    root: Path = Path(".")
    dvc_lock: Path | None = None
    hash_videos: bool = True
    problems: list[Problem] = field(default_factory=list)
    _sha: dict = field(default_factory=dict)
    _datasets: dict = field(default_factory=dict)

    check_dvc_lock: bool = True

    def __post_init__(self):
        self.root = Path(self.root)
        lock = self.dvc_lock if self.dvc_lock is not None else self.root / "dvc.lock"
        self.lock = DvcLock(lock if self.check_dvc_lock else None, self.root)
        self.params_hash = mcfg.params_hash(self.cfg)
        self.runs = self.root / self.cfg["paths"]["runs"] / self.cfg["profile"]

    def fail(self, cell: str, link: str, detail: str) -> None:
        self.problems.append(Problem(cell, link, detail))

    def _sha256(self, path: Path) -> str:
        if path not in self._sha:
            self._sha[path] = sha256_file(path)
        return self._sha[path]

    def _rel(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)

    def _check_lock(self, cell: str, path: Path) -> None:
        want = self.lock.expected(self._rel(path))
        if want is not None and path.exists() and md5_file(path) != want[0]:
            self.fail(cell, "dvc.lock", f"{self._rel(path)} md5 differs from {want[1]} "
                                        "(changed after DVC recorded it)")

    def _check_dataset(self, cell: str, ds: dict) -> None:
        ddir = self.root / ds["dir"]
        summary_path = ddir / "manifest.json"
        if not summary_path.exists():
            return self.fail(cell, "dataset", f"{summary_path} is missing")
        current = read_json(summary_path)["hash"]
        if current != ds["manifest_hash"]:
            return self.fail(cell, "dataset", f"{ds['dir']} manifest hash {current[:12]} differs from "
                                              f"{ds['manifest_hash'][:12]} recorded (dataset changed)")
        self._check_lock(cell, summary_path)
        if ds["dir"] in self._datasets:
            for p in self._datasets[ds["dir"]]:
                self.fail(cell, "dataset", p)
            return
        found = []
        from motionmvm.data.manifest import manifest_hash

        entries = [json.loads(ln) for ln in (ddir / "manifest.jsonl").read_text().splitlines() if ln.strip()]
        if manifest_hash(entries) != current:
            found.append(f"{ds['dir']}/manifest.jsonl does not hash to manifest.json's hash (dataset changed)")
        elif self.hash_videos:
            for e in entries:
                video = ddir / e["path"]
                if e.get("status") == "ok" and (not video.exists() or self._sha256(video) != e["sha256"]):
                    found.append(f"video {e['path']} {'is missing' if not video.exists() else 'sha256 differs from the manifest'} "
                                 "(dataset changed)")
        self._datasets[ds["dir"]] = found
        for p in found:
            self.fail(cell, "dataset", p)

    def check_metrics_file(self, cell: str, path: Path) -> float | None:
        """Every link of one run; returns its top1 recomputed from predictions.csv (None if broken)."""
        rel = self._rel(path)
        if not path.exists():
            self.fail(cell, "metrics.json", f"{rel} is missing")
            return None
        metrics = read_json(path)
        self._check_lock(cell, path)
        pred = path.parent / "predictions.csv"
        top1 = None
        if not pred.exists():
            self.fail(cell, "predictions.csv", f"{self._rel(pred)} is missing")
        else:
            self._check_lock(cell, pred)
            top1 = recompute_top1(pred, metrics.get("eval_classes"))
            if not math.isclose(metrics.get("top1", float("nan")), top1, abs_tol=1e-9):
                self.fail(cell, "metrics.json", f"{rel} top1 {metrics.get('top1')} != {top1} recomputed from "
                                                "predictions.csv (stale or edited metrics file)")
        prov = metrics.get("provenance")
        if not prov:
            self.fail(cell, "provenance", f"{rel} has no provenance block")
            return top1
        if prov.get("params_hash") != self.params_hash:
            self.fail(cell, "params", f"{rel} was made with params hash {str(prov.get('params_hash'))[:12]}, "
                                      f"current params hash {self.params_hash[:12]} (stale metrics file)")
        ck = prov.get("checkpoint")
        if ck:
            ck_path = self.root / ck["path"]
            if not ck_path.exists():
                self.fail(cell, "checkpoint", f"{ck['path']} is missing")
            elif self._sha256(ck_path) != ck["sha256"]:
                self.fail(cell, "checkpoint", f"{ck['path']} sha256 {self._sha256(ck_path)[:12]} differs from "
                                              f"{ck['sha256'][:12]} recorded in {rel} (swapped checkpoint)")
            else:
                self._check_lock(cell, ck_path)
        if prov.get("dataset"):
            self._check_dataset(cell, prov["dataset"])
        for settings, recorded in (prov.get("motion") or {}).items():
            spath = self.root / settings
            if not spath.exists():
                self.fail(cell, "motion settings", f"{settings} is missing")
            elif read_json(spath).get("settings_hash") != recorded:
                self.fail(cell, "motion settings", f"{settings} settings_hash differs from {recorded[:12]} "
                                                   f"recorded in {rel} (motion cache changed)")
            else:
                self._check_lock(cell, spath)
        return top1

    def metrics_files(self, cell: Cell, rows: dict) -> list[Path]:
        row = rows.get((cell.protocol, cell.method, cell.dataset))
        if row is None:
            self.fail(cell.name, "summary.json", "no row for this cell")
            base = self.runs / "eval" / cell.protocol / cell.method / cell.dataset
            return sorted(base.glob("seed*/metrics.json"))
        if row.get("metrics_files"):
            return [self.root / p for p in row["metrics_files"]]
        base = self.runs / "eval" / cell.protocol / cell.method / cell.dataset
        return [base / f"seed{s}" / "metrics.json" for s in row["seeds"]]

    def run(self) -> dict:
        cells = read_cells(self.table_md)
        summary_path = self.table_md.parent / "summary.json"
        summary = read_json(summary_path) if summary_path.exists() else {"rows": []}
        if not summary_path.exists():
            self.fail(str(self.table_md), "summary.json", f"{summary_path} is missing")
        self._check_lock(str(self.table_md), self.table_md)
        confidence = summary.get("confidence", 0.95)
        rows = {(r["protocol"], r["method"], r["dataset"]): r for r in summary["rows"]}
        trace = []
        for cell in cells:
            files = self.metrics_files(cell, rows)
            if not files:
                self.fail(cell.name, "metrics.json", "no metrics files for this cell")
            tops = [self.check_metrics_file(cell.name, f) for f in files]
            entry = {"cell": cell.name, "printed": cell.text, "metrics_files": [self._rel(f) for f in files]}
            if files and all(t is not None for t in tops):
                mean, half = mean_half_width(tops, confidence)
                entry["recomputed"] = {"per_seed": tops, "mean": mean, "half_width": half}
                self._compare_printed(cell, mean, half)
                row = rows.get((cell.protocol, cell.method, cell.dataset))
                if row is not None and "top1" in row and not math.isclose(row["top1"]["mean"], mean, abs_tol=1e-9):
                    self.fail(cell.name, "summary.json", f"top1 mean {row['top1']['mean']} != {mean} recomputed")
            entry["problems"] = [str(p) for p in self.problems if p.cell == cell.name]
            trace.append(entry)
        return {"table": str(self.table_md), "ok": not self.problems, "cells": trace,
                "problems": [str(p) for p in self.problems]}

    def _compare_printed(self, cell: Cell, mean: float, half: float | None) -> None:
        tol = 0.5 * 10 ** (-cell.decimals) + 1e-9  # the printed value is rounded to `decimals`
        want = f"{mean * 100:.{cell.decimals}f}" + ("" if half is None else f" ± {half * 100:.{cell.decimals}f}")
        bad = abs(cell.mean - mean * 100) > tol or (half is None) != (cell.half_width is None) or (
            half is not None and abs(cell.half_width - half * 100) > tol)
        if bad:
            self.fail(cell.name, "table.md", f"printed {cell.text!r} but the predictions give {want!r} (edited number)")


def audit(table_md: str | Path, cfg: dict, root: str | Path = ".", dvc_lock: str | Path | None = None,
          hash_videos: bool = True, check_dvc_lock: bool = True) -> dict:
    """Run every check; returns the trace with `ok` and the list of `problems`."""
    aud = Auditor(Path(table_md), cfg, Path(root), Path(dvc_lock) if dvc_lock else None, hash_videos,
                  check_dvc_lock=check_dvc_lock)
    result = aud.run()
    result["problems"] += check_health(Path(table_md).parent, cfg, aud.runs)  # health.json, recomputed
    return {**result, "ok": not result["problems"]}
