# Shared helpers: load and validate params.yaml (the same loader the CLI uses) before the DAG is built.
from motionmvm import config as mcfg

PROFILE = config.get("profile", "small")
CFG = mcfg.load("params.yaml", PROFILE)
EXP = CFG["experiment"]
DATA = f"{CFG['paths']['data']}/{PROFILE}"
CACHE = f"{CFG['paths']['cache']}/{PROFILE}"
RUNS = f"{CFG['paths']['runs']}/{PROFILE}"
RESULTS = f"{CFG['paths']['results']}/{PROFILE}"
ARGS = f"--params params.yaml --profile {PROFILE}"  # appended to every `motionmvm <step>`

# Each area's rules file appends the final outputs it contributes to `all`.
ALL_TARGETS = []


def all_targets():
    """Final outputs of every step that exists."""
    return ALL_TARGETS

# GPU rules are localrules whose shell is `motionmvm launch {LAUNCH} {ARGS} -- <step> ...`: under
# the SLURM executor LAUNCH selects submitit, otherwise params `launch.backend` decides.
from motionmvm.report import smk as _smk

LAUNCH = _smk.LaunchFlags(workflow)
