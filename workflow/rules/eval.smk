# Evaluation protocols (src/motionmvm/eval). Every rule is one `motionmvm <step>`; dvc.yaml has the
# same steps (stages eval_*). Run directories: {RUNS}/eval/<protocol>/<method>/<dataset>/seed<S>.
EV = CFG["eval"]
EVAL = f"{RUNS}/eval"
EVAL_REFS = list(EV["reference_methods"])
EVAL_METHODS = mcfg.encoder_methods(CFG) + EVAL_REFS  # methods + imported checkpoints + references
DA_PAIRS = [f"{p['source']}-to-{p['target']}" for p in EV["domain_adapt"]["pairs"]]


wildcard_constraints:
    seed=r"\d+",
    supervised="scratch|scratch_1frame",


# GPU steps: local rules whose `motionmvm launch` dispatches them (under `--profile slurm`: one
# submitit job each with params `resources.<step>`, requeued on timeout and resumed from the step's
# checkpoint), as pretraining does.
localrules:
    eval_mar,
    eval_domain_adapt,


# ---- health issue (#11): params eval.process_per_encoder (the budget profiles) ----
# One job per encoder and seed, `motionmvm evaluate`: its fine-tuning on every evaluation dataset,
# then its linear probes and few-shot runs, in one process (one ~5 s import of torch and timm
# instead of one per protocol). The supervised references train there too, and their frozen runs
# read the encoder they just trained. Same run directories as the per-protocol rules below.
if EV["process_per_encoder"]:

    localrules:
        eval_encoder,
        eval_supervised,

    rule eval_encoder:
        input:
            encoder=eval_encoder("finetune", EVAL, EVAL_REFS),
            data=evaluate_data(supervised=False),
        output:
            evaluate_outputs(EVAL, supervised=False),
        log:
            f"{LOGS}/eval_encoder/{{method}}/seed{{seed}}.log",
        benchmark:
            f"{BENCH}/eval_encoder/{{method}}/seed{{seed}}.tsv"
        params:
            args=ARGS,
            launch=LAUNCH,  # GPU step: submitit with params resources.evaluate under SLURM
        wildcard_constraints:
            method="|".join(m for m in EVAL_METHODS if m not in ("scratch", "scratch_1frame")),
        conda:
            CONDA_ENV
        shell:
            "motionmvm launch {params.launch} {params.args} -- evaluate {params.args} --method {wildcards.method} --seed {wildcards.seed} > {log} 2>&1"

    rule eval_supervised:
        input:
            encoder=f"{RUNS}/pretrain/videomae/seed{{seed}}/encoder.pt",  # architecture only
            data=evaluate_data(supervised=True),
        output:
            evaluate_outputs(EVAL, supervised=True),
            encoder=f"{EVAL}/finetune/{{method}}/{EXP['pretrain_dataset']}/seed{{seed}}/encoder.pt",
        log:
            f"{LOGS}/eval_supervised/{{method}}/seed{{seed}}.log",
        benchmark:
            f"{BENCH}/eval_supervised/{{method}}/seed{{seed}}.tsv"
        params:
            args=ARGS,
            launch=LAUNCH,  # GPU step: submitit with params resources.evaluate under SLURM
        wildcard_constraints:
            method="scratch|scratch_1frame",
        conda:
            CONDA_ENV
        shell:
            "motionmvm launch {params.launch} {params.args} -- evaluate {params.args} --method {wildcards.method} --seed {wildcards.seed} > {log} 2>&1"

