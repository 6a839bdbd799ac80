"""Where a pipeline run's time goes, per Snakemake rule, from its `benchmark:` files.

    python benchmarks/rule_times.py [--profile small] [--root logs/small/benchmarks]

Each job writes `logs/<profile>/benchmarks/<rule>/<wildcards>.tsv` (Snakemake: wall seconds `s`,
`cpu_time`, `max_rss` in MB). Prints per rule: jobs, summed wall seconds, summed CPU seconds, the
share of all job time, and the slowest job; then the machine line. The summed job time exceeds the
wall time of the whole run when jobs ran in parallel (`--cores 2`).
"""
from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

from _common import machine


def read(root: Path) -> dict[str, list[dict]]:
    """{rule directory: [one dict per job]} from root/<rule>/**/*.tsv."""
    jobs: dict[str, list[dict]] = defaultdict(list)
    for tsv in sorted(root.rglob("*.tsv")):
        with tsv.open(newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                jobs[tsv.relative_to(root).parts[0]].append(
                    {"job": str(tsv.relative_to(root)), "s": float(row["s"]),
                     "cpu": float(row.get("cpu_time") or 0.0), "rss": float(row.get("max_rss") or 0.0)})
    return jobs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="small")
    ap.add_argument("--root", default=None, help="benchmark folder (default logs/<profile>/benchmarks)")
    args = ap.parse_args(argv)
    root = Path(args.root or f"logs/{args.profile}/benchmarks")
    jobs = read(root)
    if not jobs:
        print(f"rule_times: no benchmark files under {root}; run the pipeline first "
              f"(snakemake all --cores 2 --config profile={args.profile})", file=sys.stderr)
        return 2
    total = sum(j["s"] for js in jobs.values() for j in js)
    print(f"| rule | jobs | job wall s (sum) | CPU s (sum) | share of job time | slowest job (s) |")
    print("|---|---|---|---|---|---|")
    for rule, js in sorted(jobs.items(), key=lambda kv: -sum(j["s"] for j in kv[1])):
        s, cpu = sum(j["s"] for j in js), sum(j["cpu"] for j in js)
        slow = max(js, key=lambda j: j["s"])
        print(f"| {rule} | {len(js)} | {s:.0f} | {cpu:.0f} | {100 * s / total:.1f}% | {slow['s']:.1f} ({slow['job']}) |")
    print(f"| all | {sum(map(len, jobs.values()))} | {total:.0f} | {sum(j['cpu'] for js in jobs.values() for j in js):.0f} | 100% | |")
    print(f"\n{machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
