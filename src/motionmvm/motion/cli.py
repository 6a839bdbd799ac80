"""`motionmvm motion <kind> --dataset D`: extract and cache one motion kind for a dataset."""
from __future__ import annotations

from pathlib import Path

from motionmvm.common_args import add_config_args, load_config
from motionmvm.motion import KINDS


def _handler(args) -> int:
    import sys

    from motionmvm.motion import extract
    from motionmvm.motion.flow import FlowUnavailable

    cfg = load_config(args)
    profile = cfg["profile"]
    dataset_dir = Path(cfg["paths"]["data"]) / profile / args.dataset
    cache_root = Path(cfg["paths"]["cache"]) / profile / args.dataset / "motion"
    try:
        summary = extract.run(args.kind, dataset_dir, cache_root, cfg["motion"], workers=args.workers)
    except (FlowUnavailable, FileNotFoundError) as exc:
        print(f"motionmvm motion {args.kind}: {exc}", file=sys.stderr)
        return 2
    # Undecodable / quarantined videos are expected and listed; errors (bugs, crashes) fail the step.
    return 1 if summary["errors"] else 0


def register(subparsers) -> None:
    p = subparsers.add_parser("motion", help="extract and cache motion (mv, flow, klt, traj) for a dataset")
    p.add_argument("kind", choices=KINDS, help="mv: codec motion vectors, flow: dense optical flow, "
                   "klt: KLT motion maps (demvm), traj: MME trajectories")
    p.add_argument("--dataset", required=True, help="dataset name under data/<profile>/")
    p.add_argument("--workers", type=int, default=None, help="processes (default: motion.workers)")
    add_config_args(p)
    p.set_defaults(func=_handler)
