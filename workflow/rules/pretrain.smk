# Pretraining: one job per (method, seed) on the experiment's pretraining dataset.
# checkpoint.pt is deliberately not a declared output: Snakemake deletes the outputs of a failed
# job, and the checkpoint must survive a kill so that the rerun resumes exactly.
PRETRAIN_DATASET = EXP["pretrain_dataset"]


# A GPU step: it runs on the submitting host and `motionmvm launch` dispatches it (in-process or a
# local subprocess here; through submitit with requeue-and-resume under `--profile slurm`).
localrules:
    pretrain,


rule pretrain:
    input:
        pretrain_inputs,
    output:
        encoder=f"{RUNS}/pretrain/{{method}}/seed{{seed}}/encoder.pt",
        metrics=f"{RUNS}/pretrain/{{method}}/seed{{seed}}/metrics.json",
        log=f"{RUNS}/pretrain/{{method}}/seed{{seed}}/log.csv",
    log:
        f"{LOGS}/pretrain/{{method}}/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/pretrain/{{method}}/seed{{seed}}.tsv"
    params:
        args=ARGS,
        # formatted when the job's command is built: the executor (SLURM or not) is known then;
        # an object, not a string, so Snakemake's params rerun trigger ignores it
        launch=LAUNCH,
    wildcard_constraints:
        method="|".join(EXP["methods"]),  # imported checkpoints' encoders come from import_checkpoint
        seed=r"\d+",
    conda:
        CONDA_ENV
    shell:
        f"motionmvm launch {{params.launch}} {{params.args}} -- pretrain {{params.args}} --method {{wildcards.method}} "
        f"--dataset {PRETRAIN_DATASET} --seed {{wildcards.seed}} --no-progress > {{log}} 2>&1"


ALL_TARGETS.extend(f"{RUNS}/pretrain/{m}/seed{s}/metrics.json" for m in EXP["methods"] for s in EXP["seeds"])
