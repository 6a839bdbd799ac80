"""Aggregate every run's metrics.json over seeds: results/P/{summary.json,table.csv,table.md}.

Per protocol x method x dataset: mean, std and 95% t-CI of each reported metric, and the paired
difference (same seeds) against the baseline: `videomae` under the same protocol, and for MAR
rows the full fine-tuning of `videomae` (MAR's claim is "as accurate at fewer FLOPs").
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from motionmvm.config import planned_seeds
from motionmvm.eval import health as health_mod
from motionmvm.eval import rundirs
from motionmvm.eval.stats import mean_ci, paired_difference
from motionmvm.io import atomic_write_text, read_json, write_json

METRICS = ("top1", "top5", "mean_class_accuracy", "negative_transfer", "gflops_per_view",
           "throughput_views_per_s")
BASELINE = "videomae"


def collect(eval_root: str | Path, cfg: dict | None = None) -> dict:
    """{(protocol, method, dataset): {seed: metrics}} from eval_root/<p>/<m>/<d>/seed<S>/metrics.json.

    cfg: drop the experiment's seeds that params `eval.seed_plan` leaves out of a cell
    (config.planned_seeds), say a run left from before the plan changed. A seed the experiment
    does not define stays, and the audit names it.
    """
    runs = rundirs.by_seed(eval_root, 3)
    if cfg is None:
        return runs
    out = {}
    for key, by_seed in runs.items():
        left_out = set(cfg["experiment"]["seeds"]) - set(planned_seeds(cfg, key[0], key[1]))
        kept = {s: m for s, m in by_seed.items() if s not in left_out}
        if kept:
            out[key] = kept
    return out


def _baseline_key(key: tuple) -> tuple:
    protocol, method, dataset = key
    if protocol == "mar_finetune":
        return ("finetune", BASELINE, dataset)
    return (protocol, BASELINE, dataset)


def summarize(runs: dict, confidence: float = 0.95) -> list[dict]:
    rows = []
    for key in sorted(runs):
        by_seed = runs[key]
        row = {"protocol": key[0], "method": key[1], "dataset": key[2], "seeds": sorted(by_seed)}
        names = next(iter(by_seed.values())).get("eval_classes") or next(iter(by_seed.values())).get("class_names")
        if names:
            row["chance"] = 1.0 / len(names)  # top-1 of a uniform guess (balanced test splits)
        for metric in METRICS:
            vals = {s: m[metric] for s, m in by_seed.items() if m.get(metric) is not None}
            if not vals:
                continue
            row[metric] = mean_ci([vals[s] for s in sorted(vals)], confidence)
            base = runs.get(_baseline_key(key))
            if base is not None and _baseline_key(key) != key and metric in ("top1", "top5", "negative_transfer"):
                bvals = {s: m[metric] for s, m in base.items() if m.get(metric) is not None}
                if set(vals) & set(bvals):
                    row.setdefault("vs_baseline", {"baseline": "/".join(_baseline_key(key))})[metric] = \
                        paired_difference(vals, bvals, confidence)
        rows.append(row)
    return rows


def _fmt(stat: dict | None, scale: float = 100.0) -> str:
    if stat is None:
        return ""
    if stat["half_width"] is None:
        return f"{stat['mean'] * scale:.1f}"
    return f"{stat['mean'] * scale:.1f} ± {stat['half_width'] * scale:.1f}"


def table_rows(rows: list[dict]) -> list[dict]:
    """Flat rows for table.csv (raw numbers, fractions not percent)."""
    flat = []
    for r in rows:
        out = {"protocol": r["protocol"], "method": r["method"], "dataset": r["dataset"], "n_seeds": len(r["seeds"])}
        for metric in METRICS:
            if metric in r:
                for stat in ("mean", "std", "ci_low", "ci_high"):
                    out[f"{metric}_{stat}"] = r[metric][stat]
        diff = r.get("vs_baseline", {}).get("top1")
        out["top1_diff_vs_baseline"] = None if diff is None else diff["mean"]
        out["top1_diff_ci_low"] = None if diff is None else diff["ci_low"]
        out["top1_diff_ci_high"] = None if diff is None else diff["ci_high"]
        flat.append(out)
    return flat


def write_outputs(rows: list[dict], results_dir: str | Path, confidence: float = 0.95,
                  health: dict | None = None) -> None:
    """health: the gates (health.json); table.md then opens with them."""
    results_dir = Path(results_dir)
    if health is not None:
        write_json(results_dir / "health.json", health)
    write_json(results_dir / "summary.json", {"confidence": confidence, "baseline": BASELINE, "rows": rows})
    flat = table_rows(rows)
    fields = sorted({k for r in flat for k in r}, key=lambda k: (k not in ("protocol", "method", "dataset", "n_seeds"), k))
    fields = ["protocol", "method", "dataset", "n_seeds"] + [f for f in fields if f not in ("protocol", "method", "dataset", "n_seeds")]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for r in flat:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in fields})
    atomic_write_text(results_dir / "table.csv", buf.getvalue())
    pct = int(round(confidence * 100))
    md = health_mod.markdown(health) if health is not None else []
    md += [f"| protocol | method | dataset | seeds | top-1 % (± {pct}% CI) | top-5 % | Δ top-1 vs baseline (paired) | neg. transfer % | GFLOPs/view |",
          "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        diff = r.get("vs_baseline", {}).get("top1")
        d = "" if diff is None else _fmt(diff) + f" (vs {r['vs_baseline']['baseline']})"
        g = r.get("gflops_per_view")
        md.append(f"| {r['protocol']} | {r['method']} | {r['dataset']} | {len(r['seeds'])} | {_fmt(r.get('top1'))} | "
                  f"{_fmt(r.get('top5'))} | {d} | {_fmt(r.get('negative_transfer'))} | "
                  f"{'' if g is None else format(g['mean'], '.3g')} |")
    atomic_write_text(results_dir / "table.md", "\n".join(md) + "\n")


def aggregate(eval_root: str | Path, results_dir: str | Path, confidence: float = 0.95,
              cfg: dict | None = None, pretrain_root: str | Path | None = None) -> list[dict]:
    """cfg + pretrain_root: also compute the health gates (results_dir/health.json)."""
    runs = collect(eval_root, cfg)
    if not runs:
        raise FileNotFoundError(f"no metrics.json under {eval_root}/<protocol>/<method>/<dataset>/seed<S>/")
    rows = summarize(runs, confidence)
    health = None
    if cfg is not None:
        health = health_mod.compute(runs, health_mod.collect_pretrain(pretrain_root), cfg, BASELINE)
    write_outputs(rows, results_dir, confidence, health)
    return rows
