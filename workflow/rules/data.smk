# Data steps: the embedded benchmark (synth, synth_mimed, synth_b) and its manifests.
# Same commands and outputs as the data stages in dvc.yaml.
SYNTH_DATASETS = ["synth", "synth_mimed", "synth_b"]


rule data_synth:
    output:
        directory(f"{DATA}/{{dataset}}/videos"),
        directory(f"{DATA}/{{dataset}}/gt"),
        f"{DATA}/{{dataset}}/classInd.txt",
        f"{DATA}/{{dataset}}/trainlist01.txt",
        f"{DATA}/{{dataset}}/testlist01.txt",
        f"{DATA}/{{dataset}}/synth.json",
    log:
        f"{LOGS}/data_synth/{{dataset}}.log",
    benchmark:
        f"{BENCH}/data_synth/{{dataset}}.tsv"
    params:
        # declared so that Snakemake reruns the generator when the dataset's parameters change
        synth=lambda wc: CFG["data"][wc.dataset],
        args=ARGS,
    wildcard_constraints:
        dataset="synth|synth_mimed|synth_b",
    conda:
        CONDA_ENV
    shell:
        "motionmvm data synth {params.args} --dataset {wildcards.dataset} > {log} 2>&1"


rule data_manifest:
    input:
        f"{DATA}/{{dataset}}/videos",
        f"{DATA}/{{dataset}}/trainlist01.txt",
        f"{DATA}/{{dataset}}/testlist01.txt",
    output:
        f"{DATA}/{{dataset}}/manifest.jsonl",
        f"{DATA}/{{dataset}}/manifest.json",
    log:
        f"{LOGS}/data_manifest/{{dataset}}.log",
    benchmark:
        f"{BENCH}/data_manifest/{{dataset}}.tsv"
    params:
        args=ARGS,
    wildcard_constraints:
        dataset="synth|synth_mimed|synth_b",
    conda:
        CONDA_ENV
    shell:
        "motionmvm data manifest {params.args} --dataset {wildcards.dataset} > {log} 2>&1"


# the embedded-benchmark datasets the selected experiment reads (all three for the shared budget)
ALL_TARGETS.extend(f"{DATA}/{d}/manifest.json" for d in datasets_used(CFG) if d in SYNTH_DATASETS)
