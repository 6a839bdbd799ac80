"""`motionmvm pretrain --method M --dataset D --seed S`: pretrain one method (see train/loop.py)."""
from __future__ import annotations

import sys

from motionmvm.common_args import add_config_args, load_config


def _pretrain(args) -> int:
    from motionmvm.train.loop import Preempted, pretrain

    from motionmvm import methods

    cfg = load_config(args)
    if args.method not in methods.names():
        print(f"motionmvm pretrain: unknown method {args.method!r}; registered methods are "
              f"{methods.names()}", file=sys.stderr)
        return 2
    p = cfg["pretrain"]
    if p["batch_size"] % p["repeated_sampling"]:
        print(f"motionmvm pretrain: pretrain.batch_size {p['batch_size']} is not a multiple of "
              f"pretrain.repeated_sampling {p['repeated_sampling']} (a micro-batch holds batch_size / k "
              "videos of k clips each): change one of them in params.yaml", file=sys.stderr)
        return 2
    try:
        metrics = pretrain(cfg, args.method, args.dataset or cfg["experiment"]["pretrain_dataset"],
                           args.seed, run_dir=args.run_dir, progress=not args.no_progress)
    except Preempted as exc:
        print(f"motionmvm pretrain: {exc}", file=sys.stderr)
        return 3
    if metrics:
        print(f"{args.method} seed {args.seed}: loss {metrics['loss_first']:.4f} -> "
              f"{metrics['loss_last']:.4f} in {metrics['steps']} steps ({metrics['clips_per_s']:.1f} clips/s)")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("pretrain", help="pretrain one method on one dataset with one seed")
    add_config_args(p)
    p.add_argument("--method", required=True, help="registered method (motionmvm.methods.names())")
    p.add_argument("--dataset", default=None, help="dataset name (default: experiment.pretrain_dataset)")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--run-dir", default=None, help="output directory (default: runs/P/pretrain/<method>/seed<S>)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (pipelines, logs)")
    p.set_defaults(func=_pretrain)
