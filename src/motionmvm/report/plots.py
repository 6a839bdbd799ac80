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


REFERENCES = ("random_init", "scratch", "scratch_1frame")  # reference rows, drawn apart in grey


def _ordered(rs: list[dict]) -> list[dict]:
    """Methods first (as listed), then the reference rows."""
    return [r for r in rs if r["method"] not in REFERENCES] + [r for r in rs if r["method"] in REFERENCES]


def _chance(ax, rs: list[dict]) -> None:
    for c in sorted({r["chance"] for r in rs if r.get("chance")}):
        ax.axhline(c * 100, color="tab:red", ls="--", lw=1)
        ax.annotate(f"chance {c * 100:.1f}%", (0, c * 100), xycoords=("axes fraction", "data"), xytext=(2, 2),
                    textcoords="offset points", fontsize=7, color="tab:red")


def accuracy_per_method(rows: list[dict], out: Path, dpi: int = 110) -> Path | None:
    """One panel per (protocol, dataset): top-1 % per method, error bars = 95% CI half-width,
    chance level dashed, reference rows (grey) after a gap."""
    groups = defaultdict(list)
    for r in rows:
        if _stat(r, "top1"):
            groups[(r["protocol"], r["dataset"])].append(r)
    if not groups:
        return None
    cols = min(3, len(groups))
    nrows = -(-len(groups) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.6 * cols, 3.7 * nrows), squeeze=False)
    for ax in axes.flat[len(groups):]:
        ax.set_visible(False)
    for ax, ((protocol, dataset), rs) in zip(axes.flat, sorted(groups.items())):
        rs = _ordered(rs)
        xs = [i + (0.6 if r["method"] in REFERENCES else 0) for i, r in enumerate(rs)]
        ax.bar(xs, [_stat(r, "top1")[0] * 100 for r in rs], yerr=[_stat(r, "top1")[1] * 100 for r in rs],
               capsize=3, color=["0.6" if r["method"] in REFERENCES else "tab:blue" for r in rs])
        ax.set_xticks(xs, [r["method"] for r in rs], rotation=35, ha="right", fontsize=8)
        _chance(ax, rs)
        ax.set_ylim(0, 100)
        ax.set_title(f"{protocol} / {dataset}", fontsize=10)
        ax.set_ylabel("top-1 % (mean ± 95% CI)")
    fig.tight_layout()
    return _save(fig, out, dpi)


