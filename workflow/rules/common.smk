# Shared helpers: load and validate params.yaml (the same loader the CLI uses) before the DAG is built.
import sys
from pathlib import Path

from motionmvm import config as mcfg

PROFILE = config.get("profile", "small")
# `--config experiment=<name>` selects a reproduction experiment experiments/<name>.yaml (params.yaml
# holds `experiment:` as a section, so a string here can only come from the command line); every
# step then gets `--experiment <name>` so that it resolves the same parameters.
EXPERIMENT = config["experiment"] if isinstance(config.get("experiment"), str) else None
CFG = mcfg.load("params.yaml", PROFILE, experiment=EXPERIMENT)
EXP = CFG["experiment"]
DATA = f"{CFG['paths']['data']}/{PROFILE}"
CACHE = f"{CFG['paths']['cache']}/{PROFILE}"
RUNS = f"{CFG['paths']['runs']}/{PROFILE}"
RESULTS = f"{CFG['paths']['results']}/{PROFILE}"
ARGS = f"--params params.yaml --profile {PROFILE}" + (f" --experiment {EXPERIMENT}" if EXPERIMENT else "")
# (ARGS is appended to every `motionmvm <step>`)
# Each job writes its command's output to a log file here (`log:`, `> {log} 2>&1`); Snakemake
# names the log of a failed job, and prints it with --show-failed-logs. Not a DVC output.
LOGS = f"logs/{PROFILE}"
# Snakemake `benchmark:` files (wall s, max RSS, CPU s of each job), one per job, beside the logs;
# `python benchmarks/rule_times.py` sums them per rule (docs/benchmarks.md). Not DVC outputs.
BENCH = f"logs/{PROFILE}/benchmarks"
# The conda environment file of all rules, deployed only under `snakemake --sdm conda` (otherwise
# the current environment runs the commands). Anchored at the Snakefile, not at each rules file.
CONDA_ENV = str(Path(workflow.basedir, "envs", "motionmvm.yaml"))



def datasets_in_place(wildcards):
    """Input function of `all` (no files): stop, before any job runs, with one line naming each
    real dataset the experiment reads that `motionmvm prepare` cannot produce (no prepared copy,
    no official files under its root, no URL) and where to put its files. Explicit targets (a
    single `prepare.json`, say) do not need `all` and are not checked."""
    from motionmvm import experiments

    missing = experiments.missing_datasets(CFG)
    if missing:
        # SystemExit, not WorkflowError: Snakemake would print the input function's traceback
        sys.exit(f"motionmvm: experiment {EXP['name']} (profile {PROFILE}) needs datasets that are not in place: "
                 + "; ".join(missing))
    return []


# Each area's rules file appends the final outputs it contributes to `all`.
ALL_TARGETS = [datasets_in_place]


def all_targets():
    """Final outputs of every step that exists."""
    return ALL_TARGETS

# GPU rules are localrules with `params: launch=LAUNCH` whose shell is `motionmvm launch
# {params.launch} {params.args} -- <step> ...`: under the SLURM executor LAUNCH formats as
# `--backend submitit`, otherwise as nothing and params `launch.backend` decides. It is formatted
# when a job's command is built (the executor is known then) and, not being a string, is not
# recorded as a param, so switching executors does not rerun the GPU steps.
from motionmvm.report import smk as _smk

LAUNCH = _smk.LaunchFlags(workflow)


# Input functions and target lists of the area rules files, kept here so that those files hold
# rules only (`snakemake --lint`: no functions beside rules). Area-specific names (the evaluation
# run directory, the reference methods) are passed in, so nothing here depends on the order in
# which the rules files are included.
# Keep the word "rule" away from a colon on one line in this file: the lint's rule pattern would
# match it and report rules mixed with these functions.


def datasets_used(cfg):
    """Every dataset the experiment's DAG reads (motionmvm.experiments.datasets_used)."""
    from motionmvm import experiments

    return experiments.datasets_used(cfg)


def pretrain_inputs(wildcards):
    """Input function of the pretrain rules: the dataset manifest, its clip store, the motion cache directories
    the method's masking or target reads under the params (`spec.motion_caches`: e.g. mgm reads
    `flow` when masking.mgm.guidance is flow) and its token targets directory: the directory
    outputs of the motion and tokenizer_encode rules (a file inside a directory output cannot be
    an input). dvc.yaml's pretrain stages list the same paths (tests/test_pretrain_workflow.py)."""
    from motionmvm import methods

    dataset = EXP["pretrain_dataset"]
    spec = methods.get(wildcards.method)
    inputs = [f"{DATA}/{dataset}/manifest.json", f"{CACHE}/{dataset}/clips",
              *(f"{CACHE}/{dataset}/motion/{k}" for k in spec.motion_caches(CFG.get("masking")))]
    if spec.target == "tokens":
        inputs.append(f"{CACHE}/{dataset}/{spec.tokens_dir}")
    return inputs


