"""`motionmvm import-checkpoint` (a released encoder -> our encoder.pt) and `motionmvm export-hf`
(our ViT encoder -> a transformers VideoMAEModel directory)."""
from __future__ import annotations

import sys
from pathlib import Path

from motionmvm.common_args import add_config_args, load_config


def imported_encoder_dir(cfg: dict, name: str, seed: int) -> Path:
    """Where an imported entry's encoder lives: beside the pretrained methods' encoders."""
    return Path(cfg["paths"]["runs"]) / cfg["profile"] / "pretrain" / name / f"seed{seed}"


def _import(args) -> int:
    from motionmvm import provenance
    from motionmvm.eval.encoder import save_encoder
    from motionmvm.interop.importer import import_encoder
    from motionmvm.interop.read import CheckpointError
    from motionmvm.io import sha256_file, write_json

    cfg = load_config(args)
    entries = cfg["experiment"].get("imported") or {}
    path = args.checkpoint or entries.get(args.name)
    if path is None:
        print(f"motionmvm: no checkpoint for {args.name!r}: give --checkpoint or add it to params "
              f"experiment.imported (entries: {sorted(entries)})", file=sys.stderr)
        return 2
    try:
        encoder, ckpt, record = import_encoder(path, frames=args.frames, size=args.size, num_heads=args.num_heads,
                                               default_geometry=(cfg["pretrain"]["frames"], cfg["pretrain"]["size"]))
    except CheckpointError as exc:
        print(f"motionmvm: {path}: {exc}", file=sys.stderr)
        return 1
    out = Path(args.out) if args.out else imported_encoder_dir(cfg, args.name, args.seed)
    out.mkdir(parents=True, exist_ok=True)
    save_encoder(out / "encoder.pt", {**ckpt, "method": args.name}, encoder)
    write_json(out / "import.json", {"name": args.name, **record, "encoder": {"path": str(out / "encoder.pt"),
                                     "sha256": sha256_file(out / "encoder.pt")},
                                     "config": ckpt["config"], "input": ckpt["input"],
                                     "provenance": provenance.record(cfg, seed=args.seed)})
    print(f"import-checkpoint {args.name}: {record['layout']} layout, sha256 {record['source']['sha256'][:12]}, "
          f"{len(record['dropped_keys'])} non-encoder keys dropped -> {out / 'encoder.pt'}")
    return 0


def _export(args) -> int:
    from motionmvm.interop.hf import export
    from motionmvm.interop.read import CheckpointError

    try:
        out = export(args.encoder, args.out)
    except (CheckpointError, FileNotFoundError) as exc:
        print(f"motionmvm: {args.encoder}: {exc}", file=sys.stderr)
        return 1
    print(f"export-hf: {args.encoder} -> {out} (transformers VideoMAEModel.from_pretrained)")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("import-checkpoint", help="import a released VideoMAE / MGMAE / MME / transformers "
                                                        "encoder as an experiment entry's encoder.pt")
    add_config_args(p)
    p.add_argument("--name", required=True, help="entry name (params experiment.imported), e.g. videomae-official")
    p.add_argument("--seed", type=int, default=0, help="seed directory to write (the weights are the same for all)")
    p.add_argument("--checkpoint", default=None, help="file or transformers directory (default: the params entry)")
    p.add_argument("--frames", type=int, default=None, help="clip frames (official files: default pretrain.frames)")
    p.add_argument("--size", type=int, default=None, help="clip side (official files: default pretrain.size)")
    p.add_argument("--num-heads", type=int, default=None, help="attention heads (needed for a non-release width)")
    p.add_argument("--out", default=None, help="output directory (default: runs/P/pretrain/<name>/seed<S>)")
    p.set_defaults(func=_import)
    e = subparsers.add_parser("export-hf", help="write a ViT encoder.pt as a transformers VideoMAEModel directory")
    e.add_argument("--encoder", required=True, help="encoder.pt to export")
    e.add_argument("--out", required=True, help="directory for save_pretrained (config.json + model.safetensors)")
    e.set_defaults(func=_export)
