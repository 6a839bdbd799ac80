"""`motionmvm experiment list | datasets | dvc-args NAME | compare`: the reproduction experiments."""
from __future__ import annotations

import sys

from motionmvm.common_args import add_config_args, load_config


def _list(args) -> int:
    from motionmvm import experiments

    for name in experiments.names(args.params):
        if name == experiments.SHARED:
            print(f"{name:22s} params.yaml's experiment section: every method, one budget and evaluation")
            continue
        exp = experiments.load(name, args.params)
        shape = exp["shape"]["experiment"]
        print(f"{name:22s} paper {exp['paper']['id']}: {'+'.join(shape['methods'])} pre-trained on "
              f"{shape['pretrain_dataset']}, evaluated on {', '.join(shape['eval_datasets'])}; "
              f"{len(exp['reported'])} reported numbers")
    return 0


def _datasets(args) -> int:
    """The datasets the selected experiment reads, and which are not in place (exit 1 then)."""
    from motionmvm import experiments

    cfg = load_config(args)
    print(" ".join(experiments.datasets_used(cfg)))
    missing = experiments.missing_datasets(cfg)
    for note in missing:
        print(f"missing {note}", file=sys.stderr)
    return 1 if missing else 0


def _dvc_args(args) -> int:
    from motionmvm import experiments

    try:
        print(" ".join(experiments.dvc_overrides(args.name, args.profile, args.params)))
    except ValueError as exc:
        print(f"motionmvm experiment dvc-args: {exc}", file=sys.stderr)
        return 2
    return 0


def _compare(args) -> int:
    """Print the selected experiment's reported-beside-reproduced table (markdown)."""
    from pathlib import Path

    from motionmvm import experiments
    from motionmvm.io import read_json
    from motionmvm.report import reported

    cfg = load_config(args)
    name = cfg["experiment"]["name"]
    if name == experiments.SHARED:
        print(f"motionmvm experiment compare: {name} reports no paper numbers; select one with --experiment "
              f"({', '.join(experiments.names(args.params)[1:])})", file=sys.stderr)
        return 2
    results = Path(cfg["paths"]["results"]) / cfg["profile"] / "summary.json"
    summary = read_json(results) if results.exists() else None
    runs = Path(cfg["paths"]["runs"]) / cfg["profile"]
    print(reported.markdown(reported.compare(experiments.reported(name, args.params), summary, runs)), end="")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("experiment", help="reproduction experiments (experiments/<name>.yaml)")
    sub = p.add_subparsers(dest="experiment_command", required=True)
    q = sub.add_parser("list", help="every experiment and what it runs")
    q.add_argument("--params", default="params.yaml")
    q.set_defaults(func=_list)
    q = sub.add_parser("datasets", help="datasets the experiment reads; exit 1 naming those not in place")
    add_config_args(q)
    q.set_defaults(func=_datasets)
    q = sub.add_parser("dvc-args", help="`dvc exp run` -S arguments selecting experiment NAME: "
                                        "dvc exp run $(motionmvm experiment dvc-args NAME --profile paper)")
    q.add_argument("name")
    q.add_argument("--params", default="params.yaml")
    q.add_argument("--profile", default="paper", help="profile to run it in (default paper)")
    q.set_defaults(func=_dvc_args)
    q = sub.add_parser("compare", help="print reported beside reproduced for the selected experiment")
    add_config_args(q)
    q.set_defaults(func=_compare)
