"""`motionmvm tokenizer train|encode --dataset D [--kind 3d|2d]`."""
from __future__ import annotations

from motionmvm.common_args import add_config_args, load_config

DATASETS = ("synth", "synth_mimed", "synth_b", "ucf101", "hmdb51", "mimetics", "diving48", "ssv2", "k400")


def _train(args) -> int:
    cfg = load_config(args)
    from motionmvm.tokenizer.train import train

    train(cfg, args.dataset, args.kind)
    return 0


def _encode(args) -> int:
    cfg = load_config(args)
    from motionmvm.tokenizer.encode import encode

    encode(cfg, args.dataset, args.kind)
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("tokenizer", help="train the DEMVM video tokenizer / encode token targets")
    sub = parser.add_subparsers(dest="tokenizer_command", required=True)
    for name, func, text in (("train", _train, "train a VQ tokenizer on a dataset (PSNR, codebook usage)"),
                             ("encode", _encode, "write token ids of every clip to cache/P/<D>/tokens/")):
        p = sub.add_parser(name, help=text)
        add_config_args(p)
        p.add_argument("--dataset", required=True, choices=DATASETS)
        p.add_argument("--kind", default="3d", choices=("3d", "2d"),
                       help="3d: VideoGPT-style 3D VQ-VAE (default); 2d: per-frame 2D VQ baseline")
        p.set_defaults(func=func)
