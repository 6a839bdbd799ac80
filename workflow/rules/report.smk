# Results report and provenance audit (orchestration area): rules `audit` and `report`.
# Both grow with the pipeline: their inputs are whatever the other areas' rules can produce
# (results table, pretraining logs), checked when the DAG is built, so this file never needs
# editing when a step is added. GPU steps elsewhere call `motionmvm launch {params.launch} -- <step> ...`.

from motionmvm.report import smk as _smk

_OWN = {"audit", "report"}


rule audit:
    input:
        table=f"{RESULTS}/table.md",
        summary=f"{RESULTS}/summary.json",
        health=f"{RESULTS}/health.json",  # health issue (#11): audited too
    output:
        trace=f"{RESULTS}/audit.json",
        summary=f"{RESULTS}/audit_summary.json",
    log:
        f"{LOGS}/audit.log",
    benchmark:
        f"{BENCH}/audit.tsv"
    params:
        args=ARGS,
    resources:
        runtime=30,
    conda:
        CONDA_ENV
    shell:
        "motionmvm audit {params.args} --skip-dvc-lock --out {output.trace} --summary {output.summary} {input.table} > {log} 2>&1 || (cat {log}; exit 1)"


rule report:
    input:
        lambda wc: _smk.report_inputs(workflow, RESULTS, RUNS, EXP, _OWN),
    output:
        html=f"{RESULTS}/report.html",
        plots=report(directory(f"{RESULTS}/plots"), patterns=["{name}.png"],
                     caption="../report/plots.rst", category="Results"),
    log:
        f"{LOGS}/report.log",
    benchmark:
        f"{BENCH}/report.tsv"
    params:
        args=ARGS,
    resources:
        runtime=15,
    conda:
        CONDA_ENV
    shell:
        "motionmvm report {params.args} > {log} 2>&1"


ALL_TARGETS.extend([f"{RESULTS}/report.html", lambda wc: _smk.audit_target(workflow, RESULTS, _OWN)])


onsuccess:
    # Record what Snakemake made in dvc.lock, so that `dvc status` / `dvc repro` agree nothing is
    # left to do (the outputs are the same files; DVC only needs their hashes). Skipped on dry runs
    # and inside cluster jobs (Snakemake runs no hooks there).
    if Path(".dvc").is_dir() and Path("dvc.yaml").exists():
        shell("dvc commit --force --quiet || echo 'motionmvm: `dvc commit` failed: DVC does not know "
              "these outputs yet (run `dvc commit` once every stage output exists)' >&2")
