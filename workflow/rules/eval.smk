# Evaluation protocols (src/motionmvm/eval). Every rule is one `motionmvm <step>`; dvc.yaml has the
# same steps (stages eval_*). Run directories: {RUNS}/eval/<protocol>/<method>/<dataset>/seed<S>.
EV = CFG["eval"]
EVAL = f"{RUNS}/eval"
EVAL_REFS = list(EV["reference_methods"])
EVAL_METHODS = list(EXP["methods"]) + EVAL_REFS
DA_PAIR = f"{EV['domain_adapt']['source']}-to-{EV['domain_adapt']['target']}"


wildcard_constraints:
    seed=r"\d+",


rule eval_finetune:
    input:
        encoder=eval_encoder("finetune", EVAL, EVAL_REFS),
        data=f"{DATA}/{{dataset}}/manifest.json",
        clips=f"{CACHE}/{{dataset}}/clips",
    output:
        **eval_run_outputs(EVAL, "finetune"),
    log:
        f"{LOGS}/eval_finetune/{{method}}/{{dataset}}/seed{{seed}}.log",
    params:
        args=ARGS,
    wildcard_constraints:
        method="|".join(m for m in EVAL_METHODS if m != "scratch"),
    conda:
        CONDA_ENV
    shell:
        "motionmvm finetune {params.args} --method {wildcards.method} --dataset {wildcards.dataset} --seed {wildcards.seed} > {log} 2>&1"


rule eval_finetune_scratch:
    input:
        encoder=f"{RUNS}/pretrain/videomae/seed{{seed}}/encoder.pt",
        data=f"{DATA}/{{dataset}}/manifest.json",
        clips=f"{CACHE}/{{dataset}}/clips",
    output:
        **eval_run_outputs(EVAL, "finetune", method="scratch"),
        encoder=f"{EVAL}/finetune/scratch/{{dataset}}/seed{{seed}}/encoder.pt",
    log:
        f"{LOGS}/eval_finetune_scratch/{{dataset}}/seed{{seed}}.log",
    params:
        args=ARGS,
    conda:
        CONDA_ENV
    shell:
        "motionmvm finetune {params.args} --method scratch --dataset {wildcards.dataset} --seed {wildcards.seed} > {log} 2>&1"


rule eval_mar:
    input:
        encoder=f"{RUNS}/pretrain/videomae/seed{{seed}}/encoder.pt",
        data=f"{DATA}/{{dataset}}/manifest.json",
        clips=f"{CACHE}/{{dataset}}/clips",
    output:
        **eval_run_outputs(EVAL, "mar_finetune", method="mar_r{percent}"),
    log:
        f"{LOGS}/eval_mar/mar_r{{percent}}/{{dataset}}/seed{{seed}}.log",
    params:
        args=ARGS,
    wildcard_constraints:
        percent="25|50|75",
    conda:
        CONDA_ENV
    shell:
        "motionmvm mar-finetune {params.args} --mask-percent {wildcards.percent} --dataset {wildcards.dataset} --seed {wildcards.seed} > {log} 2>&1"


rule eval_linear_probe:
    input:
        encoder=eval_encoder("linear_probe", EVAL, EVAL_REFS),
        data=f"{DATA}/{{dataset}}/manifest.json",
        clips=f"{CACHE}/{{dataset}}/clips",
    output:
        **eval_run_outputs(EVAL, "linear_probe"),
    log:
        f"{LOGS}/eval_linear_probe/{{method}}/{{dataset}}/seed{{seed}}.log",
    params:
        args=ARGS,
    conda:
        CONDA_ENV
    shell:
        "motionmvm linear-probe {params.args} --method {wildcards.method} --dataset {wildcards.dataset} --seed {wildcards.seed} > {log} 2>&1"


rule eval_fewshot:
    input:
        encoder=eval_encoder("fewshot", EVAL, EVAL_REFS),
        data=f"{DATA}/{{dataset}}/manifest.json",
        clips=f"{CACHE}/{{dataset}}/clips",
    output:
        **eval_run_outputs(EVAL, "fewshot"),
    log:
        f"{LOGS}/eval_fewshot/{{method}}/{{dataset}}/seed{{seed}}.log",
    params:
        args=ARGS,
    conda:
        CONDA_ENV
    shell:
        "motionmvm fewshot {params.args} --method {wildcards.method} --dataset {wildcards.dataset} --seed {wildcards.seed} > {log} 2>&1"


rule eval_domain_adapt:
    input:
        encoder=eval_encoder("domain_adapt", EVAL, EVAL_REFS),
        source=f"{DATA}/{EV['domain_adapt']['source']}/manifest.json",
        target=f"{DATA}/{EV['domain_adapt']['target']}/manifest.json",
        source_clips=f"{CACHE}/{EV['domain_adapt']['source']}/clips",
        target_clips=f"{CACHE}/{EV['domain_adapt']['target']}/clips",
    output:
        **eval_run_outputs(EVAL, "domain_adapt", dataset=DA_PAIR),
    log:
        f"{LOGS}/eval_domain_adapt/{{method}}/seed{{seed}}.log",
    params:
        args=ARGS,
    conda:
        CONDA_ENV
    shell:
        "motionmvm domain-adapt {params.args} --method {wildcards.method} --seed {wildcards.seed} > {log} 2>&1"


rule eval_aggregate:
    input:
        eval_all_metrics(EVAL, EVAL_METHODS, DA_PAIR),
    output:
        summary=f"{RESULTS}/summary.json",
        csv=f"{RESULTS}/table.csv",
        md=f"{RESULTS}/table.md",
    log:
        f"{LOGS}/eval_aggregate.log",
    params:
        args=ARGS,
    conda:
        CONDA_ENV
    shell:
        "motionmvm aggregate {params.args} > {log} 2>&1"


ALL_TARGETS.extend([f"{RESULTS}/summary.json", f"{RESULTS}/table.csv", f"{RESULTS}/table.md"])
