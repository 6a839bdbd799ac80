"""results/P/report.html: one self-contained page (images inlined) with the table, the audit
verdict, plots, mask pictures and the provenance of every run."""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from motionmvm.io import atomic_write_text, read_json


def read_provenance(report_html: str | Path) -> dict:
    """The provenance block embedded by `write`."""
    text = Path(report_html).read_text()
    start = text.index('<script type="application/json" id="provenance">') + len('<script type="application/json" id="provenance">')
    return json.loads(text[start:text.index("</script>", start)].replace("<\\/", "</"))


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<figure><img src="data:image/png;base64,{data}"><figcaption>{html.escape(path.name)}</figcaption></figure>'


def _md_table(md: str) -> str:
    lines = [ln.strip().strip("|") for ln in md.splitlines() if ln.strip().startswith("|")]
    if len(lines) < 2:
        return "<p>(empty table)</p>"
    cells = [[html.escape(c.strip()) for c in ln.split("|")] for ln in lines]
    head = "".join(f"<th>{c}</th>" for c in cells[0])
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in cells[2:])
    return f"<table><tr>{head}</tr>{body}</table>"


def _provenance_rows(runs: Path) -> str:
    rows = []
    for m in sorted(runs.glob("**/metrics.json")):
        prov = read_json(m).get("provenance") or {}
        git = prov.get("git") or {}
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
            m.relative_to(runs), (git.get("commit") or "")[:10] + (" (dirty)" if git.get("dirty") else ""),
            prov.get("slurm_job_id") or "", prov.get("host", ""), prov.get("gpu") or "",
            prov.get("seed", ""), prov.get("wall_time_s", ""))) + "</tr>")
    if not rows:
        return "<p>No metrics files yet.</p>"
    head = "".join(f"<th>{h}</th>" for h in ("metrics file", "git commit", "SLURM job", "host", "GPU", "seed", "wall s"))
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def write(out: Path, profile: str, results: Path, runs: Path, plots: list[Path], masks: list[Path],
          provenance: dict | None = None, sections: list[str] | None = None) -> Path:
    """provenance: the report step's own record (commit, params hash, host, SLURM job id), embedded
    as JSON in <script id="provenance">. sections: further HTML sections placed after the results
    table (a reproduction experiment's reported-beside-reproduced table, report/reported.py)."""
    table = results / "table.md"
    audit = results / "audit.json"
    parts = [f"<h1>motionmvm results — profile {html.escape(profile)}</h1>"]
    parts.append("<h2>Results table (mean ± 95% CI over seeds)</h2>")
    parts.append(_md_table(table.read_text()) if table.exists() else "<p>No results table yet (evaluation has not run).</p>")
    parts.extend(sections or [])
    if audit.exists():
        a = read_json(audit)
        verdict = "passed" if a["ok"] else "FAILED"
        parts.append(f"<h2>Audit: {verdict}</h2><p>{len(a['cells'])} cells traced to their metrics files and predictions.</p>")
        if a["problems"]:
            parts.append("<ul>" + "".join(f"<li>{html.escape(p)}</li>" for p in a["problems"]) + "</ul>")
    parts.append("<h2>Plots</h2>" + ("".join(_img(p) for p in plots) or "<p>No plots yet.</p>"))
    if masks:
        parts.append("<h2>Masks</h2>" + "".join(_img(p) for p in masks))
    parts.append("<h2>Provenance of every run</h2>" + _provenance_rows(runs))
    if provenance is not None:
        blob = json.dumps(provenance, sort_keys=True).replace("</", "<\\/")
        parts.append(f'<script type="application/json" id="provenance">{blob}</script>')
    style = ("body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}img{max-width:100%}")
    atomic_write_text(out, f"<!doctype html><html><head><meta charset='utf-8'><title>motionmvm {profile}</title>"
                           f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n")
    return out
