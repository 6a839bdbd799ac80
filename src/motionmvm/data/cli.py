"""`motionmvm data synth|resize|manifest|store --dataset D`: the data steps of one dataset."""
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
                                 data["resize"]["short_side"], split=split)
    except (build_manifest.QuarantineError, ValueError) as exc:
        print(f"motionmvm: {exc}", file=sys.stderr)
        return 1
    print(f"{args.dataset}: {s['ok']} ok, {len(s['quarantined'])} quarantined, hash {s['hash'][:12]}")
    return 0


def _resize(args) -> int:
    from pathlib import Path

    from motionmvm.data import resize

    cfg = load_config(args)
    root = Path(cfg["paths"]["data"]) / cfg["profile"] / args.dataset
    s = resize.run(root, cfg["data"]["resize"])
    side = s["settings"]["short_side"]
    print(f"{args.dataset}: " + (f"{len(s['videos']) - len(s['failed'])} videos at short side {side}, "
                                 f"{len(s['failed'])} failed" if side else "resize off (short_side 0)")
          + f", hash {s['hash'][:12]}")
    return 0


def _store(args) -> int:
    import sys
    from pathlib import Path

    from motionmvm.data import store

    cfg = load_config(args)
    root = Path(cfg["paths"]["data"]) / cfg["profile"] / args.dataset
    if not (root / "manifest.json").exists():
        print(f"motionmvm: no manifest at {root}/manifest.json: run `motionmvm data manifest --dataset "
              f"{args.dataset}` first", file=sys.stderr)
        return 1
    out = Path(cfg["paths"]["cache"]) / cfg["profile"] / args.dataset / "clips"
    index = store.build(root, out, cfg["data"]["store"]["enabled"])
    print(f"{args.dataset}: store {'on' if index['enabled'] else 'off (index only)'}, {len(index['clips'])} clips stored ({index['bytes'] / 2**20:.0f} MiB), "
          f"{len(index['quarantined'])} quarantined, hash {index['hash'][:12]} in {out}")
    return 0


def register(subparsers) -> None:
    data = subparsers.add_parser("data", help="embedded benchmark and data steps")
    sub = data.add_subparsers(dest="data_command", required=True)
    p = sub.add_parser("synth", help="generate a synth dataset (deterministic by seed)")
    add_config_args(p)
    p.add_argument("--dataset", required=True, choices=["synth", "synth_mimed", "synth_b"])
    p.set_defaults(func=_synth)
    r = sub.add_parser("resize", help="re-encode a dataset's listed videos to data.resize.short_side "
                                      "(data/P/<dataset>/videos_resized)")
    add_config_args(r)
    r.add_argument("--dataset", required=True)
    r.set_defaults(func=_resize)
    m = sub.add_parser("manifest", help="probe, decode-check and hash a dataset's videos")
    add_config_args(m)
    m.add_argument("--dataset", required=True)
    m.add_argument("--min-frames", type=int, default=16, help="frames a clip needs (default 16)")
    m.set_defaults(func=_manifest)
    st = sub.add_parser("store", help="decode a dataset's usable videos once into its clip store "
                                      "(cache/P/<dataset>/clips: uint8, memory-mapped)")
    add_config_args(st)
    st.add_argument("--dataset", required=True)
    st.set_defaults(func=_store)
