# Imported checkpoints (params experiment.imported: name -> released file or transformers
# directory): `motionmvm import-checkpoint` writes the encoder where a pretrained method's is,
# runs/P/pretrain/<name>/seed<S>/encoder.pt (the same weights in every seed directory: the seed
# varies the evaluation), so every protocol, the table, the report and the audit take it as is.
import re

IMPORTED = CFG["experiment"].get("imported") or {}

if IMPORTED:

    rule import_checkpoint:
        input:
            lambda wc: IMPORTED[wc.name],
        output:
            encoder=f"{RUNS}/pretrain/{{name}}/seed{{seed}}/encoder.pt",
            record=f"{RUNS}/pretrain/{{name}}/seed{{seed}}/import.json",
        log:
            f"{LOGS}/import_checkpoint/{{name}}/seed{{seed}}.log",
        params:
            args=ARGS,
        wildcard_constraints:
            name="|".join(re.escape(n) for n in IMPORTED),
            seed=r"\d+",
        conda:
            CONDA_ENV
        shell:
            "motionmvm import-checkpoint {params.args} --name {wildcards.name} --seed {wildcards.seed} > {log} 2>&1"
