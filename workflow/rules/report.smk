# Results report and provenance audit (orchestration area): rules `audit` and `report`.
# Both grow with the pipeline: their inputs are whatever the other areas' rules can produce
# (results table, pretraining logs), checked when the DAG is built, so this file never needs
# editing when a step is added. GPU steps elsewhere call `motionmvm launch {LAUNCH} -- <step> ...`.

_REPORT_RULES = {"audit", "report"}


class _LaunchFlags:
    """`--backend submitit` when Snakemake itself runs on SLURM (`--profile slurm`), so GPU rules
    (localrules) dispatch through submitit; empty otherwise (params launch.backend decides)."""

    def __str__(self):
        from motionmvm.launch.core import snakemake_flags

        plugin = workflow.executor_plugin
        return snakemake_flags(None if plugin is None else plugin.name)


LAUNCH = _LaunchFlags()


def producible(paths):
    """The subset of `paths` that some other rule of this workflow can make."""
    return [p for p in paths
            if any(r.name not in _REPORT_RULES and r.is_producer(p) for r in workflow.rules)]


def audit_target(wildcards):
    """results/P/audit.json once a rule makes the results table (the evaluation area's aggregate)."""
    return [f"{RESULTS}/audit.json"] if producible([f"{RESULTS}/table.md"]) else []


def report_inputs(wildcards):
    """Everything the report shows that this workflow produces."""
    pre = expand(f"{RUNS}/pretrain/{{m}}/seed{{s}}/{{f}}", m=EXP["methods"], s=EXP["seeds"],
                 f=["log.csv", "metrics.json"])
    return producible([f"{RESULTS}/summary.json", f"{RESULTS}/table.md", *pre]) + audit_target(wildcards)


rule audit:
    input:
        table=f"{RESULTS}/table.md",
        summary=f"{RESULTS}/summary.json",
    output:
        f"{RESULTS}/audit.json",
    log:
        f"logs/{PROFILE}/audit.log",
    resources:
        runtime=30,
    shell:
        "motionmvm audit {ARGS} --out {output} {input.table} > {log} 2>&1 || (cat {log}; exit 1)"


rule report:
    input:
        report_inputs,
    output:
        html=f"{RESULTS}/report.html",
        plots=report(directory(f"{RESULTS}/plots"), patterns=["{name}.png"],
                     caption="../report/plots.rst", category="Results"),
    log:
        f"logs/{PROFILE}/report.log",
    resources:
        runtime=15,
    shell:
        "motionmvm report {ARGS} > {log} 2>&1"


ALL_TARGETS.extend([f"{RESULTS}/report.html", audit_target])


onsuccess:
    # Record what Snakemake made in dvc.lock, so that `dvc status` / `dvc repro` agree nothing is
    # left to do (the outputs are the same files; DVC only needs their hashes). Skipped on dry runs
    # and inside cluster jobs (Snakemake runs no hooks there).
    if Path(".dvc").is_dir() and Path("dvc.yaml").exists():
        shell("dvc commit --force --quiet || echo 'motionmvm: `dvc commit` failed: DVC does not know "
              "these outputs yet (run `dvc commit` once every stage output exists)' >&2")
