"""`motionmvm show-masks`: render every masking strategy over a video's first clip."""
from __future__ import annotations

import argparse

from motionmvm.common_args import add_config_args, load_config


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "show-masks", help="render masking strategies over a video (PNG grid + GIF)",
        description="Render each masking strategy's masks over the first clip of a video, with "
                    "the motion that guides them. Motion comes from cache .npz files (--mv, "
                    "--flow, --klt) or, with --compute-motion, from OpenCV on the clip itself; "
                    "a motion-guided strategy without its motion is skipped and reported.")
    add_config_args(p)
    p.add_argument("video", help="video file")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--strategies", nargs="*", default=None, help="names (default: all)")
    p.add_argument("--mv", help="mv cache .npz (field, missing)")
    p.add_argument("--flow", help="flow cache .npz (flow, scale)")
    p.add_argument("--klt", help="klt cache .npz (motion_map)")
    p.add_argument("--compute-motion", action="store_true",
                   help="compute flow (Farneback) and KLT maps on the clip when no .npz is given")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--stride", type=int, default=2)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--patch", type=int, default=16)
    p.add_argument("--tubelet", type=int, default=2)
    p.add_argument("--epoch", type=float, default=None, help="PMR epoch for fgdm (default: end)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_show_masks)


def _show_masks(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    import numpy as np

    from motionmvm import masking
    from motionmvm.io import atomic_path, write_json
    from motionmvm.masking import render
    from motionmvm.masking.settings import MOTION_NEEDS, strategy_kwargs

    cfg = load_config(args)
    names = args.strategies or masking.names()
    unknown = sorted(set(names) - set(masking.names()))
    if unknown:
        print(f"motionmvm show-masks: unknown strategies {unknown}; known: {masking.names()}",
              file=sys.stderr)
        return 2
    if args.size % args.patch or args.frames % args.tubelet:
        print("motionmvm show-masks: --size must be a multiple of --patch and --frames of "
              "--tubelet", file=sys.stderr)
        return 2
    clip, idx, src_hw = render.read_clip(args.video, args.frames, args.stride, args.size)
    motion, source = {}, {}
    for kind in ("mv", "flow", "klt"):
        path = getattr(args, kind)
        if path:
            motion.update(render.motion_from_npz(kind, path, idx, args.size, src_hw))
            source[kind] = str(path)
    if args.compute_motion:
        for kind, arr in render.compute_motion(clip).items():
            if kind not in motion:
                motion[kind] = arr
                source[kind] = "computed on the clip (OpenCV)"
    grid = (args.frames // args.tubelet, args.size // args.patch, args.size // args.patch)
    masks, skipped, used = {}, {}, {}
    for name in names:
        ratio, kw = strategy_kwargs(cfg.get("masking", {}), name, epoch=args.epoch)
        need = MOTION_NEEDS.get(name, ())
        have = [k for k in need if k in motion]
        if need and not have:
            skipped[name] = f"needs one of {list(need)}"
            continue
        if have:
            kw[have[0]] = motion[have[0]]
            if have[0] == "mv" and "mv_missing" in motion:
                kw["mv_missing"] = motion["mv_missing"]
        g = np.random.default_rng(args.seed)
        masks[name] = masking.get(name)(grid, ratio, generator=g, batch=1, **kw)[0]
        used[name] = {"ratio": float(ratio), "motion": have[0] if have else None,
                      "masked_fraction": float(masks[name].mean())}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "masks.png") as tmp:
        render.save_png(tmp.with_suffix(".png"), clip, masks, motion, args.patch, args.tubelet)
        tmp.with_suffix(".png").replace(tmp)
    with atomic_path(out / "masks.gif") as tmp:
        render.save_gif(tmp.with_suffix(".gif"), clip, masks, args.patch, args.tubelet)
        tmp.with_suffix(".gif").replace(tmp)
    np.savez_compressed(out / "masks.npz", **masks)
    write_json(out / "masks.json", {"video": str(args.video), "frame_indices": idx.tolist(),
                                    "grid": list(grid), "strategies": used, "skipped": skipped,
                                    "motion_source": source, "seed": args.seed})
    for name, why in skipped.items():
        print(f"skipped {name}: {why}", file=sys.stderr)
    print(f"wrote {out / 'masks.png'}, {out / 'masks.gif'} ({len(masks)} strategies)")
    return 0
