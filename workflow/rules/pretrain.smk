# Pretraining: one job per (method, seed) on the experiment's pretraining dataset.
# checkpoint.pt is deliberately not a declared output: Snakemake deletes the outputs of a failed
# job, and the checkpoint must survive a kill so that the rerun resumes exactly.
PRETRAIN_DATASET = EXP["pretrain_dataset"]


def pretrain_inputs(wildcards):
    """The dataset manifest, the motion cache directories the method's masking or target reads
    under the params (`spec.motion_caches`: e.g. mgm reads `flow` when masking.mgm.guidance is
    flow) and its token targets directory: the directory outputs of the motion and tokenizer_encode
    rules (a file inside a directory output cannot be an input). dvc.yaml's pretrain stages list
    the same paths (tests/test_pretrain_workflow.py)."""
    from motionmvm import methods

    spec = methods.get(wildcards.method)
    inputs = [f"{DATA}/{PRETRAIN_DATASET}/manifest.json",
              *(f"{CACHE}/{PRETRAIN_DATASET}/motion/{k}" for k in spec.motion_caches(CFG.get("masking")))]
    if spec.target == "tokens":
        inputs.append(f"{CACHE}/{PRETRAIN_DATASET}/{spec.tokens_dir}")
    return inputs


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
    wildcard_constraints:
        seed=r"\d+",
    shell:
        "motionmvm launch {LAUNCH} {ARGS} -- pretrain {ARGS} --method {wildcards.method} --dataset " + PRETRAIN_DATASET
        + " --seed {wildcards.seed} --no-progress"


ALL_TARGETS.extend(f"{RUNS}/pretrain/{m}/seed{s}/metrics.json" for m in EXP["methods"] for s in EXP["seeds"])
