"""The pretraining loop: one method, one dataset, one seed -> runs/P/pretrain/<method>/seed<S>/.

Outputs: checkpoint.pt (exact resume), encoder.pt, log.csv, loss.png, tb/ (TensorBoard),
metrics.json. A run directory with a checkpoint resumes from it; SIGTERM / SIGUSR2 save a checkpoint
after the current optimizer step and stop with `Preempted`.
"""
from __future__ import annotations

import contextlib
import random
import signal
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from motionmvm import methods
from motionmvm.config import params_hash
from motionmvm.io import atomic_torch_save, write_json
from motionmvm.train import accounting
from motionmvm.methods.trivial import trivial_loss
from motionmvm.train import checkpoint as ckpt
from motionmvm.data.clips import model_input, open_videos
from motionmvm.train.samples import MaskedClips, collate
from motionmvm.train.dist import DistInfo, cleanup, init_from_env
from motionmvm.train.logs import CsvLog, plot_loss
from motionmvm.train.optim import build_optimizer, build_scheduler
from motionmvm.train.order import StepOrder


class Preempted(RuntimeError):
    """Stopped by SIGTERM / SIGUSR2 after writing a checkpoint; rerun to resume."""


# Settings that do not change the computed weights; a resumed run may change them.
_RUNTIME_KEYS = ("ckpt_every", "log_every", "num_workers", "threads", "device", "precision", "compile")


def training_identity(cfg: dict) -> str:
    """Hash of what determines the trained weights (model + pretrain budget); checked on resume."""
    pre = {k: v for k, v in cfg["pretrain"].items() if k not in _RUNTIME_KEYS}
    return params_hash({"model": cfg["model"], "pretrain": pre})


def run_dir_for(cfg: dict, method: str, seed: int) -> Path:
    return Path(cfg["paths"]["runs"]) / cfg["profile"] / "pretrain" / method / f"seed{seed}"


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class _StopFlag:
    """Remembers a SIGTERM / SIGUSR2 so the loop can checkpoint at a step boundary."""

    def __init__(self):
        self.signum = None
        self._old = {}

    def __enter__(self):
        for s in (signal.SIGTERM, signal.SIGUSR2):
            self._old[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum, _frame):
        self.signum = signum

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)


def mask_grid(model) -> tuple[int, int, int]:
    """The token grid a method's masks are drawn on: DEMVM's tokenizer grid, else the ViT's."""
    return tuple(getattr(model, "grid", None) or model.encoder.cfg.grid)


def clip_side(model, default: int) -> int:
    """The clip side the method trains at: DEMVM's tokenizer size, else `pretrain.size`."""
    return getattr(model, "clip_size", default)


def _provenance(cfg: dict, data_dir: Path, encoder: Path, seed: int, started: float) -> dict:
    from motionmvm.provenance import record

    has_manifest = (data_dir / "manifest.json").exists()  # in-memory test videos have none
    return record(cfg, dataset_dir=data_dir if has_manifest else None, checkpoint=encoder, seed=seed,
                  started=started)


def pretrain(cfg: dict, method: str, dataset: str, seed: int, *, run_dir: str | Path | None = None,
             videos=None, progress: bool = True) -> dict:
    """Pretrain `method` on `dataset` with `seed`; returns the metrics written to metrics.json.

    `videos` (optional, e.g. `data.clips.ArrayVideos`) replaces the dataset's videos (its clip store
    when data.store is enabled, else its video files: `data.clips.open_videos`).
    """
    p = cfg["pretrain"]
    if p["threads"] > 0:
        torch.set_num_threads(p["threads"])
    dist = init_from_env(p["device"])
    try:
        return _pretrain(cfg, method, dataset, seed, dist, run_dir, videos, progress)
    finally:
        cleanup()