def eval_encoder(protocol, eval_dir, refs):
    """Input function factory: the encoder a `protocol` run under `eval_dir` evaluates.

    Pretrained methods: their pretraining encoder. Reference methods `refs` (random_init, scratch)
    under fine-tuning: the videomae encoder, read for its architecture only. scratch linear probe /
    few-shot: the supervised encoder that `finetune --method scratch` trained on the pretraining
    dataset.
    """
    def encoder(wildcards):
        method = wildcards.method
        if method in ("scratch", "scratch_1frame") and protocol in ("linear_probe", "fewshot", "frozen"):
            return f"{eval_dir}/finetune/{method}/{EXP['pretrain_dataset']}/seed{wildcards.seed}/encoder.pt"
        if method in refs:
            return f"{RUNS}/pretrain/videomae/seed{wildcards.seed}/encoder.pt"
        return f"{RUNS}/pretrain/{method}/seed{wildcards.seed}/encoder.pt"
    return encoder


def eval_run_outputs(eval_dir, protocol, method="{method}", dataset="{dataset}"):
    """Named outputs of one evaluation run: {eval_dir}/<protocol>/<method>/<dataset>/seed{seed}."""
    d = f"{eval_dir}/{protocol}/{method}/{dataset}/seed{{seed}}"
    return {"metrics": f"{d}/metrics.json", "predictions": f"{d}/predictions.csv"}


def eval_all_metrics(eval_dir, methods, da_pairs):
    """Every run's metrics.json: `methods` (experiment methods + reference rows) x protocols,
    domain adaptation pairs `da_pairs` for the experiment methods, and the MAR ratios; each on
    the seeds params `eval.seed_plan` gives it (mcfg.planned_seeds: all seeds unless limited)."""
    ev = CFG["eval"]
    seeds = lambda protocol, method: mcfg.planned_seeds(CFG, protocol, method)
    out = []
    for method in methods:
        out += [f"{eval_dir}/finetune/{method}/{ds}/seed{s}/metrics.json"
                for s in seeds("finetune", method) for ds in EXP["eval_datasets"]]
        frozen = sorted(set(seeds("linear_probe", method)) | set(seeds("fewshot", method)))
        out += [f"{eval_dir}/{o}".replace("{method}", method).replace("{seed}", str(s))
                for s in frozen for o in frozen_outputs()[1::2]]
    for method in mcfg.encoder_methods(CFG):
        out += [f"{eval_dir}/domain_adapt/{method}/{pair}/seed{s}/metrics.json"
                for s in seeds("domain_adapt", method) for pair in da_pairs]
    for pct in ev["mar"]["mask_percents"]:
        out += [f"{eval_dir}/mar_finetune/mar_r{pct}/{ds}/seed{s}/metrics.json"
                for s in seeds("mar_finetune", f"mar_r{pct}") for ds in EXP["eval_datasets"]]
    return out


def frozen_outputs():
    """Outputs of one encoder's frozen-feature run (`motionmvm frozen`, rule eval_frozen), relative
    to the evaluation directory: the linear probe on every eval.linear_probe.datasets and the
    few-shot protocol on every eval.fewshot.datasets; (predictions.csv, metrics.json) pairs."""
    ev = CFG["eval"]
    runs = [f"linear_probe/{{method}}/{ds}/seed{{seed}}" for ds in ev["linear_probe"]["datasets"]]
    runs += [f"fewshot/{{method}}/{ds}/seed{{seed}}" for ds in ev["fewshot"]["datasets"]]
    return [f"{r}/{f}" for r in runs for f in ("predictions.csv", "metrics.json")]


def dataset_inputs(names):
    """The manifests and clip stores of the datasets `names` (duplicates read once)."""
    names = list(dict.fromkeys(names))
    return [f"{DATA}/{d}/manifest.json" for d in names] + [f"{CACHE}/{d}/clips" for d in names]


def frozen_datasets():
    """The datasets the frozen-feature protocols read (eval.linear_probe / eval.fewshot.datasets)."""
    ev = CFG["eval"]
    return [*ev["linear_probe"]["datasets"], *ev["fewshot"]["datasets"]]


def frozen_data(wildcards):
    """The manifests and clip stores the frozen-feature run reads."""
    return dataset_inputs(frozen_datasets())


def pretrain_metrics():
    """Every pretraining run's metrics.json (the health gate `pretraining_learns` reads them)."""
    return [f"{RUNS}/pretrain/{m}/seed{s}/metrics.json" for m in EXP["methods"] for s in EXP["seeds"]]


def evaluate_outputs(eval_dir, supervised):
    """Outputs of one `motionmvm evaluate` job (params eval.process_per_encoder; the wildcards
    {method} and {seed} left in): fine-tuning on each dataset it fine-tunes on (see
    motionmvm.eval.cli.finetune_datasets), then every frozen-feature run."""
    from motionmvm.eval.cli import finetune_datasets

    runs = [f"finetune/{{method}}/{ds}/seed{{seed}}/{f}" for ds in finetune_datasets(CFG, supervised)
            for f in ("predictions.csv", "metrics.json")]
    return [f"{eval_dir}/{o}" for o in runs + frozen_outputs()]


def evaluate_data(supervised):
    """The manifests and clip stores one `motionmvm evaluate` job reads."""
    from motionmvm.eval.cli import finetune_datasets

    return dataset_inputs([*finetune_datasets(CFG, supervised), *frozen_datasets()])
