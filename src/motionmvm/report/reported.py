"""Reported beside reproduced: a reproduction experiment's paper numbers next to this pipeline's.

For each row the paper reports (experiments/<name>.yaml `reported`), the reproduced top-1 is the
matching summary.json row (protocol, method, dataset). The difference is reproduced - reported in
points; its confidence interval is the reproduced number's (the paper gives no spread, so its
number is taken as exact):
  - 2 or more seeds: Student t over seeds (summary.json's `top1` interval);
  - one seed, few-shot: the interval over the random draws of shots (`top1_over_draws`);
  - one seed otherwise: the Wilson interval of the accuracy over the scored test clips, i.e. the
    test-set sampling error only (run more seeds to include training noise).
"""
from __future__ import annotations

import html
import json
from pathlib import Path

from scipy import stats


def _single_run_ci(runs: Path, row: dict, confidence: float) -> tuple[float, float, str] | None:
    """(low, high, kind) in fractions from the one run's metrics.json, or None."""
    seed = row["seeds"][0]
    path = runs / "eval" / row["protocol"] / row["method"] / row["dataset"] / f"seed{seed}" / "metrics.json"
    if not path.exists():
        return None
    m = json.loads(path.read_text())
    draws = m.get("top1_over_draws") or {}
    if draws.get("ci_low") is not None and draws.get("ci_high") is not None:
        return draws["ci_low"], draws["ci_high"], f"{len(m.get('top1_per_draw', []))} draws of shots"
    n = m.get("clips_evaluated")
    if not n:
        return None
    ci = stats.binomtest(round(m["top1"] * n), n).proportion_ci(confidence, method="wilson")
    return ci.low, ci.high, f"Wilson, {n} test clips"


def compare(reported: list[dict], summary: dict | None, runs: str | Path) -> list[dict]:
    """One entry per reported row: the paper's number, ours (percent), difference and its CI."""
    runs = Path(runs)
    confidence = (summary or {}).get("confidence", 0.95)
    ours = {(r["protocol"], r["method"], r["dataset"]): r for r in (summary or {}).get("rows", [])}
    out = []
    for rep in reported:
        row = ours.get((rep["protocol"], rep["method"], rep["dataset"]))
        entry = {**rep, "reproduced": None, "difference": None, "diff_ci": None, "ci_kind": None,
                 "seeds": 0, "confidence": confidence}
        if row is not None and row.get("top1") is not None:
            top1 = row["top1"]
            entry["reproduced"] = 100 * top1["mean"]
            entry["difference"] = entry["reproduced"] - rep["top1"]
            entry["seeds"] = len(row["seeds"])
            if top1.get("ci_low") is not None:
                lo, hi, kind = top1["ci_low"], top1["ci_high"], f"t over {len(row['seeds'])} seeds"
            else:
                single = _single_run_ci(runs, row, confidence)
                lo, hi, kind = single if single else (None, None, None)
            if lo is not None:
                entry["diff_ci"] = (100 * lo - rep["top1"], 100 * hi - rep["top1"])
                entry["ci_kind"] = kind
        out.append(entry)
    return out


def _cells(e: dict) -> list[str]:
    rep = f"{e['top1']:.1f}"
    if e["reproduced"] is None:
        return [e["protocol"], e["method"], e["dataset"], rep, "not run yet", "", "", e["table"], e["section"]]
    ci = "" if e["diff_ci"] is None else f"[{e['diff_ci'][0]:+.1f}, {e['diff_ci'][1]:+.1f}] ({e['ci_kind']})"
    return [e["protocol"], e["method"], e["dataset"], rep, f"{e['reproduced']:.1f}", f"{e['difference']:+.1f}", ci,
            e["table"], e["section"]]


def header(entries: list[dict]) -> list[str]:
    pct = round(100 * (entries[0]["confidence"] if entries else 0.95))
    return ["protocol", "method", "dataset", "reported top-1 %", "reproduced top-1 %", "difference (points)",
            f"{pct}% CI of the difference", "table", "section"]


def markdown(entries: list[dict]) -> str:
    head = header(entries)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cells(e)) + " |" for e in entries]
    return "\n".join(lines) + "\n"


def html_section(name: str, paper: dict, entries: list[dict]) -> str:
    """The report's "Reported beside reproduced" section for experiment `name`."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header(entries))
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in _cells(e)) + "</tr>" for e in entries)
    settings = "".join(f"<li>{html.escape(e['table'])}, {html.escape(e['method'])} on {html.escape(e['dataset'])}: "
                       f"{html.escape(e['setting'])}</li>" for e in entries)
    return (f"<h2>Reported beside reproduced: {html.escape(name)}</h2>"
            f"<p>Paper {html.escape(paper['id'])}: {html.escape(paper['title'])} ({html.escape(paper['venue'])}). "
            "Difference = reproduced − reported; its interval is the reproduced number's (the paper states no "
            "spread).</p>"
            f"<table><tr>{head}</tr>{body}</table><p>What the paper states for each number:</p><ul>{settings}</ul>")
