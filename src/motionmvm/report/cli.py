"""`motionmvm report` (plots + HTML report) and `motionmvm audit results/P/table.md`."""
from __future__ import annotations

import sys
from pathlib import Path

from motionmvm.common_args import add_config_args, load_config


def _dirs(cfg: dict) -> tuple[Path, Path]:
    p = cfg["profile"]
    return Path(cfg["paths"]["results"]) / p, Path(cfg["paths"]["runs"]) / p


def _reported_sections(cfg: dict, params: str, summary: dict | None, runs) -> list[str]:
    """A reproduction experiment's reported numbers beside ours; none for the shared budget."""
    from motionmvm import experiments
    from motionmvm.report import reported

    name = cfg["experiment"]["name"]
    if name == experiments.SHARED:
        return []
    exp = experiments.load(name, params)
    return [reported.html_section(name, exp["paper"], reported.compare(exp["reported"], summary, runs))]


def _report_command(args) -> int:
    import time

    from motionmvm.io import read_json
    from motionmvm.provenance import record
    from motionmvm.report import html, plots

    started = time.time()
    cfg = load_config(args)
    results, runs = _dirs(cfg)
    summary_path = results / "summary.json"
    summary = read_json(summary_path) if summary_path.exists() else None
    made = plots.make_all(summary, runs, results / "plots", dpi=(cfg.get("report") or {}).get("dpi", 110))
    masks = sorted((results / "masks").glob("*.png"))  # pictures from `motionmvm show-masks`
    prov = record(cfg, started=started, step="report")
    out = html.write(results / "report.html", cfg["profile"], results, runs, made, masks, provenance=prov,
                     sections=_reported_sections(cfg, args.params, summary, runs))
    print(f"report: {len(made)} plots in {results / 'plots'}, {out}")
    return 0


def _audit_command(args) -> int:
    from motionmvm.io import write_json
    from motionmvm.report.audit import audit

    if args.verify:
        return _verify_command(args)
    if args.table is None:
        print("audit: name the table to audit (results/P/table.md) or --verify a summary", file=sys.stderr)
        return 2
    table = Path(args.table)
    if not table.exists():
        print(f"audit: no table at {table}", file=sys.stderr)
        return 2
    if args.profile is None:  # results/<profile>/table.md names its profile
        args.profile = table.parent.name
    cfg = load_config(args)
    summary = args.summary or (str(Path(args.out).parent / "audit_summary.json") if args.out else None)
    result = audit(table, cfg, root=args.root, dvc_lock=args.dvc_lock, hash_videos=not args.skip_video_hashes,
                   check_dvc_lock=not args.skip_dvc_lock, summary_out=summary)
    for p in result["problems"]:
        print(f"AUDIT FAIL {p}")
    if args.out:
        write_json(args.out, result)
    verdict = "all links hold" if result["ok"] else f"{len(result['problems'])} broken links"
    print(f"audit: {len(result['cells'])} cells, {verdict}")
    if summary:
        print(f"audit: signed summary {summary} (sha256 {result['summary']})")
    return 0 if result["ok"] else 1


def _verify_command(args) -> int:
    from motionmvm.report.audit_summary import verify

    if not Path(args.verify).exists():
        print(f"audit: no summary at {args.verify}", file=sys.stderr)
        return 2
    found = verify(args.verify, args.root, args.params)
    for p in found:
        print(f"VERIFY FAIL {p}")
    print(f"audit --verify: {'every hash holds' if not found else f'{len(found)} differences'} ({args.verify} against {args.root})")
    return 0 if not found else 1


def register(subparsers) -> None:
    p = subparsers.add_parser("report", help="plots and the HTML report: results/P/{plots/,report.html}")
    add_config_args(p)
    p.set_defaults(func=_report_command)

    a = subparsers.add_parser("audit", help="trace every table cell to its runs, recompute it, check hashes")
    a.add_argument("table", nargs="?", default=None, help="results/P/table.md")
    add_config_args(a)
    a.add_argument("--root", default=".", help="repository root the recorded paths are relative to")
    a.add_argument("--dvc-lock", default=None, help="dvc.lock to check outputs against (default: ROOT/dvc.lock)")
    a.add_argument("--out", default=None, help="write the trace as JSON here (e.g. results/P/audit.json)")
    a.add_argument("--summary", default=None,
                   help="write the signed summary here (default: audit_summary.json beside --out)")
    a.add_argument("--verify", default=None, metavar="SUMMARY",
                   help="check the tree under --root against a signed summary instead of auditing")
    a.add_argument("--skip-dvc-lock", action="store_true",
                   help="do not compare with dvc.lock (Snakemake runs: DVC records their outputs "
                        "only when the workflow has finished, with `dvc commit`)")
    a.add_argument("--skip-video-hashes", action="store_true",
                   help="do not re-hash every video of the datasets (slow on full-size data)")
    a.set_defaults(func=_audit_command)
