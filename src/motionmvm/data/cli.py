"""`motionmvm data synth --dataset D`: generate one embedded benchmark dataset."""
from __future__ import annotations

from motionmvm.common_args import add_config_args, load_config


def _synth(args) -> int:
    from pathlib import Path

    from motionmvm.data import synth

    cfg = load_config(args)
    data = cfg["data"]
    out = Path(cfg["paths"]["data"]) / cfg["profile"] / args.dataset
    meta = synth.generate(args.dataset, data, out, workers=data.get("workers", 1))
    print(f"{args.dataset}: {meta['clips']} clips of {len(meta['classes'])} classes in {out}")
    return 0


def register(subparsers) -> None:
    data = subparsers.add_parser("data", help="embedded benchmark and data steps")
    sub = data.add_subparsers(dest="data_command", required=True)
    p = sub.add_parser("synth", help="generate a synth dataset (deterministic by seed)")
    add_config_args(p)
    p.add_argument("--dataset", required=True, choices=["synth", "synth_mimed", "synth_b"])
    p.set_defaults(func=_synth)
