"""`motionmvm prepare --dataset NAME [--source PATH_OR_URL ...]`: a real dataset into the common layout."""
from __future__ import annotations

import sys

from motionmvm.common_args import add_config_args, load_config
from motionmvm.datasets import NAMES


def _prepare(args) -> int:
    from motionmvm.datasets.errors import DatasetError
    from motionmvm.datasets.prepare import prepare

    cfg = load_config(args)
    try:
        summary = prepare(args.dataset, cfg, source=args.source, checksum=args.checksum,
                          out=args.out, progress=not args.no_progress)
    except (DatasetError, ValueError) as exc:
        print(f"motionmvm prepare: {exc}", file=sys.stderr)
        return 1
    split = summary["splits"][str(cfg["datasets"][args.dataset]["split"])]
    print(f"{args.dataset}: {summary['classes']} classes, {summary['videos']} videos, split "
          f"{cfg['datasets'][args.dataset]['split']}: {split['train']} train / {split['test']} test, "
          f"{summary['missing']} missing")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("prepare", help="download (where possible) and convert a real dataset "
                              "into data/<profile>/<dataset>/")
    add_config_args(p)
    p.add_argument("--dataset", required=True, choices=NAMES)
    p.add_argument("--source", nargs="+", default=None,
                   help="URLs, archives and/or one folder with the official files (default: "
                        "params datasets.<name>.root, then .url)")
    p.add_argument("--checksum", default=None, help="sha256:<hex> or md5:<hex> of a single --source")
    p.add_argument("--out", default=None, help="output folder (default: <data>/<profile>/<dataset>)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_prepare)
