"""Result plots (matplotlib, Agg) written to results/P/plots/; each function returns its path or
None when its inputs do not exist yet (e.g. no pretraining logs before that step has run)."""
from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from motionmvm.io import atomic_path, read_json  # noqa: E402


def _save(fig, path: Path, dpi: int) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path


def _stat(row: dict, metric: str):
    s = row.get(metric)
    return None if s is None else (s["mean"], s.get("half_width") or 0.0)


def accuracy_per_method(rows: list[dict], out: Path, dpi: int = 110) -> Path | None:
    """One panel per (protocol, dataset): top-1 % per method, error bars = 95% CI half-width."""
    groups = defaultdict(list)
    for r in rows:
        if _stat(r, "top1"):
            groups[(r["protocol"], r["dataset"])].append(r)
    if not groups:
        return None
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 3.6), squeeze=False)
    for ax, ((protocol, dataset), rs) in zip(axes[0], sorted(groups.items())):
        means = [_stat(r, "top1")[0] * 100 for r in rs]
        errs = [_stat(r, "top1")[1] * 100 for r in rs]
        ax.bar(range(len(rs)), means, yerr=errs, capsize=4, color="tab:blue", alpha=0.8)
        ax.set_xticks(range(len(rs)), [r["method"] for r in rs], rotation=30, ha="right")
        ax.set_title(f"{protocol} / {dataset}")
        ax.set_ylabel("top-1 % (mean ± 95% CI)")
    return _save(fig, out, dpi)


def accuracy_vs(rows: list[dict], xs: dict, xlabel: str, out: Path, dpi: int = 110) -> Path | None:
    """Scatter of top-1 % against a per-row x value (`xs[(protocol, method, dataset)]`)."""
    pts = [(xs[k], r) for r in rows if _stat(r, "top1")
           and (k := (r["protocol"], r["method"], r["dataset"])) in xs and xs[k] is not None]
    if not pts:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for protocol in sorted({r["protocol"] for _, r in pts}):
        sel = [(x, r) for x, r in pts if r["protocol"] == protocol]
        ax.errorbar([x for x, _ in sel], [_stat(r, "top1")[0] * 100 for _, r in sel],
                    yerr=[_stat(r, "top1")[1] * 100 for _, r in sel], fmt="o", capsize=3, label=protocol)
        for x, r in sel:
            ax.annotate(r["method"], (x, _stat(r, "top1")[0] * 100), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("top-1 %")
    ax.legend(fontsize=7)
    return _save(fig, out, dpi)


def training_seconds(elapsed: list[float]) -> float:
    """Total training time from log.csv `elapsed_s`, which restarts at 0 in each resumed session:
    the sum of each session's last value."""
    total, prev = 0.0, None
    for e in elapsed:
        if prev is not None and e < prev:
            total += prev
        prev = e
    return total + (prev or 0.0)


def pretrain_times(runs: Path) -> dict[str, float]:
    """Mean pretraining time (s) per method over seeds: from runs/P/pretrain/<method>/seed*/log.csv
    (`elapsed_s`), else metrics.json (`wall_time_s` or provenance.wall_time_s)."""
    times = defaultdict(list)
    for run in sorted(p for p in runs.glob("pretrain/*/seed*") if p.is_dir()):
        log, metrics = run / "log.csv", run / "metrics.json"
        t = None
        if log.exists() and read_log(log).get("elapsed_s"):
            t = training_seconds(read_log(log)["elapsed_s"])
        elif metrics.exists():
            d = read_json(metrics)
            t = d.get("wall_time_s", (d.get("provenance") or {}).get("wall_time_s"))
        if t is not None:
            times[run.parts[-2]].append(float(t))
    return {k: sum(v) / len(v) for k, v in times.items()}


def read_log(path: Path) -> dict[str, list[float]]:
    """Numeric columns of a log.csv (non-numeric cells skipped)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    cols: dict[str, list[float]] = {}
    for key in (rows[0].keys() if rows else []):
        try:
            cols[key] = [float(r[key]) for r in rows]
        except (TypeError, ValueError):
            continue
    return cols


def training_curves(runs: Path, out: Path, dpi: int = 110) -> Path | None:
    """Loss columns of every runs/P/pretrain/<method>/seed<S>/log.csv against step/epoch."""
    logs = sorted(runs.glob("pretrain/*/seed*/log.csv"))
    curves = []
    for log in logs:
        cols = read_log(log)
        x = next((k for k in ("step", "iter", "epoch") if k in cols), None)
        for k in cols:
            if "loss" in k and x:
                curves.append((f"{log.parts[-3]}/{log.parts[-2]} {k}", cols[x], cols[k], x))
    if not curves:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for label, x, y, _ in curves:
        ax.plot(x, y, label=label, lw=1)
    ax.set_xlabel(curves[0][3])
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend(fontsize=6, ncol=2)
    return _save(fig, out, dpi)


def make_all(summary: dict | None, runs: Path, plots_dir: Path, dpi: int = 110) -> list[Path]:
    plots_dir.mkdir(parents=True, exist_ok=True)
    rows = (summary or {}).get("rows", [])
    made = [accuracy_per_method(rows, plots_dir / "accuracy.png", dpi)]
    gflops = {(r["protocol"], r["method"], r["dataset"]): (r.get("gflops_per_view") or {}).get("mean") for r in rows}
    made.append(accuracy_vs(rows, gflops, "GFLOPs per view", plots_dir / "accuracy_vs_gflops.png", dpi))
    times = pretrain_times(runs)
    pt = {(r["protocol"], r["method"], r["dataset"]): times.get(r["method"]) for r in rows}
    made.append(accuracy_vs(rows, pt, "pretraining wall time (s)", plots_dir / "accuracy_vs_pretrain_time.png", dpi))
    made.append(training_curves(runs, plots_dir / "training_curves.png", dpi))
    return [p for p in made if p is not None]