def _pretrain(cfg, method, dataset, seed, dist: DistInfo, run_dir, videos, show_progress) -> dict:
    p = cfg["pretrain"]
    started = time.time()
    spec = methods.get(method)
    run_dir = Path(run_dir) if run_dir else run_dir_for(cfg, method, seed)
    data_dir = Path(cfg["paths"]["data"]) / cfg["profile"] / dataset
    videos = videos if videos is not None else open_videos(cfg, dataset, "train", data_dir)

    _seed_everything(seed)
    model = spec.build(cfg).to(dist.device)
    clips = MaskedClips(videos, spec, grid=mask_grid(model), num_frames=p["frames"], stride=p["stride"],
                        size=clip_side(model, p["size"]), seed=seed, tubelet=cfg["model"]["tubelet"],
                        masking_cfg=cfg.get("masking"),
                        motion_root=Path(cfg["paths"]["cache"]) / cfg["profile"] / dataset / "motion",
                        tokens_root=Path(cfg["paths"]["cache"]) / cfg["profile"] / dataset,
                        traj_cache_patch=cfg.get("motion", {}).get("traj", {}).get("patch"),
                        repeats=p["repeated_sampling"], scales=p["crop_scales"],
                        motion_memo_mb=p["motion_memo_mb"])
    order = StepOrder(len(clips), seed=seed, batch=p["batch_size"], accum=p["accum_steps"],
                      world=dist.world, rank=dist.rank, total_steps=1, repeats=p["repeated_sampling"])
    total = p["epochs"] * order.steps_per_epoch
    warmup = p["warmup_epochs"] * order.steps_per_epoch
    optimizer = build_optimizer(model, spec.optim, order.global_batch, p["lr_mult"])
    scheduler = build_scheduler(optimizer, spec.optim, warmup, total)
    cuda = dist.device.type == "cuda"
    amp_dtype = accounting.autocast_dtype(p["precision"], dist.device)
    scaler = torch.amp.GradScaler("cuda", enabled=False)  # bf16 needs no loss scaling; kept for resume
    meta = {"method": method, "dataset": dataset, "seed": seed, "params_hash": training_identity(cfg)}

    ckpt_path = run_dir / "checkpoint.pt"
    start = 0
    if ckpt_path.exists():
        start = ckpt.load(ckpt_path, model=model, optimizer=optimizer, scheduler=scheduler,
                          scaler=scaler, meta=meta)
    order = StepOrder(len(clips), seed=seed, batch=p["batch_size"], accum=p["accum_steps"],
                      world=dist.world, rank=dist.rank, total_steps=total, start=start,
                      repeats=p["repeated_sampling"])
    ddp = dist.world > 1
    net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[dist.device] if cuda else None) \
        if ddp else model
    if p["compile"]:
        net = torch.compile(net)
    # The loader gets its own generator: creating an iterator would otherwise draw from torch's
    # global RNG (worker base seed) and shift the restored RNG stream after a resume. Samples do not
    # use worker seeds (clips.MaskedClips seeds each sample from (seed, epoch, index)).
    loader = DataLoader(clips, batch_sampler=order, num_workers=p["num_workers"], pin_memory=cuda,
                        collate_fn=collate, generator=torch.Generator().manual_seed(seed))
    log = CsvLog(run_dir / "log.csv", start) if dist.is_main else None
    writer = _tensorboard(run_dir) if dist.is_main else None

    def save(step: int) -> None:
        check(step)  # never checkpoint weights a non-finite loss has reached
        if dist.is_main:
            ckpt.save(ckpt_path, model=model, optimizer=optimizer, scheduler=scheduler, scaler=scaler,
                      step=step, meta=meta)

    progress = _progress(total, start, f"{method} seed{seed}", dist.is_main and show_progress)
    model.train()
    # No host synchronisation inside a step: the step's loss and a "some loss was not finite" flag
    # stay on the device and are read only at log / checkpoint boundaries (`check`).
    step, t0, seen, wait = start, time.perf_counter(), 0, 0.0
    checked, flops_per_step = start, None
    step_loss = torch.zeros((), device=dist.device)
    nonfinite = torch.zeros((), dtype=torch.bool, device=dist.device)
    batches = iter(loader)

    def check(upto: int) -> None:
        nonlocal checked
        if bool(nonfinite):
            raise FloatingPointError(
                f"pretraining {method} seed {seed}: non-finite loss in steps {checked + 1}-{upto}; "
                f"the last checkpoint (step {checked} or earlier) is intact: lower pretrain.lr_mult "
                f"or set pretrain.precision: fp32, then rerun to resume")
        checked = upto

    with _StopFlag() as stop:
        while step < total:
            optimizer.zero_grad(set_to_none=True)
            step_loss.zero_()
            for a in range(p["accum_steps"]):
                w0 = time.perf_counter()  # time blocked on the loader (+ the host-to-device copy)
                batch = {k: v.to(dist.device, non_blocking=True) for k, v in next(batches).items()}
                batch["video"] = model_input(batch["video"])  # uint8 from the loader, normalised here
                wait += time.perf_counter() - w0
                if flops_per_step is None:  # once per session, eager, state left untouched
                    flops_per_step = accounting.count_flops(model, batch, amp_dtype) * p["accum_steps"]
                sync = contextlib.nullcontext() if (not ddp or a == p["accum_steps"] - 1) else net.no_sync()
                with sync, accounting.autocast(dist.device, amp_dtype):
                    out = net(batch)
                    loss = out["loss"] / p["accum_steps"]
                loss.backward()
                step_loss += loss.detach()
                nonfinite |= ~torch.isfinite(loss.detach())
                seen += batch["video"].shape[0] * dist.world
            if p["clip_grad"] > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), p["clip_grad"])
            optimizer.step()
            scheduler.step()
            step += 1
            progress.update(1)
            if dist.is_main and (step % p["log_every"] == 0 or step == total):
                check(step)  # a host synchronisation, as are the checkpoints'
                elapsed = time.perf_counter() - t0
                loss_sum = step_loss.item()
                row = {"step": step, "epoch": (step - 1) // order.steps_per_epoch, "loss": loss_sum,
                       "lr": optimizer.param_groups[-1]["lr"], "clips_per_s": seen / elapsed,
                       "elapsed_s": elapsed,
                       # same (last micro-)batch: the loss of ignoring the input (health gate)
                       "trivial_loss": trivial_loss(model, batch)}
                log.write(row)
                writer.add_scalar("loss", loss_sum, step)
                writer.add_scalar("lr", row["lr"], step)
                progress.set_postfix(loss=f"{loss_sum:.4f}")
            if step % p["ckpt_every"] == 0 or step == total:
                save(step)
            if stop.signum is not None:
                save(step)
                progress.close()
                raise Preempted(f"stopped by signal {stop.signum} at step {step}/{total}; "
                                f"checkpoint {ckpt_path}")
    progress.close()
    elapsed = time.perf_counter() - t0
    if not dist.is_main:
        return {}
    writer.close()
    name = accounting.device_name(dist.device)
    peak = accounting.peak_flops(name) if cuda else None
    efficiency = {
        "clips_per_s": seen / max(elapsed, 1e-9), "data_wait_fraction": wait / max(elapsed, 1e-9),
        "flops_per_step": flops_per_step, "gflops_per_clip":
            flops_per_step / (order.global_batch / dist.world) / 1e9 if flops_per_step else None,
        "mfu": accounting.mfu(flops_per_step, step - start, elapsed, peak, dist.world),
        "peak_flops_bf16": peak, "device_name": name, "processes": dist.world,
        "precision": str(amp_dtype).replace("torch.", "") if amp_dtype else "float32",
        "compiled": bool(p["compile"]), "steps_this_session": step - start}
    return _finish(cfg, spec, model, run_dir, data_dir, log, meta, total, order, efficiency, elapsed,
                   started)


