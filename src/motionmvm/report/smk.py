"""Helpers for workflow/rules/report.smk (kept in Python so the rules file holds only rules)."""
from __future__ import annotations

from motionmvm.launch.core import snakemake_flags


class LaunchFlags:
    """Formats as `--backend submitit` when Snakemake itself runs on SLURM (`--profile slurm`), so
    GPU rules (localrules with `params: launch=LAUNCH` calling `motionmvm launch {params.launch}
    -- ...`) dispatch through submitit; empty otherwise (params launch.backend decides).
    Evaluated when a job's shell command is built, after the executor is known."""

    def __init__(self, workflow):
        self.workflow = workflow

    def __str__(self) -> str:
        plugin = self.workflow.executor_plugin
        return snakemake_flags(None if plugin is None else plugin.name)


def producible(workflow, paths, skip_rules=()) -> list[str]:
    """The subset of `paths` that some rule of `workflow` (other than `skip_rules`) can make."""
    return [p for p in paths
            if any(r.name not in skip_rules and r.is_producer(p) for r in workflow.rules)]


def report_inputs(workflow, results: str, runs: str, exp: dict, skip_rules=()) -> list[str]:
    """Everything the report shows that this workflow produces: results table and summary,
    audit verdict, pretraining logs and metrics."""
    pre = [f"{runs}/pretrain/{m}/seed{s}/{f}" for m in exp["methods"] for s in exp["seeds"]
           for f in ("log.csv", "metrics.json")]
    found = producible(workflow, [f"{results}/summary.json", f"{results}/table.md", *pre], skip_rules)
    return found + audit_target(workflow, results, skip_rules)


def audit_target(workflow, results: str, skip_rules=()) -> list[str]:
    """results/P/audit.json once a rule makes the results table (the evaluation area's aggregate)."""
    return [f"{results}/audit.json"] if producible(workflow, [f"{results}/table.md"], skip_rules) else []
