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


rule manifest_real_dataset:
    input:
        f"{DATA}/{{dataset}}/prepare.json",
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


# The real datasets the experiment of this profile names (pretraining and evaluation), once each.
_USED_DATASETS = [d for d in dict.fromkeys([EXP["pretrain_dataset"], *EXP["eval_datasets"]]) if d in REAL_DATASETS]
ALL_TARGETS.extend(f"{DATA}/{d}/prepare.json" for d in _USED_DATASETS)
# A dataset to be placed by hand that is absent stops the workflow here, one line each saying
# which files to put where, rather than as a missing input of the first step that reads it.
import sys

from motionmvm.datasets import prepare as _prepare

_BY_HAND = [m for d in _USED_DATASETS if not Path(f"{DATA}/{d}/prepare.json").exists()
            for m in [_prepare.missing_by_hand(d, CFG)] if m]
if _BY_HAND:
    sys.exit("\n".join(f"motionmvm: {m}" for m in _BY_HAND))