def _finish(cfg, spec, model, run_dir, data_dir, log, meta, total, order, efficiency, elapsed,
            started) -> dict:
    from motionmvm.eval.encoder import input_geometry

    encoder = model.encoder
    enc_cfg = asdict(encoder.cfg) if hasattr(encoder.cfg, "__dataclass_fields__") else dict(encoder.cfg)
    # "input": the clip geometry (frames, size, patch, grid) evaluation rebuilds the encoder at.
    atomic_torch_save({"state_dict": encoder.state_dict(), "config": enc_cfg,
                       "model": getattr(model, "encoder_name", type(encoder).__name__),
                       "method": spec.name, "input": input_geometry(encoder)}, run_dir / "encoder.pt")
    log.publish()
    rows = log.rows()
    if rows:
        plot_loss(rows, run_dir / "loss.png", f"{spec.name} ({meta['dataset']}, seed {meta['seed']})")
    k = max(1, len(rows) // 10)
    metrics = {
        **meta, "profile": cfg["profile"], "masking": spec.masking, "mask_ratio": spec.mask_ratio,
        "target": spec.target, "steps": total, "steps_per_epoch": order.steps_per_epoch,
        "epochs": cfg["pretrain"]["epochs"], "global_batch": order.global_batch,
        "repeated_sampling": order.repeats,
        "loss_first": float(np.mean([r["loss"] for r in rows[:k]])) if rows else None,
        "loss_last": float(np.mean([r["loss"] for r in rows[-k:]])) if rows else None,
        **efficiency, "wall_s_this_session": elapsed,
        "trivial_loss_last": float(np.nanmean([r["trivial_loss"] for r in rows[-k:]])) if rows else None,
        # DEMVM: which 2D init the encoder started from, and the encoder lr multiplier it got
        **({"encoder_2d_init": model.encoder_2d_init} if hasattr(model, "encoder_2d_init") else {}),
        **({"encoder_lr_mult": model.encoder_lr_mult} if hasattr(model, "encoder_lr_mult") else {}),
        "provenance": _provenance(cfg, data_dir, run_dir / "encoder.pt", meta["seed"], started),
    }
    write_json(run_dir / "metrics.json", metrics)
    return metrics


def _tensorboard(run_dir: Path):
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(run_dir / "tb"))


def _progress(total: int, start: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=start, desc=desc, disable=not enabled, dynamic_ncols=True,
                mininterval=1.0)
