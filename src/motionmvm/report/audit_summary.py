"""The signed audit summary: one small JSON file a reader can keep without the run tree.

It holds the table as printed and, per cell and run, the sha256 of predictions.csv and
metrics.json, the scored dataset's manifest hash, the checkpoint's sha256, the params hash and the
code commit; `digest` is the sha256 of everything else in the file (canonical JSON), so an edit to
the file shows, and the file's own sha256 (shown in the report) pins it.
`motionmvm audit --verify FILE` checks a tree against it: same table, same files, same hashes.
"""
from __future__ import annotations

import json
from pathlib import Path

from motionmvm import config as mcfg
from motionmvm.io import read_json, sha256_file, sha256_json, write_json

FORMAT = "motionmvm-audit-summary/1"


def _digest(body: dict) -> str:
    return sha256_json({k: v for k, v in body.items() if k != "digest"})


def _run_record(aud, run) -> dict:
    prov = run.metrics.get("provenance") or {}
    scored = run.metrics.get("scored") or {}
    pred = run.path.parent / "predictions.csv"
    return {"metrics": run.rel, "metrics_sha256": aud.sha256(run.path),
            "predictions": aud.rel(pred), "predictions_sha256": aud.sha256(pred) if pred.exists() else None,
            "dataset": scored.get("dataset"), "manifest_hash": scored.get("manifest_hash"),
            "checkpoint": (prov.get("checkpoint") or {}).get("path"),
            "checkpoint_sha256": (prov.get("checkpoint") or {}).get("sha256"),
            "params_hash": prov.get("params_hash"), "code_commit": (prov.get("git") or {}).get("commit")}


def write(path: Path, aud, cells: dict, ok: bool) -> str:
    """Write the summary for an audited table; returns the file's sha256."""
    body = {"format": FORMAT, "profile": aud.cfg["profile"], "audit_ok": ok,
            "table_md": aud.rel(aud.table_md), "table_md_sha256": sha256_file(aud.table_md),
            "table": aud.table_md.read_text(), "params_hash": aud.params_hash,
            "cells": [{"cell": c.cell.name, "printed": c.cell.text, "runs": [_run_record(aud, r) for r in c.runs]}
                      for c in cells.values()]}
    body["digest"] = _digest(body)
    write_json(path, body)
    return sha256_file(path)


def verify(summary_path: str | Path, root: str | Path, params: str | Path) -> list[str]:
    """Problems of the tree under `root` against the summary (empty: every hash holds)."""
    try:
        body = json.loads(Path(summary_path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        return [f"{summary_path}: cannot read the summary ({exc})"]
    if body.get("format") != FORMAT:
        return [f"{summary_path}: not an audit summary (format {body.get('format')!r}, expected {FORMAT!r})"]
    root = Path(root)
    if not (root / params).exists():
        return [f"{root / params}: no params file to verify the params hash against (pass --params or --root)"]
    found = []
    if body.get("digest") != _digest(body):
        found.append("summary: digest does not match its contents (the summary was edited)")
    if not body.get("audit_ok"):
        found.append("summary: the audit that wrote it failed")
    table = root / body["table_md"]
    if not table.exists() or sha256_file(table) != body["table_md_sha256"]:
        found.append(f"{body['table_md']}: differs from the table in the summary")
    current = mcfg.params_hash(mcfg.load(root / params, body["profile"]))
    if current != body["params_hash"]:
        found.append(f"params: {params} (profile {body['profile']}) hash {current[:12]} != {body['params_hash'][:12]}")
    for cell in body["cells"]:
        for r in cell["runs"]:
            found += [f"{cell['cell']}: {p}" for p in _verify_run(root, r, body["params_hash"])]
    return found


def _verify_run(root: Path, r: dict, params_hash: str) -> list[str]:
    found = []
    for key in ("metrics", "predictions", "checkpoint"):
        if r.get(key) is None:
            continue
        f = root / r[key]
        if not f.exists():
            found.append(f"{key}: {r[key]} is missing")
        elif sha256_file(f) != r[f"{key}_sha256"]:
            found.append(f"{key}: {r[key]} sha256 differs from the summary")
    if r.get("dataset"):
        m = root / r["dataset"] / "manifest.json"
        if not m.exists() or read_json(m).get("hash") != r["manifest_hash"]:
            found.append(f"dataset: {r['dataset']} manifest hash differs from the summary")
    mpath = root / r["metrics"]
    if mpath.exists():
        prov = read_json(mpath).get("provenance") or {}
        if (prov.get("git") or {}).get("commit") != r["code_commit"]:
            found.append(f"code commit: {r['metrics']} records another commit than the summary")
        if r["params_hash"] != params_hash:
            found.append(f"params: {r['metrics']} was made with params hash {str(r['params_hash'])[:12]}")
    return found
