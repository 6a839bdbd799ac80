"""Evaluation steps: finetune, mar-finetune, linear-probe, fewshot, frozen, evaluate, domain-adapt, aggregate."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from motionmvm.common_args import add_config_args, load_config
from motionmvm.datasets import NAMES


def _common(p: argparse.ArgumentParser, dataset: bool = True, method: bool = True) -> None:
    add_config_args(p)
    if method:
        p.add_argument("--method", required=True,
                       help="pretraining method whose encoder is evaluated, or random_init / scratch")
    if dataset:
        p.add_argument("--dataset", default=None, help="evaluation dataset (default: the protocol's)")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--pretrain-dataset", default=None,
                   help="dataset the encoder was pretrained on (default: experiment.pretrain_dataset); recorded")
    p.add_argument("--encoder", default=None, help="encoder.pt to evaluate (default: derived from method/seed)")
    p.add_argument("--out", default=None, help="run directory (default: runs/P/eval/<protocol>/<method>/<dataset>/seed<S>)")


def _check_method(cfg: dict, method: str) -> None:
    from motionmvm.config import encoder_methods

    allowed = encoder_methods(cfg) + list(cfg["eval"]["reference_methods"])
    if method not in allowed:
        raise SystemExit(f"motionmvm: --method {method!r} is not allowed; allowed values are {allowed}")


def _encoder_path(cfg: dict, args, protocol: str) -> Path:
    from motionmvm.eval.outputs import pretrain_encoder, run_dir

    if args.encoder:
        return Path(args.encoder)
    if args.method in ("scratch", "scratch_1frame") and protocol in ("linear_probe", "fewshot"):
        # supervised reference: the encoder `finetune --method scratch*` trained on the pretraining dataset
        pd = args.pretrain_dataset or cfg["experiment"]["pretrain_dataset"]
        return run_dir(cfg, "finetune", args.method, pd, args.seed) / "encoder.pt"
    if args.method in ("random_init", "scratch", "scratch_1frame"):
        return pretrain_encoder(cfg, "videomae", args.seed)  # architecture only
    return pretrain_encoder(cfg, args.method, args.seed)


def _prepare(args, protocol: str, default_dataset: str | None = None):
    from motionmvm.eval.outputs import dataset_dir, run_dir

    cfg = load_config(args)
    if getattr(args, "method", None):
        _check_method(cfg, args.method)
    dataset = getattr(args, "dataset", None) or default_dataset or cfg["experiment"]["eval_datasets"][0]
    return cfg, dataset, dataset_dir(cfg, dataset), (Path(args.out) if args.out else None), run_dir


def _info(cfg: dict, args) -> dict:
    """Recorded in metrics.json: which pretraining the evaluated encoder comes from."""
    return {"pretrain_dataset": args.pretrain_dataset or cfg["experiment"]["pretrain_dataset"],
            "encoder_method": "videomae" if args.method in ("random_init", "scratch", "scratch_1frame", "mar") else args.method}


def _cache_dir(cfg: dict, dataset: str, method: str, seed: int) -> Path:
    return Path(cfg["paths"]["cache"]) / cfg["profile"] / dataset / "features" / method / f"seed{seed}"


def _finetune(args) -> int:
    from motionmvm.eval import protocols

    cfg, ds, ddir, out, run_dir = _prepare(args, "finetune")
    out = out or run_dir(cfg, "finetune", args.method, ds, args.seed)
    m = protocols.finetune(cfg, method=args.method, dataset_dir=ddir, encoder_path=_encoder_path(cfg, args, "finetune"),
                           out_dir=out, seed=args.seed, protocol_cfg=cfg["eval"]["finetune"], info=_info(cfg, args))
    print(f"finetune {args.method} {ds} seed {args.seed}: top-1 {m['top1']:.4f} -> {out}")
    return 0


def _mar(args) -> int:
    from motionmvm.eval import protocols

    cfg, ds, ddir, out, run_dir = _prepare(args, "mar_finetune")
    if args.mask_percent not in (25, 50, 75):
        raise SystemExit(f"motionmvm: --mask-percent {args.mask_percent} is not allowed; allowed values are [25, 50, 75]")
    ratio = args.mask_percent / 100
    name = f"mar_r{args.mask_percent}" + ("" if args.method == "videomae" else f"_{args.method}")
    out = out or run_dir(cfg, "mar_finetune", name, ds, args.seed)
    m = protocols.mar_finetune(cfg, dataset_dir=ddir, encoder_path=_encoder_path(cfg, args, "mar_finetune"),
                               out_dir=out, seed=args.seed, ratio=ratio, info=_info(cfg, args), dataset=ds)
    print(f"mar-finetune {args.mask_percent}% {ds} seed {args.seed}: top-1 {m['top1']:.4f}, "
          f"{m['gflops_per_view']:.4g} GFLOPs/view ({m['gflops_fraction_of_full']:.2f} of full) -> {out}")
    return 0


def _linear(args) -> int:
    from motionmvm.eval import protocols

    cfg, ds, ddir, out, run_dir = _prepare(args, "linear_probe")
    out = out or run_dir(cfg, "linear_probe", args.method, ds, args.seed)
    m = protocols.linear_probe(cfg, method=args.method, dataset_dir=ddir,
                               encoder_path=_encoder_path(cfg, args, "linear_probe"), out_dir=out,
                               cache_dir=_cache_dir(cfg, ds, args.method, args.seed), seed=args.seed, info=_info(cfg, args))
    print(f"linear-probe {args.method} {ds} seed {args.seed}: top-1 {m['top1']:.4f} -> {out}")
    return 0


def _fewshot(args) -> int:
    from motionmvm.eval import protocols

    cfg = load_config(args)
    fs = cfg["eval"]["fewshot"]
    if not (args.dataset or fs["datasets"]):
        print("motionmvm fewshot: give --dataset (eval.fewshot.datasets is empty)", file=sys.stderr)
        return 2
    cfg, ds, ddir, out, run_dir = _prepare(args, "fewshot", args.dataset or fs["datasets"][0])
    out = out or run_dir(cfg, "fewshot", args.method, ds, args.seed)
    m = protocols.fewshot(cfg, method=args.method, dataset_dir=ddir, encoder_path=_encoder_path(cfg, args, "fewshot"),
                          out_dir=out, cache_dir=_cache_dir(cfg, ds, args.method, args.seed), seed=args.seed,
                          k=args.k or fs["k"], draws=args.draws or fs["draws"], info=_info(cfg, args))
    ci = m["top1_over_draws"]
    print(f"fewshot {args.method} {ds} seed {args.seed}: top-1 {ci['mean']:.4f} "
          f"[{ci['ci_low']}, {ci['ci_high']}] over {len(m['top1_per_draw'])} draws -> {out}")
    return 0


def _frozen(args) -> int:
    """Every frozen-feature protocol of one encoder in one process (one import of torch, one
    encoder load, one feature cache per dataset): the linear probe on each of
    eval.linear_probe.datasets, then few-shot on each of eval.fewshot.datasets. Same outputs as the
    `linear-probe` and `fewshot` steps."""
    if args.out:
        raise SystemExit("motionmvm: `frozen` writes one run directory per protocol and dataset; drop --out "
                         "(or use `linear-probe` / `fewshot` with --out)")
    ev = load_config(args)["eval"]
    for ds in ev["linear_probe"]["datasets"]:
        args.dataset = ds
        _linear(args)
    for ds in ev["fewshot"]["datasets"]:
        args.dataset, args.k, args.draws = ds, None, None
        if _fewshot(args):
            return 1
    return 0


SUPERVISED = ("scratch", "scratch_1frame")


def finetune_datasets(cfg: dict, supervised: bool) -> list[str]:
    """The datasets `evaluate` fine-tunes on: experiment.eval_datasets, and for the supervised
    references also the pretraining dataset (their encoder there is what the frozen protocols read)."""
    names = list(cfg["experiment"]["eval_datasets"])
    if supervised and cfg["experiment"]["pretrain_dataset"] not in names:
        names.append(cfg["experiment"]["pretrain_dataset"])
    return names


def _evaluate(args) -> int:
    """Fine-tuning and every frozen-feature protocol of one encoder and seed in one process (params
    `eval.process_per_encoder`, the budget profiles: one import of torch and timm instead of one per
    protocol). Fine-tunes on each of `finetune_datasets`, then runs `frozen`; the same run
    directories as the separate steps, which a cluster profile runs as separate jobs instead."""
    if args.out or args.encoder:
        raise SystemExit("motionmvm: `evaluate` writes each protocol's own run directory from the method's "
                         "encoder; drop --out / --encoder (or run the protocol steps one by one)")
    cfg = load_config(args)
    _check_method(cfg, args.method)
    for ds in finetune_datasets(cfg, supervised=args.method in SUPERVISED):
        args.dataset = ds
        _finetune(args)
    return _frozen(args)  # sets args.dataset per frozen run


def _domain(args) -> int:
    from motionmvm.eval import protocols
    from motionmvm.eval.outputs import dataset_dir

    from motionmvm.datasets import classlists

    cfg = load_config(args)
    da = cfg["eval"]["domain_adapt"]
    _check_method(cfg, args.method)
    pairs = [(p["source"], p["target"]) for p in da["pairs"]]
    if args.source and args.target:
        src, tgt = args.source, args.target
    elif len(pairs) == 1 and not (args.source or args.target):
        src, tgt = pairs[0]
    else:
        print(f"motionmvm domain-adapt: give --source and --target (eval.domain_adapt.pairs lists "
              f"{[classlists.pair_name(*p) for p in pairs]})", file=sys.stderr)
        return 2
    pair = classlists.pair_name(src, tgt)
    # real pairs train and test on the classes of their class list; synthetic pairs share names
    class_list = classlists.load(pair)
    if class_list is None and {src, tgt} & set(NAMES):
        print(f"motionmvm domain-adapt: no class list for {pair}; real pairs need one of "
              f"{classlists.available()} (src/motionmvm/datasets/classlists/<pair>.txt)", file=sys.stderr)
        return 2
    from motionmvm.eval.outputs import run_dir
    out = Path(args.out) if args.out else run_dir(cfg, "domain_adapt", args.method, pair, args.seed)
    protocol_cfg = {**cfg["eval"]["finetune"], **{k: v for k, v in da.items() if k != "pairs"}}
    m = protocols.finetune(cfg, method=args.method, dataset_dir=dataset_dir(cfg, src),
                           encoder_path=_encoder_path(cfg, args, "domain_adapt"), out_dir=out, seed=args.seed,
                           protocol_cfg=protocol_cfg, eval_classes_from=dataset_dir(cfg, tgt),
                           class_list=class_list, info=_info(cfg, args))
    print(f"domain-adapt {args.method} {src}->{tgt} seed {args.seed}: top-1 {m['top1']:.4f}, "
          f"negative transfer {m['negative_transfer']:.4f} -> {out}")
    return 0


def _aggregate(args) -> int:
    from motionmvm.eval.aggregate import aggregate
    from motionmvm.io import read_json

    cfg = load_config(args)
    root = Path(cfg["paths"]["runs"]) / cfg["profile"] / "eval"
    results = Path(args.out) if args.out else Path(cfg["paths"]["results"]) / cfg["profile"]
    pretrain = Path(cfg["paths"]["runs"]) / cfg["profile"] / "pretrain"
    rows = aggregate(root, results, cfg["eval"]["confidence"], cfg=cfg, pretrain_root=pretrain)
    health = read_json(results / "health.json")
    failed = [g["name"] for g in health["gates"] if not g["passed"]]
    print(f"aggregate: {len(rows)} rows -> {results}/summary.json, table.csv, table.md, health.json; "
          f"gates {'all pass' if not failed else 'FAILED: ' + ', '.join(failed)}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("finetune", help="full fine-tuning (VideoMAE recipe), multi-view test")
    _common(p)
    p.set_defaults(func=_finetune)

    p = subparsers.add_parser("mar-finetune", help="MAR fine-tuning (cell running masking) with GFLOPs")
    _common(p, method=False)
    p.add_argument("--method", default="videomae", help="pretraining whose encoder MAR fine-tunes (default videomae)")
    p.add_argument("--mask-percent", type=int, default=50, help="cell running mask ratio in percent: 25, 50 or 75")
    p.set_defaults(func=_mar)

    p = subparsers.add_parser("linear-probe", help="frozen features (cached) + logistic regression")
    _common(p)
    p.set_defaults(func=_linear)

    p = subparsers.add_parser("fewshot", help="k-shot linear probe over repeated draws, mean and 95%% CI")
    _common(p)
    p.add_argument("--k", type=int, default=None, help="shots per class (default eval.fewshot.k)")
    p.add_argument("--draws", type=int, default=None, help="random draws (default eval.fewshot.draws)")
    p.set_defaults(func=_fewshot)

    p = subparsers.add_parser("frozen", help="linear probe on eval.linear_probe.datasets + few-shot, one process")
    _common(p, dataset=False)
    p.set_defaults(func=_frozen)

    p = subparsers.add_parser("evaluate", help="fine-tuning + frozen-feature protocols of one encoder, one process")
    _common(p, dataset=False)
    p.set_defaults(func=_evaluate)

    p = subparsers.add_parser("domain-adapt", help="partial domain adaptation: train on source, test on target subset")
    _common(p, dataset=False)
    p.add_argument("--source", default=None)
    p.add_argument("--target", default=None)
    p.set_defaults(func=_domain)

    p = subparsers.add_parser("aggregate", help="mean, std, 95%% CI over seeds; paired differences vs videomae")
    add_config_args(p)
    p.add_argument("--out", default=None, help="results directory (default results/P)")
    p.set_defaults(func=_aggregate)
