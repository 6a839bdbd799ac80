"""`motionmvm launch [--backend B] [--seeds S ...] -- <step> <step args...>`.

Runs one `motionmvm <step>` (or one per seed, as a SLURM job array, when `--seeds` is given and the
step args contain `{seed}`) through the launcher. The parameter file, profile and experiment are
taken from the step's own `--params/--profile/--experiment` unless given before `--`. The job's
resources are params `launch:` overlaid with `resources.<key>`, the key derived from the step
(`tokenizer train` -> tokenizer_train) unless `--resources` names it.
"""
from __future__ import annotations

import argparse


def _step_option(argv: list[str], name: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _launch_command(args) -> int:
    from motionmvm import config
    from motionmvm.launch.core import LaunchError, LaunchSettings, StepCommand, launch, resources_key

    step = list(args.step)
    if step and step[0] == "--":
        step = step[1:]
    if not step:
        raise config.ConfigError("launch: no step given; usage: motionmvm launch -- <step> [args...]")
    if step[0] == "launch":
        raise config.ConfigError("launch: the step to launch cannot be `launch` itself")
    params = args.params or _step_option(step, "--params") or "params.yaml"
    profile = args.profile or _step_option(step, "--profile")
    key = args.resources or resources_key(step)
    experiment = args.experiment or _step_option(step, "--experiment")
    cfg = config.load(params, profile, experiment=experiment)
    if args.resources and args.resources not in (cfg.get("resources") or {}):
        raise config.ConfigError(f"launch: --resources {args.resources!r} is not a key of params "
                                 f"`resources:` ({sorted(cfg.get('resources') or {})})")
    settings = LaunchSettings.from_config(cfg, step=key)
    if args.seeds is not None and not any("{seed}" in a for a in step):
        raise config.ConfigError("launch: --seeds given but the step arguments contain no {seed}")
    arg_lists = [(s,) for s in args.seeds] if args.seeds is not None else [()]
    try:
        launch(StepCommand(step), arg_lists, settings, backend=args.backend)
    except LaunchError as exc:
        print(f"motionmvm launch: {exc}")
        return 1
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("launch", help="run a GPU step in-process, as a subprocess or on SLURM",
                              description=__doc__)
    p.add_argument("--backend", choices=["inprocess", "subprocess", "submitit"], default=None,
                   help="override params launch.backend")
    p.add_argument("--params", default=None, help="parameter file (default: the step's --params)")
    p.add_argument("--profile", default=None, help="profile (default: the step's --profile)")
    p.add_argument("--resources", default=None,
                   help="key of params `resources:` to request (default: from the step, e.g. "
                        "`tokenizer train` -> tokenizer_train)")
    p.add_argument("--experiment", default=None,
                   help="experiment whose launch settings apply (default: the step's --experiment)")
    p.add_argument("--seeds", type=int, nargs="+", default=None,
                   help="one job per seed (a SLURM job array); fills {seed} in the step arguments")
    p.add_argument("step", nargs=argparse.REMAINDER, help="-- <step> [step args...]")
    p.set_defaults(func=_launch_command)