else:

    localrules:
        eval_finetune,
        eval_finetune_scratch,
        eval_frozen,

    rule eval_finetune:
        input:
            encoder=eval_encoder("finetune", EVAL, EVAL_REFS),
            data=f"{DATA}/{{dataset}}/manifest.json",
            clips=f"{CACHE}/{{dataset}}/clips",
        output:
            **eval_run_outputs(EVAL, "finetune"),
        log:
            f"{LOGS}/eval_finetune/{{method}}/{{dataset}}/seed{{seed}}.log",
        benchmark:
            f"{BENCH}/eval_finetune/{{method}}/{{dataset}}/seed{{seed}}.tsv"
        params:
            args=ARGS,
            launch=LAUNCH,  # GPU step: submitit with params resources.<step> under SLURM
        wildcard_constraints:
            method="|".join(m for m in EVAL_METHODS if m not in ("scratch", "scratch_1frame")),
        conda:
            CONDA_ENV
        shell:
            "motionmvm launch {params.launch} {params.args} -- finetune {params.args} --method {wildcards.method} --dataset {wildcards.dataset} --seed {wildcards.seed} > {log} 2>&1"

    rule eval_finetune_scratch:
        input:
            encoder=f"{RUNS}/pretrain/videomae/seed{{seed}}/encoder.pt",
            data=f"{DATA}/{{dataset}}/manifest.json",
            clips=f"{CACHE}/{{dataset}}/clips",
        output:
            **eval_run_outputs(EVAL, "finetune", method="{supervised}"),
            encoder=f"{EVAL}/finetune/{{supervised}}/{{dataset}}/seed{{seed}}/encoder.pt",
        log:
            f"{LOGS}/eval_finetune_scratch/{{supervised}}/{{dataset}}/seed{{seed}}.log",
        benchmark:
            f"{BENCH}/eval_finetune_scratch/{{supervised}}/{{dataset}}/seed{{seed}}.tsv"
        params:
            args=ARGS,
            launch=LAUNCH,  # GPU step: submitit with params resources.<step> under SLURM
        conda:
            CONDA_ENV
        shell:
            "motionmvm launch {params.launch} {params.args} -- finetune {params.args} --method {wildcards.supervised} --dataset {wildcards.dataset} --seed {wildcards.seed} > {log} 2>&1"

    # One process per encoder for every frozen-feature protocol: the linear probe on each
    # eval.linear_probe.datasets and few-shot on each eval.fewshot.datasets share the encoder load,
    # the imports and the feature cache (`motionmvm frozen`). Same output paths as the per-protocol
    # steps `linear-probe` / `fewshot` (which dvc.yaml's stages run), so the audit and the aggregate
    # read them unchanged.
    rule eval_frozen:
        input:
            encoder=eval_encoder("frozen", EVAL, EVAL_REFS),
            data=frozen_data,
        output:
            [f"{EVAL}/{o}" for o in frozen_outputs()],
        log:
            f"{LOGS}/eval_frozen/{{method}}/seed{{seed}}.log",
        benchmark:
            f"{BENCH}/eval_frozen/{{method}}/seed{{seed}}.tsv"
        params:
            args=ARGS,
            launch=LAUNCH,  # GPU step: submitit with params resources.<step> under SLURM
        conda:
            CONDA_ENV
        shell:
            "motionmvm launch {params.launch} {params.args} -- frozen {params.args} --method {wildcards.method} --seed {wildcards.seed} > {log} 2>&1"


# ---- end health issue (#11) ----


rule eval_mar:
    input:
        encoder=f"{RUNS}/pretrain/videomae/seed{{seed}}/encoder.pt",
        data=f"{DATA}/{{dataset}}/manifest.json",
        clips=f"{CACHE}/{{dataset}}/clips",
    output:
        **eval_run_outputs(EVAL, "mar_finetune", method="mar_r{percent}"),
    log:
        f"{LOGS}/eval_mar/mar_r{{percent}}/{{dataset}}/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/eval_mar/mar_r{{percent}}/{{dataset}}/seed{{seed}}.tsv"
    params:
        args=ARGS,
        launch=LAUNCH,  # GPU step: submitit with params resources.<step> under SLURM
    wildcard_constraints:
        percent="25|50|75",
    conda:
        CONDA_ENV
    shell:
        "motionmvm launch {params.launch} {params.args} -- mar-finetune {params.args} --mask-percent {wildcards.percent} --dataset {wildcards.dataset} --seed {wildcards.seed} > {log} 2>&1"


rule eval_domain_adapt:
    input:
        encoder=eval_encoder("domain_adapt", EVAL, EVAL_REFS),
        source=f"{DATA}/{{source}}/manifest.json",
        target=f"{DATA}/{{target}}/manifest.json",
        source_clips=f"{CACHE}/{{source}}/clips",
        target_clips=f"{CACHE}/{{target}}/clips",
    output:
        **eval_run_outputs(EVAL, "domain_adapt", dataset="{source}-to-{target}"),
    log:
        f"{LOGS}/eval_domain_adapt/{{method}}/{{source}}-to-{{target}}/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/eval_domain_adapt/{{method}}/{{source}}-to-{{target}}/seed{{seed}}.tsv"
    params:
        args=ARGS,
        launch=LAUNCH,  # GPU step: submitit with params resources.<step> under SLURM
    conda:
        CONDA_ENV
    shell:
        "motionmvm launch {params.launch} {params.args} -- domain-adapt {params.args} --method {wildcards.method} --source {wildcards.source} --target {wildcards.target} --seed {wildcards.seed} > {log} 2>&1"


rule eval_aggregate:
    input:
        eval_all_metrics(EVAL, EVAL_METHODS, DA_PAIRS),
        pretrain_metrics(),
    output:
        health=f"{RESULTS}/health.json",
        summary=f"{RESULTS}/summary.json",
        csv=f"{RESULTS}/table.csv",
        md=f"{RESULTS}/table.md",
    log:
        f"{LOGS}/eval_aggregate.log",
    benchmark:
        f"{BENCH}/eval_aggregate.tsv"
    params:
        args=ARGS,
    conda:
        CONDA_ENV
    shell:
        "motionmvm aggregate {params.args} > {log} 2>&1"


ALL_TARGETS.extend([f"{RESULTS}/summary.json", f"{RESULTS}/table.csv", f"{RESULTS}/table.md"])
