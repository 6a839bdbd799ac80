# Motion extraction (area: motion): one rule for every kind, `motionmvm motion <kind>` (dvc.yaml: the
# `motion` stage, foreach over the same kinds).
# Output: the per-kind cache directory cache/P/<dataset>/motion/<kind>/ holding one <clip_id>.npz
# per video plus settings.json, summary.json and failed.json (files inside a directory output
# cannot be declared separately). A rerun only recomputes entries whose settings hash changed.

# Which cached motion each pretraining method reads.
MOTION_KIND_OF_METHOD = {"mgm": "mv", "mgmae": "flow", "demvm": "klt", "mme": "traj"}
MOTION_KINDS = sorted({MOTION_KIND_OF_METHOD[m] for m in EXP["methods"] if m in MOTION_KIND_OF_METHOD})


rule motion:
    input:
        # the dataset manifest summary the extraction reads
        f"{DATA}/{{dataset}}/manifest.json",
    output:
        directory(f"{CACHE}/{{dataset}}/motion/{{kind}}"),
    log:
        f"{LOGS}/motion_{{kind}}/{{dataset}}.log",
    benchmark:
        f"{BENCH}/motion_{{kind}}/{{dataset}}.tsv"
    params:
        args=ARGS,
    wildcard_constraints:
        kind="mv|flow|klt|traj",
    threads: CFG["motion"]["workers"]
    # Motion jobs take `motion.workers` cores and gate the motion-guided methods' pretraining: run
    # them first. Without a priority Snakemake kept starting one-core jobs ahead of them and, unable
    # to fit a two-core job beside one, ran the rest of the DAG one job at a time on 2 cores.
    priority: 50
    conda:
        CONDA_ENV
    shell:
        "motionmvm motion {wildcards.kind} {params.args} --dataset {wildcards.dataset} > {log} 2>&1"


ALL_TARGETS.extend(
    f"{CACHE}/{EXP['pretrain_dataset']}/motion/{kind}" for kind in MOTION_KINDS
)
