"""The five protocols as functions of (cfg, method, dataset(s), seed, paths); the CLI calls them."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from motionmvm.eval import encoder as enc_mod
from motionmvm.data.clips import load_bank, store_dir_for
from motionmvm.eval.engine import classification_loss, device, fit, make_train_loader, predict
from motionmvm.eval.flops import count_gflops
from motionmvm.eval.outputs import write_run


def _setup(seed: int, threads: int) -> float:
    torch.manual_seed(seed)
    np.random.seed(seed)  # timm's Mixup draws from numpy's global RNG
    if threads:
        torch.set_num_threads(threads)
    return time.time()


def _store(cfg: dict, dataset_dir: Path):
    """The clip store of data/P/<dataset> when the profile enables it (data.clips.store_dir_for)."""
    return store_dir_for(cfg, Path(dataset_dir).name)


def _has_split(dataset_dir: Path, split: str) -> bool:
    from motionmvm.data import manifest

    return bool(manifest.load(dataset_dir, status=None, split=split))


def _views_gflops(forward, frames: int, size: int) -> float:
    return count_gflops(forward, torch.zeros(1, 3, frames, size, size, device=device()))


def finetune(cfg: dict, *, method: str, dataset_dir: Path, encoder_path: Path, out_dir: Path,
             seed: int, protocol_cfg: dict, eval_classes_from: Path | None = None, info: dict | None = None,
             class_list=None, log=print) -> dict:
    """Full fine-tuning (also: `scratch` and `random_init` from fresh weights, domain adaptation).

    eval_classes_from: a target dataset (partial domain adaptation): train on `dataset_dir`'s
    classes, test on the target's test split whose classes map to the source's by name.
    class_list: a `motionmvm.datasets.classlists.ClassList` for real pairs: train on its source
    classes only, test on the target clips of its target classes, each scored as its source class.
    """
    ev = cfg["eval"]
    ft = protocol_cfg
    started = _setup(seed, ev["threads"])
    ckpt = enc_mod.read_checkpoint(encoder_path)
    fresh = method in enc_mod.REFERENCE_METHODS
    drop = enc_mod.drop_path_override(ckpt, ft["drop_path"])
    encoder = enc_mod.build_encoder(ckpt, pretrained=not fresh, seed=seed, **drop)
    frames, size = enc_mod.input_shape(encoder)
    stride = ev["stride"]
    train = load_bank(dataset_dir, "train", size, ft["max_train_clips"], seed, _store(cfg, dataset_dir),
                      classes=class_list.source_map() if class_list else None)
    model = enc_mod.VideoClassifier(encoder, enc_mod.embed_dim(encoder), len(train.class_names),
                                    ft["head_dropout"], enc_mod.head_kind(ckpt["model"]),
                                    head_init_std=ft.get("head_init_std", 2e-5))
    if method == enc_mod.SINGLE_FRAME:
        enc_mod.make_single_frame(model)
    epochs = ft["scratch_epochs"] if method in enc_mod.SUPERVISED else ft["epochs"]
    loader = make_train_loader(train, ft, frames, stride, size, seed)
    history = fit(model, classification_loss, loader, ft, len(train.class_names), enc_mod.num_layers(encoder),
                  epochs, log, checkpoint=out_dir / "checkpoint.pt")
    test_dir = eval_classes_from or dataset_dir
    test = load_bank(test_dir, "test", size, ft["max_test_clips"], seed, _store(cfg, test_dir),
                     classes=class_list.target_map() if class_list else None)
    labels, eval_classes = _map_labels(test, train.class_names) if eval_classes_from else (test.labels, None)
    probs, throughput = predict(model, test, frames, stride, size, ft["test_clips"], ft["test_crops"], ev["batch_size"])
    gflops = _views_gflops(model, frames, size)
    if method in enc_mod.SUPERVISED:
        enc_mod.save_encoder(out_dir / "encoder.pt", ckpt, encoder)
    return _done(out_dir, write_run(out_dir, cfg, clip_ids=test.clip_ids, labels=labels, probs=probs,
                     class_names=train.class_names, seed=seed, started=started,
                     quarantined=train.quarantined + test.quarantined, dataset_dirs=[dataset_dir, test_dir],
                     checkpoint=encoder_path, scored=test.selection, eval_classes=eval_classes,
                     extra={**(info or {}), "method": method, "gflops_per_view": gflops, "throughput_views_per_s": throughput,
                            "views_per_video": ft["test_clips"] * ft["test_crops"], "epochs": epochs,
                            "train_clips": len(train), "history": history, "encoder_init": "random" if fresh else "pretrained",
                            **({"class_list": class_list.pair} if class_list else {})}))


def _done(out_dir: Path, metrics: dict) -> dict:
    """The run is written: its training checkpoint (kept for a requeued job) is no longer needed."""
    (out_dir / "checkpoint.pt").unlink(missing_ok=True)
    return metrics


def _map_labels(test, source_names: list[str]):
    """Target labels as indices of the source classes with the same name (classInd.txt)."""
    missing = sorted(set(test.class_names) - set(source_names))
    if missing:
        raise ValueError(f"partial domain adaptation needs the target classes to be a subset of the source's; "
                         f"target classes {missing} are not among the source classes")
    index = {n: i for i, n in enumerate(source_names)}
    labels = np.array([index[test.class_names[y]] for y in test.labels], dtype=np.int64)
    return labels, list(test.class_names)


def mar_finetune(cfg: dict, *, dataset_dir: Path, encoder_path: Path, out_dir: Path, seed: int,
                 ratio: float, info: dict | None = None, log=print, dataset: str | None = None) -> dict:
    """MAR fine-tuning of the videomae encoder at mask ratio `ratio`; GFLOPs and throughput of the
    MAR test view next to those of the full (unmasked) classifier, counted the same way."""
    from motionmvm import models
    from motionmvm.eval.mar import (BRIDGE, DECODER, CellRunning, MARModel, decoder_state_from_pretraining,
                                    mar_loss_fn, recon_weight_for)

    ev, ft, mc = cfg["eval"], cfg["eval"]["finetune"], cfg["eval"]["mar"]
    ft = {**ft, **{k: mc[k] for k in ("epochs", "warmup_epochs") if k in mc}}
    recon_weight = recon_weight_for(mc["recon_weight"], dataset)   # dataset: the name, e.g. k400
    started = _setup(seed, ev["threads"])
    ckpt = enc_mod.read_checkpoint(encoder_path)
    drop = enc_mod.drop_path_override(ckpt, ft["drop_path"])
    encoder = enc_mod.build_encoder(ckpt, pretrained=True, seed=seed, **drop)
    frames, size = enc_mod.input_shape(encoder)
    grid, tubelet, patch = tuple(encoder.cfg.grid), encoder.cfg.tubelet, encoder.cfg.patch
    dim = enc_mod.embed_dim(encoder)
    train = load_bank(dataset_dir, "train", size, ft["max_train_clips"], seed, _store(cfg, dataset_dir))
    k = len(train.class_names)
    bridge = models.build(BRIDGE, embed_dim=dim, num_classes=k, **mc["bridge"])
    # MAR starts its reconstruction branch from the videomae decoder, so it takes the pretraining's
    # decoder shape (params `model.decoder_*`) when there is one; eval.mar.decoder otherwise.
    m = cfg.get("model", {})
    dec_kw = ({"embed_dim": m["decoder_dim"], "depth": m["decoder_depth"], "num_heads": m["decoder_heads"]}
              if {"decoder_dim", "decoder_depth", "decoder_heads"} <= set(m) else dict(mc["decoder"]))
    decoder = models.build(DECODER, encoder_dim=dim, grid=grid, out_dim=tubelet * patch * patch * 3, **dec_kw)
    dec_state = decoder_state_from_pretraining(encoder_path)
    if dec_state is not None:
        try:
            decoder.load_state_dict(dec_state)
        except RuntimeError as exc:
            raise ValueError(f"the videomae decoder beside {encoder_path} does not fit the MAR decoder "
                             f"{dec_kw}: {exc}") from exc
    model = MARModel(encoder, bridge, decoder)
    modes = cfg.get("masking", {}).get("cell_running", {})
    masks = CellRunning(grid, ratio, seed, modes.get("spatial", "repeated"), modes.get("temporal", "shuffled"),
                        modes.get("order", "raster"))
    loader = make_train_loader(train, ft, frames, ev["stride"], size, seed)
    history = fit(model, mar_loss_fn(masks, recon_weight, tubelet, patch), loader, ft, k,
                  enc_mod.num_layers(encoder), ft["epochs"], log, checkpoint=out_dir / "checkpoint.pt",
                  rngs={"masks": masks.rng})
    test = load_bank(dataset_dir, "test", size, ft["max_test_clips"], seed, _store(cfg, dataset_dir))

    def forward(x):
        return model(x, masks.test(len(x)).to(x.device), reconstruct=False)[0]

    probs, throughput = predict(forward, test, frames, ev["stride"], size, ft["test_clips"], ft["test_crops"], ev["batch_size"])
    gflops = _views_gflops(forward, frames, size)
    full = enc_mod.VideoClassifier(encoder, dim, k, 0.0, enc_mod.head_kind(ckpt["model"])).to(device()).eval()
    full_gflops = _views_gflops(full, frames, size)
    _, full_tp = predict(full, test.subset(range(min(len(test), 4))), frames, ev["stride"], size, ft["test_clips"],
                         ft["test_crops"], ev["batch_size"])
    return _done(out_dir, write_run(out_dir, cfg, clip_ids=test.clip_ids, labels=test.labels, probs=probs,
                     class_names=train.class_names, seed=seed, started=started,
                     quarantined=train.quarantined + test.quarantined, dataset_dirs=[dataset_dir],
                     checkpoint=encoder_path, scored=test.selection,
                     extra={**(info or {}), "method": f"mar_r{round(ratio * 100)}", "mask_ratio": ratio, "gflops_per_view": gflops,
                            "views_per_video": ft["test_clips"] * ft["test_crops"],
                            "throughput_views_per_s": throughput, "full_finetune_gflops_per_view": full_gflops,
                            "full_finetune_throughput_views_per_s": full_tp, "gflops_fraction_of_full": gflops / full_gflops,
                            "recon_weight": recon_weight, "decoder_init": "videomae" if dec_state else "random",
                            "epochs": ft["epochs"], "train_clips": len(train), "history": history}))


def _features(cfg, encoder, bank, key_parts, cache_path, frames, size):
    from motionmvm.eval.probe import cached_features, extract_features

    key = "|".join(map(str, key_parts))
    return cached_features(cache_path, key, lambda: (
        extract_features(encoder, bank, frames, cfg["eval"]["stride"], size, cfg["eval"]["batch_size"]),
        bank.clip_ids, bank.labels))


def _frozen(method, encoder_path, seed):
    ckpt = enc_mod.read_checkpoint(encoder_path)
    pretrained = method != "random_init"  # scratch*: the supervised encoder that finetune saved
    encoder = enc_mod.build_encoder(ckpt, pretrained=pretrained, seed=seed).eval()
    return enc_mod.SingleFrameFeatures(encoder).eval() if method == enc_mod.SINGLE_FRAME else encoder


def linear_probe(cfg: dict, *, method: str, dataset_dir: Path, encoder_path: Path, out_dir: Path,
                 cache_dir: Path, seed: int, info: dict | None = None, log=print) -> dict:
    """Frozen encoder -> cached centre-view features -> logistic regression on the train split."""
    from motionmvm.eval.probe import fit_linear
    from motionmvm.io import sha256_file

    ev, lp = cfg["eval"], cfg["eval"]["linear_probe"]
    started = _setup(seed, ev["threads"])
    encoder = _frozen(method, encoder_path, seed)
    frames, size = enc_mod.input_shape(encoder)
    ident = [sha256_file(encoder_path), method, seed, frames, size, ev["stride"]]
    banks = {s: load_bank(dataset_dir, s, size, lp[f"max_{s}_clips"], seed, _store(cfg, dataset_dir)) for s in ("train", "test")}
    feats = {s: _features(cfg, encoder, b, ident + [s, len(b)], cache_dir / f"{s}.npz", frames, size)
             for s, b in banks.items()}
    k = len(banks["train"].class_names)
    proba = fit_linear(feats["train"][0], feats["train"][2], k, lp["C"], lp["max_iter"], seed)
    probs = proba(feats["test"][0])
    return write_run(out_dir, cfg, clip_ids=feats["test"][1], labels=feats["test"][2], probs=probs,
                     class_names=banks["train"].class_names, seed=seed, started=started,
                     quarantined=banks["train"].quarantined + banks["test"].quarantined,
                     dataset_dirs=[dataset_dir], checkpoint=encoder_path, scored=banks["test"].selection,
                     extra={**(info or {}), "method": method, "train_clips": len(feats["train"][1]),
                            "views_per_video": 1,
                            "feature_cache": str(cache_dir)})


def fewshot(cfg: dict, *, method: str, dataset_dir: Path, encoder_path: Path, out_dir: Path,
            cache_dir: Path, seed: int, k: int, draws: int, info: dict | None = None, log=print) -> dict:
    """k shots per class drawn `draws` times from the train split; each draw trains a linear probe
    and scores the whole test split. predictions.csv holds every draw (clip id `<id>#draw<d>`)."""
    from motionmvm.eval.probe import draw_shots, fit_linear
    from motionmvm.io import sha256_file

    ev, fs = cfg["eval"], cfg["eval"]["fewshot"]
    started = _setup(seed, ev["threads"])
    encoder = _frozen(method, encoder_path, seed)
    frames, size = enc_mod.input_shape(encoder)
    ident = [sha256_file(encoder_path), method, seed, frames, size, ev["stride"]]
    # Shots come from the train split; a test-only dataset (Mimetics is one) draws them from its
    # test split and scores the remaining clips (every draw then scores the same number of clips).
    splits = ("train", "test") if _has_split(dataset_dir, "train") else ("test",)
    banks = {s: load_bank(dataset_dir, s, size, fs[f"max_{s}_clips"], seed, _store(cfg, dataset_dir)) for s in splits}
    feats = {s: _features(cfg, encoder, b, ident + [s, len(b)], cache_dir / f"{s}.npz", frames, size)
             for s, b in banks.items()}
    banks.setdefault("train", banks["test"])
    n_cls = len(banks["train"].class_names)
    (tx, tid, ty), (sx, sid, sy) = feats[splits[0]], feats["test"]
    ids, labels, probs, shots = [], [], [], []
    for d in range(draws):
        pick = draw_shots(ty, k, n_cls, seed, d)
        shots.append([tid[i] for i in pick])
        proba = fit_linear(tx[pick], ty[pick], n_cls, fs["C"], fs["max_iter"], seed)
        keep = np.ones(len(sid), bool)
        if len(splits) == 1:
            keep[pick] = False
        ids += [f"{c}#draw{d}" for c, kp in zip(sid, keep) if kp]
        labels.append(sy[keep])
        probs.append(proba(sx[keep]))
    return write_run(out_dir, cfg, clip_ids=ids, labels=np.concatenate(labels), probs=np.concatenate(probs),
                     class_names=banks["train"].class_names, seed=seed, started=started,
                     quarantined=sum((banks[s].quarantined for s in splits), []),
                     dataset_dirs=[dataset_dir], checkpoint=encoder_path, scored=banks["test"].selection,
                     extra={**(info or {}), "method": method, "k": k, "draws": draws, "shots": shots,
                            "shot_split": splits[0], "shot_selection": banks[splits[0]].selection,
                            "views_per_video": 1,
                            "feature_cache": str(cache_dir)})