def forest(rows: list[dict], out: Path, dpi: int = 110) -> Path | None:
    """Per (protocol, dataset): each method's paired top-1 difference to the baseline (mean and
    95% CI over seeds) against the zero line; reference rows below a rule, in grey."""
    groups = defaultdict(list)
    for r in rows:
        if (r.get("vs_baseline") or {}).get("top1"):
            groups[(r["protocol"], r["dataset"])].append(r)
    if not groups:
        return None
    heights = [len(rs) + 1.5 for rs in groups.values()]
    fig, axes = plt.subplots(len(groups), 1, figsize=(7, 0.32 * sum(heights) + 1.2 * len(groups)),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, ((protocol, dataset), rs) in zip(axes[:, 0], sorted(groups.items())):
        rs = _ordered(rs)
        ys = [-(i + (0.8 if r["method"] in REFERENCES else 0)) for i, r in enumerate(rs)]
        for y, r in zip(ys, rs):
            d = r["vs_baseline"]["top1"]
            if d["ci_low"] is None:  # one paired seed: no interval, so no verdict either (hollow marker)
                colour = "0.55" if r["method"] in REFERENCES else "tab:blue"
                ax.plot(d["mean"] * 100, y, "o", mfc="none", color=colour)
                text = f"{d['mean'] * 100:+.1f} (1 seed, no CI)"
            else:
                lo, hi = d["ci_low"], d["ci_high"]
                colour = "0.55" if r["method"] in REFERENCES else ("tab:green" if lo > 0 else "tab:red" if hi < 0 else "tab:blue")
                ax.plot([lo * 100, hi * 100], [y, y], color=colour, lw=2)
                ax.plot(d["mean"] * 100, y, "o", color=colour)
                text = f"{d['mean'] * 100:+.1f} [{lo * 100:+.1f}, {hi * 100:+.1f}]"
            ax.annotate(text, (1.0, y), xycoords=("axes fraction", "data"), xytext=(4, -3),
                        textcoords="offset points", fontsize=7)
        if any(r["method"] in REFERENCES for r in rs) and any(r["method"] not in REFERENCES for r in rs):
            ax.axhline(-(sum(r["method"] not in REFERENCES for r in rs) - 0.1), color="0.8", lw=0.8)
        ax.axvline(0, color="k", lw=1)
        ax.set_yticks(ys, [r["method"] for r in rs], fontsize=8)
        ax.set_title(f"{protocol} / {dataset}: top-1 difference to {rs[0]['vs_baseline']['baseline']} "
                     f"(points, paired 95% CI)", fontsize=9)
    axes[-1, 0].set_xlabel("paired top-1 difference (percentage points); green/red: CI excludes 0; hollow: one seed")
    fig.tight_layout()
    return _save(fig, out, dpi)


def _clusters(pts: list[tuple[float, float, str]], xspan: float, yspan: float, tol: float = 0.04):
    """Group points closer than `tol` of the axis spans, so one label names every method there."""
    groups: list[list] = []
    for x, y, name in sorted(pts):
        for g in groups:
            if abs(g[0][0] - x) <= tol * xspan and abs(g[0][1] - y) <= tol * yspan:
                g.append((x, y, name))
                break
        else:
            groups.append([(x, y, name)])
    return groups


def accuracy_vs(rows: list[dict], xs: dict, xlabel: str, out: Path, dpi: int = 110) -> Path | None:
    """Top-1 % against a per-row x value (`xs[(protocol, method, dataset)]`), one panel per
    (protocol, dataset); points that coincide share one label (no stacked text), chance dashed."""
    pts = [(xs[k], r) for r in rows if _stat(r, "top1")
           and (k := (r["protocol"], r["method"], r["dataset"])) in xs and xs[k] is not None]
    if not pts:
        return None
    panels = sorted({(r["protocol"], r["dataset"]) for _, r in pts})
    cols = min(3, len(panels))
    nrows = -(-len(panels) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.8 * cols, 3.8 * nrows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, (protocol, dataset) in zip(axes.flat, panels):
        sel = [(x, r) for x, r in pts if (r["protocol"], r["dataset"]) == (protocol, dataset)]
        for ref in (False, True):
            part = [(x, r) for x, r in sel if (r["method"] in REFERENCES) == ref]
            if part:
                ax.errorbar([x for x, _ in part], [_stat(r, "top1")[0] * 100 for _, r in part],
                            yerr=[_stat(r, "top1")[1] * 100 for _, r in part], fmt="s" if ref else "o",
                            capsize=3, color="0.55" if ref else "tab:blue", label="reference" if ref else "method")
        _chance(ax, [r for _, r in sel])
        ax.set_ylim(0, 100)
        xv = [x for x, _ in sel]
        xspan = (max(xv) - min(xv)) or max(abs(max(xv)), 1e-9)
        for g in _clusters([(x, _stat(r, "top1")[0] * 100, r["method"]) for x, r in sel], xspan, 100.0):
            names = [n for _, _, n in g]
            text = "\n".join(", ".join(names[i:i + 3]) for i in range(0, len(names), 3))
            ax.annotate(text, (g[0][0], g[0][1]), fontsize=7, xytext=(5, 4), textcoords="offset points")
        ax.margins(x=0.25)
        ax.set_title(f"{protocol} / {dataset}", fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("top-1 %")
        ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
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
    made = [forest(rows, plots_dir / "differences.png", dpi), accuracy_per_method(rows, plots_dir / "accuracy.png", dpi)]
    gflops = {(r["protocol"], r["method"], r["dataset"]): (r.get("gflops_per_view") or {}).get("mean") for r in rows}
    made.append(accuracy_vs(rows, gflops, "GFLOPs per view", plots_dir / "accuracy_vs_gflops.png", dpi))
    times = pretrain_times(runs)
    pt = {(r["protocol"], r["method"], r["dataset"]): times.get(r["method"]) for r in rows}
    made.append(accuracy_vs(rows, pt, "pretraining wall time (s)", plots_dir / "accuracy_vs_pretrain_time.png", dpi))
    made.append(training_curves(runs, plots_dir / "training_curves.png", dpi))
    return [p for p in made if p is not None]
