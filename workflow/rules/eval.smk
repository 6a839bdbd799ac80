# Evaluation protocols (src/motionmvm/eval). Every rule is one `motionmvm <step>`; dvc.yaml has the
# same steps (stages eval_*). Run directories: {RUNS}/eval/<protocol>/<method>/<dataset>/seed<S>.
EV = CFG["eval"]
EVAL = f"{RUNS}/eval"
EVAL_REFS = list(EV["reference_methods"])
EVAL_METHODS = list(EXP["methods"]) + EVAL_REFS
DA_PAIR = f"{EV['domain_adapt']['source']}-to-{EV['domain_adapt']['target']}"


def eval_encoder(protocol):
    """Input function: the encoder a run evaluates.

    Pretrained methods: their pretraining encoder. random_init / scratch fine-tuning: the videomae
    encoder, read for its architecture only. scratch linear probe / few-shot: the supervised encoder
    that `finetune --method scratch` trained on the pretraining dataset.
    """
    def encoder(wildcards):
        method = wildcards.method
        if method == "scratch" and protocol in ("linear_probe", "fewshot"):
            return f"{EVAL}/finetune/scratch/{EXP['pretrain_dataset']}/seed{wildcards.seed}/encoder.pt"
        if method in EVAL_REFS:
            return f"{RUNS}/pretrain/videomae/seed{wildcards.seed}/encoder.pt"
        return f"{RUNS}/pretrain/{method}/seed{wildcards.seed}/encoder.pt"
    return encoder


def run_outputs(protocol, method="{method}", dataset="{dataset}"):
    d = f"{EVAL}/{protocol}/{method}/{dataset}/seed{{seed}}"
    return {"metrics": f"{d}/metrics.json", "predictions": f"{d}/predictions.csv"}


wildcard_constraints:
    seed=r"\d+",


rule eval_finetune:
    input:
        encoder=eval_encoder("finetune"),
        data=f"{DATA}/{{dataset}}/manifest.json",
    output:
        **run_outputs("finetune"),
    wildcard_constraints:
        method="|".join(m for m in EVAL_METHODS if m != "scratch"),
    shell:
        "motionmvm finetune {ARGS} --method {wildcards.method} --dataset {wildcards.dataset} --seed {wildcards.seed}"


rule eval_finetune_scratch:
    input:
        encoder=f"{RUNS}/pretrain/videomae/seed{{seed}}/encoder.pt",
        data=f"{DATA}/{{dataset}}/manifest.json",
    output:
        **run_outputs("finetune", method="scratch"),
        encoder=f"{EVAL}/finetune/scratch/{{dataset}}/seed{{seed}}/encoder.pt",
    shell:
        "motionmvm finetune {ARGS} --method scratch --dataset {wildcards.dataset} --seed {wildcards.seed}"


rule eval_mar:
    input:
        encoder=f"{RUNS}/pretrain/videomae/seed{{seed}}/encoder.pt",
        data=f"{DATA}/{{dataset}}/manifest.json",
    output:
        **run_outputs("mar_finetune", method="mar_r{percent}"),
    wildcard_constraints:
        percent="25|50|75",
    shell:
        "motionmvm mar-finetune {ARGS} --mask-percent {wildcards.percent} --dataset {wildcards.dataset} --seed {wildcards.seed}"


rule eval_linear_probe:
    input:
        encoder=eval_encoder("linear_probe"),
        data=f"{DATA}/{{dataset}}/manifest.json",
    output:
        **run_outputs("linear_probe"),
    shell:
        "motionmvm linear-probe {ARGS} --method {wildcards.method} --dataset {wildcards.dataset} --seed {wildcards.seed}"


rule eval_fewshot:
    input:
        encoder=eval_encoder("fewshot"),
        data=f"{DATA}/{{dataset}}/manifest.json",
    output:
        **run_outputs("fewshot"),
    shell:
        "motionmvm fewshot {ARGS} --method {wildcards.method} --dataset {wildcards.dataset} --seed {wildcards.seed}"


rule eval_domain_adapt:
    input:
        encoder=eval_encoder("domain_adapt"),
        source=f"{DATA}/{EV['domain_adapt']['source']}/manifest.json",
        target=f"{DATA}/{EV['domain_adapt']['target']}/manifest.json",
    output:
        **run_outputs("domain_adapt", dataset=DA_PAIR),
    shell:
        "motionmvm domain-adapt {ARGS} --method {wildcards.method} --seed {wildcards.seed}"


def eval_all_metrics():
    """Every run's metrics.json: methods x seeds x protocols (+ reference rows, + MAR ratios)."""
    out = []
    for seed in EXP["seeds"]:
        for method in EVAL_METHODS:
            for ds in EXP["eval_datasets"]:
                out.append(f"{EVAL}/finetune/{method}/{ds}/seed{seed}/metrics.json")
                out.append(f"{EVAL}/linear_probe/{method}/{ds}/seed{seed}/metrics.json")
            out.append(f"{EVAL}/fewshot/{method}/{EV['fewshot']['dataset']}/seed{seed}/metrics.json")
        for method in EXP["methods"]:
            out.append(f"{EVAL}/domain_adapt/{method}/{DA_PAIR}/seed{seed}/metrics.json")
        for pct in EV["mar"]["mask_percents"]:
            for ds in EXP["eval_datasets"]:
                out.append(f"{EVAL}/mar_finetune/mar_r{pct}/{ds}/seed{seed}/metrics.json")
    return out


rule eval_aggregate:
    input:
        eval_all_metrics(),
    output:
        summary=f"{RESULTS}/summary.json",
        csv=f"{RESULTS}/table.csv",
        md=f"{RESULTS}/table.md",
    shell:
        "motionmvm aggregate {ARGS}"


ALL_TARGETS.extend([f"{RESULTS}/summary.json", f"{RESULTS}/table.csv", f"{RESULTS}/table.md"])
