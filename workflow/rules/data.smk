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


# Pre-resize (data.resize): the listed videos re-encoded at a short side into videos_resized/, which
# the manifest then describes (and every later step reads). short_side 0 (the embedded datasets,
# made at their size) writes videos_resized/resize.json alone, so the step is in every DAG.
rule data_resize:
    input:
        f"{DATA}/{{dataset}}/classInd.txt",
        f"{DATA}/{{dataset}}/trainlist01.txt",
        f"{DATA}/{{dataset}}/testlist01.txt",
    output:
        directory(f"{DATA}/{{dataset}}/videos_resized"),
    log:
        f"{LOGS}/data_resize/{{dataset}}.log",
    params:
        resize=CFG["data"]["resize"],  # rerun when the resize settings change
        args=ARGS,
    wildcard_constraints:
        dataset="[a-z0-9_]+",
    conda:
        CONDA_ENV
    shell:
        "motionmvm data resize {params.args} --dataset {wildcards.dataset} > {log} 2>&1"


rule data_manifest:
    input:
        f"{DATA}/{{dataset}}/videos",
        f"{DATA}/{{dataset}}/videos_resized",
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


# The clip store: each dataset's usable videos decoded once (uint8, memory-mapped) for every step
# that reads clips. Under data.store.enabled false (paper) the step writes its index alone and the
# steps decode the (pre-resized) videos; either way the store's hash is in the provenance chain.
rule data_store:
    input:
        f"{DATA}/{{dataset}}/manifest.json",
    output:
        directory(f"{CACHE}/{{dataset}}/clips"),
    log:
        f"{LOGS}/data_store/{{dataset}}.log",
    params:
        args=ARGS,
    wildcard_constraints:
        dataset="[a-z0-9_]+",
    priority: 60  # gates every step that reads clips
    conda:
        CONDA_ENV
    shell:
        "motionmvm data store {params.args} --dataset {wildcards.dataset} > {log} 2>&1"


# the embedded-benchmark datasets the selected experiment reads (all three for the shared budget)
ALL_TARGETS.extend(f"{DATA}/{d}/manifest.json" for d in datasets_used(CFG) if d in SYNTH_DATASETS)
ALL_TARGETS.extend(f"{CACHE}/{d}/clips" for d in datasets_used(CFG) if d in SYNTH_DATASETS)
