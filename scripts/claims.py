"""The papers' directional claims, checked on one profile's runs: paired differences over seeds.

    python scripts/claims.py [--profile small]   ->  markdown on stdout (docs/results.md quotes it)

Reads runs/<profile>/eval/<protocol>/<method>/<dataset>/seed<S>/metrics.json (the same files the
table and the audit read) and pretraining logs runs/<profile>/pretrain/<method>/seed<S>/log.csv.
A claim "holds" here only when the paired 95% CI of the difference lies above zero; "reversed"
when it lies below; otherwise the data cannot tell.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

from motionmvm import config
from motionmvm.eval.aggregate import collect
from motionmvm.eval.stats import paired_difference

# (claim, protocol, dataset, better method, worse method): each paper's comparison mapped onto the
# methods this experiment runs. Comments name the confound where the pair is not a clean ablation.
COMPARISONS = [
    ("motion-guided masking above tube (MGM)", "finetune", "synth", "mgm", "videomae"),
    ("motion-guided masking above tube (MGMAE)", "finetune", "synth", "mgmae", "videomae"),
    ("tube above random masking", "finetune", "synth", "videomae", "stmae"),
    ("motion-guided masking above tube (MGM), linear probe", "linear_probe", "synth", "mgm", "videomae"),
    ("motion-guided masking above tube (MGMAE), linear probe", "linear_probe", "synth", "mgmae", "videomae"),
    ("tube above random masking, linear probe", "linear_probe", "synth", "videomae", "stmae"),
    # mme masks tubes at 0.7 (videomae: 0.9): target and ratio differ together.
    ("MME trajectories above pixels", "finetune", "synth", "mme", "videomae"),
    ("MME trajectories above pixels, linear probe", "linear_probe", "synth", "mme", "videomae"),
    # demvm differs from stmae in mask, target (tokens) and encoder (Swin): not the paper's ablation.
    ("FGDM above random masking, mimed few-shot", "fewshot", "synth_mimed", "demvm", "stmae"),
    ("pretraining above a random encoder, linear probe", "linear_probe", "synth", "videomae", "random_init"),
    ("pretraining above a random encoder, mimed few-shot", "fewshot", "synth_mimed", "videomae", "random_init"),
]


def top1_by_seed(runs: dict, protocol: str, method: str, dataset: str) -> dict:
    return {s: m["top1"] for s, m in runs.get((protocol, method, dataset), {}).items()}


def verdict(diff: dict) -> str:
    if diff["ci_low"] is None:
        return "one seed: no interval"
    if diff["ci_low"] > 0:
        return "holds"
    if diff["ci_high"] < 0:
        return "reversed"
    return "cannot tell"


def comparisons(runs: dict) -> list[str]:
    out = ["| claim | protocol / dataset | pair | difference in top-1, points (95% CI) | verdict |",
           "|---|---|---|---|---|"]
    for claim, protocol, dataset, better, worse in COMPARISONS:
        a, b = top1_by_seed(runs, protocol, better, dataset), top1_by_seed(runs, protocol, worse, dataset)
        if not (set(a) & set(b)):
            out.append(f"| {claim} | {protocol} / {dataset} | {better} - {worse} | no runs | - |")
            continue
        d = paired_difference(a, b)
        ci = "" if d["ci_low"] is None else f" ({100 * d['ci_low']:+.1f}, {100 * d['ci_high']:+.1f})"
        out.append(f"| {claim} | {protocol} / {dataset} | {better} - {worse} | {100 * d['mean']:+.1f}{ci} | {verdict(d)} |")
    return out


def mar_cost(runs: dict, dataset: str = "synth") -> list[str]:
    full = runs.get(("finetune", "videomae", dataset), {})
    out = ["| run | top-1 % (mean over seeds) | GFLOPs per view | of full fine-tuning |", "|---|---|---|---|"]
    if not full:
        return out
    f_top1 = sum(m["top1"] for m in full.values()) / len(full)
    f_gf = next(iter(full.values()))["gflops_per_view"]
    out.append(f"| finetune videomae | {100 * f_top1:.1f} | {f_gf:.4f} | 1.00 |")
    for key in sorted(k for k in runs if k[0] == "mar_finetune" and k[2] == dataset):
        r = runs[key]
        top1 = sum(m["top1"] for m in r.values()) / len(r)
        gf = next(iter(r.values()))["gflops_per_view"]
        out.append(f"| {key[1]} | {100 * top1:.1f} | {gf:.4f} | {gf / f_gf:.2f} |")
    return out


def pretrain_losses(runs_root: Path, methods: list[str]) -> list[str]:
    out = ["| method | seeds | first logged loss | last logged loss | steps |", "|---|---|---|---|---|"]
    for method in methods:
        firsts, lasts, steps = [], [], []
        for log in sorted((runs_root / "pretrain" / method).glob("seed*/log.csv")):
            rows = list(csv.DictReader(log.open()))
            if rows:
                firsts.append(float(rows[0]["loss"]))
                lasts.append(float(rows[-1]["loss"]))
                steps.append(int(rows[-1]["step"]))
        if firsts:
            out.append(f"| {method} | {len(firsts)} | {sum(firsts) / len(firsts):.4f} | "
                       f"{sum(lasts) / len(lasts):.4f} | {max(steps)} |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--profile", default=None)
    args = ap.parse_args()
    cfg = config.load(args.params, args.profile)
    runs_root = Path(cfg["paths"]["runs"]) / cfg["profile"]
    runs = collect(runs_root / "eval", cfg)  # the cells of the table: each on its planned seeds
    if not runs:
        raise SystemExit(f"no evaluation runs under {runs_root / 'eval'}: run the pipeline first")
    print("\n".join(["### Claims (paired over seeds)", "", *comparisons(runs), "",
                     "### MAR: accuracy and cost against full fine-tuning", "", *mar_cost(runs), "",
                     "### Pretraining loss (mean over seeds)", "",
                     *pretrain_losses(runs_root, list(cfg["experiment"]["methods"]))]))


if __name__ == "__main__":
    main()
