"""results/P/report.html: one self-contained page (images inlined) with the table, the audit
verdict and the sha256 of its signed summary, plots, mask pictures and the provenance of every run."""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from motionmvm.io import atomic_write_text, read_json, sha256_file


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


def _gates(results: Path) -> str:
    """The health gates first: each check's number, threshold and verdict; failures in red."""
    path = results / "health.json"
    if not path.exists():
        return "<h2 class='fail'>Health gates: no health.json (run `motionmvm aggregate`)</h2>"
    h = read_json(path)
    head = ("<h2 class='pass'>Health gates: all pass</h2>" if h["passed"] else
            "<h2 class='fail'>Health gates: SOME FAIL: method differences below cannot be read as rankings</h2>")
    rows = []
    for g in h["gates"]:
        for i, c in enumerate(g["checks"]):
            cls = "pass" if c["passed"] else "fail"
            gate = (f"<td rowspan='{len(g['checks'])}' class='{'pass' if g['passed'] else 'fail'}'><b>"
                    f"{html.escape(g['name'])}: {'PASS' if g['passed'] else 'FAIL'}</b></td>") if i == 0 else ""
            value = "missing" if c["value"] is None else f"{c['value']:.4g}"
            rows.append(f"<tr>{gate}<td>{html.escape(c['what'])}</td><td class='{cls}'>{value}</td>"
                        f"<td>{html.escape(c['op'])} {c['threshold']:g}</td><td class='{cls}'>"
                        f"{'pass' if c['passed'] else 'FAIL'}</td><td>{html.escape(c.get('detail', ''))}</td></tr>")
    return (head + "<table class='gates'><tr><th>gate</th><th>check</th><th>value</th><th>required</th>"
            "<th>verdict</th><th>detail</th></tr>" + "".join(rows) + "</table>")


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


def _efficiency_rows(runs: Path) -> str:
    """Per pretraining run: throughput, data-wait fraction, FLOPs and MFU (train/accounting.py)."""
    def fmt(v, spec):
        return "n/a" if v is None else format(v, spec)

    rows = []
    for m in sorted(runs.glob("pretrain/*/seed*/metrics.json")):
        d = read_json(m)
        if "data_wait_fraction" not in d:
            continue
        cells = (m.parent.relative_to(runs), d.get("device_name", ""), d.get("precision", ""),
                 fmt(d.get("clips_per_s"), ".1f"), fmt(d.get("data_wait_fraction"), ".1%"),
                 fmt(d.get("gflops_per_clip"), ".1f"), fmt(d.get("mfu"), ".1%"))
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    if not rows:
        return "<p>No pretraining runs with step accounting yet.</p>"
    head = "".join(f"<th>{h}</th>" for h in ("run", "device", "precision", "clips/s", "waiting for data",
                                              "GFLOP per clip (fwd+bwd)", "MFU (bf16 dense peak)"))
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def write(out: Path, profile: str, results: Path, runs: Path, plots: list[Path], masks: list[Path],
          provenance: dict | None = None, sections: list[str] | None = None) -> Path:
    """provenance: the report step's own record (commit, params hash, host, SLURM job id), embedded
    as JSON in <script id="provenance">. sections: further HTML sections placed after the results
    table (a reproduction experiment's reported-beside-reproduced table, report/reported.py)."""
    table = results / "table.md"
    audit = results / "audit.json"
    parts = [f"<h1>motionmvm results — profile {html.escape(profile)}</h1>", _gates(results)]
    lead = [p for p in plots if p.name == "differences.png"]
    if lead:
        parts.append("<h2>Each method against the baseline (paired differences over seeds)</h2>" + _img(lead[0]))
    parts.append("<h2>Results table (mean ± 95% CI over seeds)</h2>")
    parts.append(_md_table(table.read_text()) if table.exists() else "<p>No results table yet (evaluation has not run).</p>")
    parts.extend(sections or [])
    plots = [p for p in plots if p.name != "differences.png"]
    if audit.exists():
        a = read_json(audit)
        verdict = "passed" if a["ok"] else "FAILED"
        parts.append(f"<h2>Audit: {verdict}</h2><p>{len(a['cells'])} cells traced to their metrics files and predictions.</p>")
        if a["problems"]:
            parts.append("<ul>" + "".join(f"<li>{html.escape(p)}</li>" for p in a["problems"]) + "</ul>")
    signed = results / "audit_summary.json"
    if signed.exists():  # a reader pins the audited table by this hash (`motionmvm audit --verify`)
        parts.append(f"<p>Signed audit summary <code>{html.escape(signed.name)}</code>: sha256 "
                     f"<code id='audit-summary-sha256'>{sha256_file(signed)}</code></p>")
    parts.append("<h2>Plots</h2>" + ("".join(_img(p) for p in plots) or "<p>No plots yet.</p>"))
    if masks:
        parts.append("<h2>Masks</h2>" + "".join(_img(p) for p in masks))
    parts.append("<h2>Pretraining efficiency (last session of each run)</h2>" + _efficiency_rows(runs))
    parts.append("<h2>Provenance of every run</h2>" + _provenance_rows(runs))
    if provenance is not None:
        blob = json.dumps(provenance, sort_keys=True).replace("</", "<\\/")
        parts.append(f'<script type="application/json" id="provenance">{blob}</script>')
    style = ("body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}img{max-width:100%}"
             ".fail{color:#b00000;background:#fde8e8}.pass{color:#0a6b0a}")
    atomic_write_text(out, f"<!doctype html><html><head><meta charset='utf-8'><title>motionmvm {profile}</title>"
                           f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n")
    return out
