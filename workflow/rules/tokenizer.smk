# Tokenizer (models area): DEMVM's video tokenizer per dataset, then token targets per clip.
# 3D VQ-VAE (default) and the per-frame 2D VQ baseline (DEMVM ablation, `tokenizer2d`).


wildcard_constraints:
    dataset="[a-z0-9_]+",


# GPU steps (params resources.tokenizer_train): local rules dispatched by `motionmvm launch`.
localrules:
    tokenizer_train,
    tokenizer2d_train,


rule tokenizer_train:
    input:
        manifest=f"{DATA}/{{dataset}}/manifest.json",
        clips=f"{CACHE}/{{dataset}}/clips",
    output:
        model=f"{RUNS}/tokenizer/{{dataset}}/tokenizer.pt",
        metrics=f"{RUNS}/tokenizer/{{dataset}}/metrics.json",
    log:
        f"{LOGS}/tokenizer_train/{{dataset}}.log",
    benchmark:
        f"{BENCH}/tokenizer_train/{{dataset}}.tsv"
    params:
        args=ARGS,
        launch=LAUNCH,  # GPU step: submitit with params resources.<step> under SLURM
    priority: 40  # gates demvm's pretraining
    conda:
        CONDA_ENV
    shell:
        "motionmvm launch {params.launch} {params.args} -- tokenizer train {params.args} --dataset {wildcards.dataset} > {log} 2>&1"


rule tokenizer_encode:
    input:
        manifest=f"{DATA}/{{dataset}}/manifest.json",
        clips=f"{CACHE}/{{dataset}}/clips",
        model=f"{RUNS}/tokenizer/{{dataset}}/tokenizer.pt",
    output:
        directory(f"{CACHE}/{{dataset}}/tokens"),
    log:
        f"{LOGS}/tokenizer_encode/{{dataset}}.log",
    benchmark:
        f"{BENCH}/tokenizer_encode/{{dataset}}.tsv"
    params:
        args=ARGS,
    priority: 40  # gates demvm's pretraining
    conda:
        CONDA_ENV
    shell:
        "motionmvm tokenizer encode {params.args} --dataset {wildcards.dataset} > {log} 2>&1"


rule tokenizer2d_train:
    input:
        manifest=f"{DATA}/{{dataset}}/manifest.json",
        clips=f"{CACHE}/{{dataset}}/clips",
    output:
        model=f"{RUNS}/tokenizer2d/{{dataset}}/tokenizer.pt",
        metrics=f"{RUNS}/tokenizer2d/{{dataset}}/metrics.json",
    log:
        f"{LOGS}/tokenizer2d_train/{{dataset}}.log",
    benchmark:
        f"{BENCH}/tokenizer2d_train/{{dataset}}.tsv"
    params:
        args=ARGS,
        launch=LAUNCH,  # GPU step: submitit with params resources.<step> under SLURM
    priority: 40  # beside the 3D tokenizer, as in the run measured in docs/results.md
    conda:
        CONDA_ENV
    shell:
        "motionmvm launch {params.launch} {params.args} -- tokenizer train {params.args} --dataset {wildcards.dataset} --kind 2d > {log} 2>&1"


rule tokenizer2d_encode:
    input:
        manifest=f"{DATA}/{{dataset}}/manifest.json",
        clips=f"{CACHE}/{{dataset}}/clips",
        model=f"{RUNS}/tokenizer2d/{{dataset}}/tokenizer.pt",
    output:
        directory(f"{CACHE}/{{dataset}}/tokens2d"),
    log:
        f"{LOGS}/tokenizer2d_encode/{{dataset}}.log",
    benchmark:
        f"{BENCH}/tokenizer2d_encode/{{dataset}}.tsv"
    params:
        args=ARGS,
    priority: 40  # beside the 3D tokenizer, as in the run measured in docs/results.md
    conda:
        CONDA_ENV
    shell:
        "motionmvm tokenizer encode {params.args} --dataset {wildcards.dataset} --kind 2d > {log} 2>&1"


# DEMVM's targets are needed for the pretraining dataset whenever demvm is pretrained; the 2D
# tokenizer is its Table 7 ablation baseline (dvc.yaml builds both, so `all` does too).
if "demvm" in EXP["methods"]:
    ALL_TARGETS += [
        f"{RUNS}/tokenizer/{EXP['pretrain_dataset']}/metrics.json",
        f"{CACHE}/{EXP['pretrain_dataset']}/tokens",
        f"{RUNS}/tokenizer2d/{EXP['pretrain_dataset']}/metrics.json",
        f"{CACHE}/{EXP['pretrain_dataset']}/tokens2d",
    ]
