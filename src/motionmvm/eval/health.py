"""Health gates: can this run detect what it claims to measure? (results/P/health.json)

Computed by the aggregation step from the same metrics.json files as the table (plus the
pretraining runs' metrics.json for the loss gate). Four gates, each a list of checks with the
measured number, the threshold and pass/fail; a check whose runs are missing fails (never skipped):
- learnable:  supervised-from-scratch fine-tuning reaches `min_scratch_top1` on the pretraining
              dataset; on the motion-only dataset its frozen features are `min_above_single_frame`
              above the single-frame control's, and the control is within
              `max_single_frame_above_chance` of chance (no motion, no shortcut);
- sensitive:  on each motion-only frozen-feature protocol (`motion_protocols`) some pretrained
              encoder beats random_init with a paired CI (over seeds) whose lower end is above 0
              (the stricter reading of issue 11's "few-shot or linear probe": both are checked);
- powered:    the paired CI half-width of every method's difference to the baseline is at most
              `max_half_width` on each headline protocol;
- pretraining learns: every pixel-target method ends at a normalised-pixel loss of at most
              `max_pixel_loss` (predicting each patch's mean scores 1.0), and every method's final
              loss is at least `min_below_trivial` (relative) under its own trivial predictor's
              loss on the same batches (the best constant prediction, logged by the loop).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from motionmvm.eval import rundirs
from motionmvm.eval.stats import paired_difference

GATES = ("learnable", "sensitive", "powered", "pretraining_learns")
SINGLE_FRAME = "scratch_1frame"


def collect_pretrain(pretrain_root: str | Path) -> dict:
    """{method: {seed: metrics}} from pretrain_root/<method>/seed<S>/metrics.json."""
    return {key[0]: runs for key, runs in rundirs.by_seed(pretrain_root, 1).items()}


def _check(what: str, value, op: str, threshold: float, detail: str = "") -> dict:
    ok = value is not None and (value >= threshold if op == ">=" else value <= threshold if op == "<="
                                else value > threshold)
    return {"what": what, "value": value, "op": op, "threshold": threshold, "passed": bool(ok),
            **({"detail": detail} if detail else {})}


def _top1(runs: dict, protocol: str, method: str, dataset: str) -> dict:
    """{seed: top1} of one (protocol, method, dataset); {} when it did not run."""
    return {s: m["top1"] for s, m in runs.get((protocol, method, dataset), {}).items() if m.get("top1") is not None}


def _chance(runs: dict, protocol: str, dataset: str) -> float | None:
    """1 / number of evaluated classes, from any run of that protocol and dataset."""
    for (p, _, d), by_seed in runs.items():
        if (p, d) == (protocol, dataset):
            m = next(iter(by_seed.values()))
            names = m.get("eval_classes") or m.get("class_names")
            if names:
                return 1.0 / len(names)
    return None


def _mean(vals: dict) -> float | None:
    return float(np.mean(list(vals.values()))) if vals else None


def learnable(runs: dict, h: dict, pretrain_dataset: str) -> dict:
    scratch = _top1(runs, "finetune", "scratch", pretrain_dataset)
    mp, md = h["motion_protocol"], h["motion_dataset"]
    sup, single = _top1(runs, mp, "scratch", md), _top1(runs, mp, SINGLE_FRAME, md)
    chance = _chance(runs, mp, md)
    gap = (paired_difference(sup, single)["mean"] if set(sup) & set(single) else None)
    above = None if (not single or chance is None) else abs(_mean(single) - chance)
    return {"name": "learnable", "checks": [
        _check(f"scratch fine-tune top-1 on {pretrain_dataset} test", _mean(scratch), ">=", h["min_scratch_top1"]),
        _check(f"scratch minus {SINGLE_FRAME} top-1, {mp} on {md} (mean paired difference)", gap, ">=",
               h["min_above_single_frame"]),
        _check(f"|{SINGLE_FRAME} top-1 - chance|, {mp} on {md}", above, "<=", h["max_single_frame_above_chance"],
               f"chance {chance:.3f}" if chance is not None else "no run to read chance from"),
    ]}


def sensitive(runs: dict, h: dict, methods: list[str], confidence: float) -> dict:
    checks = []
    md = h["motion_dataset"]
    for protocol in h["motion_protocols"]:
        base = _top1(runs, protocol, "random_init", md)
        best = None
        for method in methods:
            vals = _top1(runs, protocol, method, md)
            if len(set(vals) & set(base)) < 2:
                continue
            d = paired_difference(vals, base, confidence)
            if best is None or d["ci_low"] > best[1]["ci_low"]:
                best = (method, d)
        detail = ("no pretrained method with 2+ seeds paired with random_init" if best is None else
                  f"best {best[0]}: difference {best[1]['mean']:+.4f}, CI [{best[1]['ci_low']:+.4f}, "
                  f"{best[1]['ci_high']:+.4f}] over seeds {best[1]['seeds']}")
        checks.append(_check(f"max over pretrained methods of the CI low end of (method - random_init), "
                             f"{protocol} on {md}", None if best is None else best[1]["ci_low"], ">", 0.0, detail))
    return {"name": "sensitive", "checks": checks}


def _baseline_key(protocol: str, dataset: str, baseline: str) -> tuple:
    return ("finetune", baseline, dataset) if protocol == "mar_finetune" else (protocol, baseline, dataset)


def powered(runs: dict, h: dict, methods: list[str], baseline: str, confidence: float) -> dict:
    checks = []
    for head in h["headline"]:
        protocol, dataset = head.split("/")
        base = _top1(runs, *_baseline_key(protocol, dataset, baseline))
        widths = {}
        for method in methods:
            if method == baseline:
                continue
            vals = _top1(runs, protocol, method, dataset)
            if len(set(vals) & set(base)) >= 2:
                widths[method] = paired_difference(vals, base, confidence)["half_width"]
        worst = max(widths.items(), key=lambda kv: kv[1]) if widths else None
        detail = ("no method with 2+ seeds paired with the baseline" if worst is None else
                  f"widest: {worst[0]}; seeds {sorted(base)}")
        checks.append(_check(f"max paired CI half-width of (method - {baseline}), {protocol} on {dataset}",
                             None if worst is None else worst[1], "<=", h["max_half_width"], detail))
    return {"name": "powered", "checks": checks}


def pretraining_learns(pre: dict, h: dict, methods: list[str]) -> dict:
    checks = []
    for method in methods:
        by_seed = pre.get(method, {})
        if not by_seed:
            checks.append(_check(f"{method}: pretraining metrics", None, "<=", 0.0, "no pretraining metrics.json"))
            continue
        target = next(iter(by_seed.values())).get("target")
        if target == "pixel":
            worst = max(m.get("loss_last") if m.get("loss_last") is not None else np.inf for m in by_seed.values())
            checks.append(_check(f"{method}: worst final normalised-pixel loss over seeds", _finite(worst), "<=",
                                 h["max_pixel_loss"], "predicting each patch's mean scores 1.0"))
        ratios = [m["loss_last"] / m["trivial_loss_last"] if m.get("trivial_loss_last") and m.get("loss_last") is not None
                  else np.inf for m in by_seed.values()]
        checks.append(_check(f"{method} ({target}): worst final loss / trivial predictor's loss over seeds",
                             _finite(max(ratios)), "<=", 1.0 - h["min_below_trivial"],
                             "" if np.isfinite(max(ratios)) else "a run did not log trivial_loss_last"))
    return {"name": "pretraining_learns", "checks": checks}


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def compute(runs: dict, pre: dict, cfg: dict, baseline: str) -> dict:
    """health.json's content from eval runs {(protocol, method, dataset): {seed: metrics}} and
    pretraining runs {method: {seed: metrics}}."""
    ev, exp = cfg["eval"], cfg["experiment"]
    h, conf, methods = ev["health"], ev["confidence"], list(exp["methods"])
    gates = [learnable(runs, h, exp["pretrain_dataset"]), sensitive(runs, h, methods, conf),
             powered(runs, h, methods, baseline, conf), pretraining_learns(pre, h, methods)]
    for g in gates:
        g["passed"] = bool(g["checks"]) and all(c["passed"] for c in g["checks"])
    return {"profile": cfg["profile"], "confidence": conf, "thresholds": h,
            "passed": all(g["passed"] for g in gates), "gates": gates}


def _num(x) -> str:
    return "missing" if x is None else f"{x:.4g}"


def markdown(health: dict) -> list[str]:
    """The gates as a bullet list (table.md opens with it; the table parser reads `|` lines only)."""
    verdict = "all gates pass" if health["passed"] else "**SOME GATES FAIL: method differences below cannot be read as rankings**"
    lines = [f"## Health gates: {verdict}", ""]
    for g in health["gates"]:
        lines.append(f"- **{g['name']}: {'PASS' if g['passed'] else 'FAIL'}**")
        for c in g["checks"]:
            extra = f" ({c['detail']})" if c.get("detail") else ""
            lines.append(f"  - {'pass' if c['passed'] else 'FAIL'}: {c['what']} = {_num(c['value'])} "
                         f"(required {c['op']} {c['threshold']:g}){extra}")
    return lines + [""]
