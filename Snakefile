# motionmvm workflow: every rule calls one `motionmvm <step>` command (the same commands as dvc.yaml).
# Run locally:  snakemake --cores 2 all          On SLURM:  snakemake --profile slurm all
from pathlib import Path

configfile: "params.yaml"


include: "workflow/rules/common.smk"


for _rules in sorted(Path(workflow.basedir, "workflow", "rules").glob("*.smk")):
    if _rules.name != "common.smk":

        include: str(_rules)


rule all:
    input:
        all_targets(),
