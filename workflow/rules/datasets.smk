# Real datasets (paper profile): official files -> data/<profile>/<dataset>/ (classInd.txt, split
# lists, videos/, prepare.json). Where a dataset cannot be downloaded (licence, YouTube ids), the
# command stops and says where to put which files (params datasets.<name>.root).
REAL_DATASETS = ("ucf101", "hmdb51", "mimetics", "diving48", "ssv2", "k400")


rule prepare_dataset:
    output:
        classes=f"{DATA}/{{dataset}}/classInd.txt",
        train=f"{DATA}/{{dataset}}/trainlist01.txt",
        test=f"{DATA}/{{dataset}}/testlist01.txt",
        summary=f"{DATA}/{{dataset}}/prepare.json",
    log:
        f"{LOGS}/prepare_dataset/{{dataset}}.log",
    benchmark:
        f"{BENCH}/prepare_dataset/{{dataset}}.tsv"
    params:
        args=ARGS,
    wildcard_constraints:
        dataset="|".join(REAL_DATASETS),
    conda:
        CONDA_ENV
    shell:
        "motionmvm prepare {params.args} --dataset {wildcards.dataset} --no-progress > {log} 2>&1"


# The manifest of a prepared real dataset: over its pre-resized videos when data.resize.short_side
# is set (paper: 320), else over videos/ (the data_manifest rule does the same for synth datasets).
rule data_manifest_prepared:
    input:
        f"{DATA}/{{dataset}}/prepare.json",
        f"{DATA}/{{dataset}}/videos_resized",
        f"{DATA}/{{dataset}}/trainlist01.txt",
        f"{DATA}/{{dataset}}/testlist01.txt",
    output:
        f"{DATA}/{{dataset}}/manifest.jsonl",
        f"{DATA}/{{dataset}}/manifest.json",
    log:
        f"{LOGS}/data_manifest/{{dataset}}.log",
    params:
        args=ARGS,
    wildcard_constraints:
        dataset="|".join(REAL_DATASETS),
    conda:
        CONDA_ENV
    shell:
        "motionmvm data manifest {params.args} --dataset {wildcards.dataset} > {log} 2>&1"


# The real datasets the selected experiment reads (pretraining, evaluation, few-shot, domain
# adaptation pairs), once each.
ALL_TARGETS.extend(f"{DATA}/{d}/prepare.json" for d in datasets_used(CFG) if d in REAL_DATASETS)
