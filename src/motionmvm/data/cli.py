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


def _manifest(args) -> int:
    import sys
    from pathlib import Path

    from motionmvm.data import build_manifest

    cfg = load_config(args)
    data = cfg["data"]
    out = Path(cfg["paths"]["data"]) / cfg["profile"] / args.dataset
    domain = "b" if args.dataset == "synth_b" else "a"
    # real datasets: the official split params datasets.<name>.split names (prepare wrote all)
    split = cfg["datasets"][args.dataset]["split"] if args.dataset in cfg.get("datasets", {}) else 1
    try:
        s = build_manifest.build(out, domain, args.min_frames, data["max_quarantine_fraction"], data.get("workers", 1),
                                 split=split)
    except (build_manifest.QuarantineError, build_manifest.ListError) as exc:
        print(f"motionmvm: {exc}", file=sys.stderr)
        return 1
    print(f"{args.dataset}: {s['ok']} ok, {len(s['quarantined'])} quarantined, hash {s['hash'][:12]}")
    return 0


def register(subparsers) -> None:
    data = subparsers.add_parser("data", help="embedded benchmark and data steps")
    sub = data.add_subparsers(dest="data_command", required=True)
    p = sub.add_parser("synth", help="generate a synth dataset (deterministic by seed)")
    add_config_args(p)
    p.add_argument("--dataset", required=True, choices=["synth", "synth_mimed", "synth_b"])
    p.set_defaults(func=_synth)
    m = sub.add_parser("manifest", help="probe, decode-check and hash a dataset's videos")
    add_config_args(m)
    m.add_argument("--dataset", required=True)
    m.add_argument("--min-frames", type=int, default=16, help="frames a clip needs (default 16)")
    m.set_defaults(func=_manifest)
