# Motion extraction (area: motion): one rule per kind, each `motionmvm motion <kind>`.
# Output: the per-kind cache directory cache/P/<dataset>/motion/<kind>/ holding one <clip_id>.npz
# per video plus settings.json, summary.json and failed.json (files inside a directory output
# cannot be declared separately). A rerun only recomputes entries whose settings hash changed.

# Which cached motion each pretraining method reads.
MOTION_KIND_OF_METHOD = {"mgm": "mv", "mgmae": "flow", "demvm": "klt", "mme": "traj"}
# Motion jobs take `motion.workers` cores and gate the motion-guided methods' pretraining: run them
# first. Without a priority Snakemake kept starting one-core jobs ahead of them and, unable to fit
# a two-core job beside one, ran the rest of the DAG one job at a time on 2 cores.
MOTION_PRIORITY = 50
MOTION_KINDS = sorted({MOTION_KIND_OF_METHOD[m] for m in EXP["methods"] if m in MOTION_KIND_OF_METHOD})


# The dataset manifest summary the extraction reads.
MOTION_MANIFEST = f"{DATA}/{{dataset}}/manifest.json"


rule motion_mv:
    input:
        MOTION_MANIFEST,
    output:
        directory(f"{CACHE}/{{dataset}}/motion/mv"),
    log:
        f"{LOGS}/motion_mv/{{dataset}}.log",
    params:
        args=ARGS,
    threads: CFG["motion"]["workers"]
    priority: MOTION_PRIORITY
    conda:
        CONDA_ENV
    shell:
        "motionmvm motion mv {params.args} --dataset {wildcards.dataset} > {log} 2>&1"


rule motion_flow:
    input:
        MOTION_MANIFEST,
    output:
        directory(f"{CACHE}/{{dataset}}/motion/flow"),
    log:
        f"{LOGS}/motion_flow/{{dataset}}.log",
    params:
        args=ARGS,
    threads: CFG["motion"]["workers"]
    priority: MOTION_PRIORITY
    conda:
        CONDA_ENV
    shell:
        "motionmvm motion flow {params.args} --dataset {wildcards.dataset} > {log} 2>&1"


rule motion_klt:
    input:
        MOTION_MANIFEST,
    output:
        directory(f"{CACHE}/{{dataset}}/motion/klt"),
    log:
        f"{LOGS}/motion_klt/{{dataset}}.log",
    params:
        args=ARGS,
    threads: CFG["motion"]["workers"]
    priority: MOTION_PRIORITY
    conda:
        CONDA_ENV
    shell:
        "motionmvm motion klt {params.args} --dataset {wildcards.dataset} > {log} 2>&1"


rule motion_traj:
    input:
        MOTION_MANIFEST,
    output:
        directory(f"{CACHE}/{{dataset}}/motion/traj"),
    log:
        f"{LOGS}/motion_traj/{{dataset}}.log",
    params:
        args=ARGS,
    threads: CFG["motion"]["workers"]
    priority: MOTION_PRIORITY
    conda:
        CONDA_ENV
    shell:
        "motionmvm motion traj {params.args} --dataset {wildcards.dataset} > {log} 2>&1"


ALL_TARGETS.extend(
    f"{CACHE}/{EXP['pretrain_dataset']}/motion/{kind}" for kind in MOTION_KINDS
)
