"""Audit of results/P/health.json: recompute every gate from the metrics.json files and compare.

A broken link is reported as `health.json: <gate> / <check>: <what is wrong>`; an edited number,
threshold or verdict in health.json, or gate lines in table.md that say something else than the
recomputed gates, are all reported. The metrics files themselves are checked against their
predictions by the cell audit (report/audit.py), which calls this module.
"""
from __future__ import annotations

import math
from pathlib import Path

from motionmvm.eval import health as health_mod
from motionmvm.eval.aggregate import BASELINE, collect
from motionmvm.io import read_json


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def check_health(results_dir: str | Path, cfg: dict, runs_dir: str | Path) -> list[str]:
    """results_dir: results/P (health.json, table.md); runs_dir: runs/P (eval/, pretrain/)."""
    results_dir, runs_dir = Path(results_dir), Path(runs_dir)
    path = results_dir / "health.json"
    if not path.exists():
        return [f"health.json: {path} is missing (run `motionmvm aggregate`)"]
    recorded = read_json(path)
    want = health_mod.compute(collect(runs_dir / "eval"), health_mod.collect_pretrain(runs_dir / "pretrain"),
                              cfg, BASELINE)
    problems = []
    if recorded.get("thresholds") != want["thresholds"]:
        problems.append(f"health.json: thresholds {recorded.get('thresholds')} != params eval.health {want['thresholds']}")
    if recorded.get("passed") != want["passed"]:
        problems.append(f"health.json: overall verdict passed={recorded.get('passed')} but the runs give {want['passed']}")
    got_gates = {g.get("name"): g for g in recorded.get("gates", [])}
    for g in want["gates"]:
        rec = got_gates.get(g["name"])
        if rec is None:
            problems.append(f"health.json: gate {g['name']} is missing")
            continue
        if rec.get("passed") != g["passed"]:
            problems.append(f"health.json: {g['name']}: passed={rec.get('passed')} but the runs give {g['passed']}")
        rec_checks = {c.get("what"): c for c in rec.get("checks", [])}
        for c in g["checks"]:
            r = rec_checks.get(c["what"])
            if r is None:
                problems.append(f"health.json: {g['name']} / {c['what']}: check is missing")
                continue
            for key in ("value", "threshold", "op", "passed"):
                if not _same(r.get(key), c[key]):
                    problems.append(f"health.json: {g['name']} / {c['what']}: {key} {r.get(key)!r} recorded, "
                                    f"{c[key]!r} recomputed")
    table = results_dir / "table.md"
    if table.exists():
        lines = table.read_text().splitlines()
        expected = health_mod.markdown(want)
        if lines[:len(expected)] != expected:
            problems.append("table.md: its health-gate lines differ from the gates recomputed from the runs")
    return problems
