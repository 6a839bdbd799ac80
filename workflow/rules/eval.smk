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
    output:
        **eval_run_outputs(EVAL, "finetune"),
    wildcard_constraints:
        method="|".join(m for m in EVAL_METHODS if m != "scratch"),
    shell:
        "motionmvm finetune {ARGS} --method {wildcards.method} --dataset {wildcards.dataset} --seed {wildcards.seed}"


rule eval_finetune_scratch:
    input:
        encoder=f"{RUNS}/pretrain/videomae/seed{{seed}}/encoder.pt",
        data=f"{DATA}/{{dataset}}/manifest.json",
    output:
        **eval_run_outputs(EVAL, "finetune", method="scratch"),
        encoder=f"{EVAL}/finetune/scratch/{{dataset}}/seed{{seed}}/encoder.pt",
    shell:
        "motionmvm finetune {ARGS} --method scratch --dataset {wildcards.dataset} --seed {wildcards.seed}"


rule eval_mar:
    input:
        encoder=f"{RUNS}/pretrain/videomae/seed{{seed}}/encoder.pt",
        data=f"{DATA}/{{dataset}}/manifest.json",
    output:
        **eval_run_outputs(EVAL, "mar_finetune", method="mar_r{percent}"),
    wildcard_constraints:
        percent="25|50|75",
    shell:
        "motionmvm mar-finetune {ARGS} --mask-percent {wildcards.percent} --dataset {wildcards.dataset} --seed {wildcards.seed}"


rule eval_linear_probe:
    input:
        encoder=eval_encoder("linear_probe", EVAL, EVAL_REFS),
        data=f"{DATA}/{{dataset}}/manifest.json",
    output:
        **eval_run_outputs(EVAL, "linear_probe"),
    shell:
        "motionmvm linear-probe {ARGS} --method {wildcards.method} --dataset {wildcards.dataset} --seed {wildcards.seed}"


rule eval_fewshot:
    input:
        encoder=eval_encoder("fewshot", EVAL, EVAL_REFS),
        data=f"{DATA}/{{dataset}}/manifest.json",
    output:
        **eval_run_outputs(EVAL, "fewshot"),
    shell:
        "motionmvm fewshot {ARGS} --method {wildcards.method} --dataset {wildcards.dataset} --seed {wildcards.seed}"


rule eval_domain_adapt:
    input:
        encoder=eval_encoder("domain_adapt", EVAL, EVAL_REFS),
        source=f"{DATA}/{EV['domain_adapt']['source']}/manifest.json",
        target=f"{DATA}/{EV['domain_adapt']['target']}/manifest.json",
    output:
        **eval_run_outputs(EVAL, "domain_adapt", dataset=DA_PAIR),
    shell:
        "motionmvm domain-adapt {ARGS} --method {wildcards.method} --seed {wildcards.seed}"


rule eval_aggregate:
    input:
        eval_all_metrics(EVAL, EVAL_METHODS, DA_PAIR),
    output:
        summary=f"{RESULTS}/summary.json",
        csv=f"{RESULTS}/table.csv",
        md=f"{RESULTS}/table.md",
    shell:
        "motionmvm aggregate {ARGS}"


ALL_TARGETS.extend([f"{RESULTS}/summary.json", f"{RESULTS}/table.csv", f"{RESULTS}/table.md"])
