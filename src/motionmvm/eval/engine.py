"""Training and multi-view testing loops shared by fine-tuning, MAR and domain adaptation.

They run on the GPU when there is one. Training checkpoints after every epoch (model, optimizer,
history, every RNG stream) to `checkpoint` when given, and resumes from it exactly: a SLURM job
requeued after its time limit continues where it stopped.
"""
from __future__ import annotations

import hashlib
import json
import random
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from motionmvm.data.clips import ClipBank, TrainClips, collate_repeats, test_views
from motionmvm.eval.recipe import ClipMixup, build_optimizer, lr_at, set_lr, soft_cross_entropy


def make_train_loader(bank: ClipBank, ft: dict, clip_len: int, stride: int, size: int, seed: int):
    """Batches of ft.batch_size clips x ft.repeated_aug views each (drop_last: mixup pairs)."""
    from motionmvm.eval.augment import TrainTransform

    tf = TrainTransform(size, ft["crop_scale"], ft["hflip"], ft["randaug_n"], ft["randaug_m"], ft["reprob"])
    ds = TrainClips(bank, clip_len, stride, tf, ft["repeated_aug"], seed)
    g = torch.Generator().manual_seed(seed)
    bs = min(ft["batch_size"], len(ds))
    mixing = (ft["mixup"] > 0 or ft["cutmix"] > 0) and ft["mixup_prob"] > 0
    if mixing and (bs * ft["repeated_aug"]) % 2:
        if bs == 1:
            raise ValueError("mixup/cutmix pair clips within a batch: need at least 2 training clips")
        bs -= 1  # an even number of views per step
    return torch.utils.data.DataLoader(ds, batch_size=bs, shuffle=True, drop_last=True, generator=g,
                                       collate_fn=collate_repeats, num_workers=0)


def device() -> torch.device:
    """Where evaluation runs: the first GPU when there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _identity(model: nn.Module, ft: dict, num_classes: int, epochs: int, steps_per_epoch: int) -> str:
    """What a checkpoint must match to be resumed: the recipe and the initial weights."""
    h = hashlib.sha256(json.dumps([ft, num_classes, epochs, steps_per_epoch], sort_keys=True,
                                  default=str).encode())
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _rng_state(loader, rngs: dict) -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "loader": loader.generator.get_state(),
            "generators": {k: g.bit_generator.state for k, g in rngs.items()}}


def _set_rng_state(state: dict, loader, rngs: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    loader.generator.set_state(state["loader"])
    for k, g in rngs.items():
        g.bit_generator.state = state["generators"][k]


def fit(model: nn.Module, loss_fn, loader, ft: dict, num_classes: int, depth: int, epochs: int,
        log=print, checkpoint: str | Path | None = None, rngs: dict | None = None) -> list[dict]:
    """Train `model` with the VideoMAE recipe. loss_fn(model, x, soft_target) -> (loss, parts dict).

    Per-step lr: warmup ft.warmup_epochs then cosine; layer-wise decay via each group's lr_scale.
    checkpoint: a file written after every epoch and resumed from when it matches (same recipe,
    same initial weights); rngs: numpy Generators the loss draws from (e.g. MAR's masks), saved
    with it. The training clips' generator and the global RNG streams are always saved.
    """
    steps_per_epoch = len(loader)
    if steps_per_epoch == 0:
        raise ValueError("no training batch: fewer training clips than one batch")
    batch = loader.batch_size * ft["repeated_aug"]
    opt = build_optimizer(model, ft, depth, batch)
    base_lr = ft["base_lr"] * batch / 256
    mix = ClipMixup(num_classes, ft["mixup"], ft["cutmix"], ft["mixup_prob"], ft["mixup_switch_prob"],
                    ft["label_smoothing"])
    total, warm = epochs * steps_per_epoch, ft["warmup_epochs"] * steps_per_epoch
    rngs = {"clips": loader.dataset.rng, **(rngs or {})}
    dev = device()
    ident = _identity(model, ft, num_classes, epochs, steps_per_epoch) if checkpoint else None
    model.to(dev)
    history, first = [], 0
    if checkpoint and Path(checkpoint).exists():
        state = torch.load(checkpoint, map_location=dev, weights_only=False)
        if state["identity"] == ident:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            history, first = state["history"], state["epoch"]
            _set_rng_state(state["rng"], loader, rngs)
            log(f"resumed from {checkpoint} after epoch {first - 1}")
        else:
            log(f"{checkpoint} belongs to other settings or weights: training from the start")
    model.train()
    for epoch in range(first, epochs):
        t0, step = time.time(), epoch * steps_per_epoch
        loss_sum = torch.zeros((), device=dev)  # summed on the device: no host sync per step
        for x, y in loader:
            set_lr(opt, lr_at(step, total, warm, base_lr, ft["min_lr"]))
            x, target = mix(x.to(dev, non_blocking=True), y.to(dev, non_blocking=True))
            loss, _ = loss_fn(model, x, target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if ft.get("clip_grad"):
                nn.utils.clip_grad_norm_(model.parameters(), ft["clip_grad"])
            opt.step()
            loss_sum += loss.detach()
            step += 1
        mean = loss_sum.item() / steps_per_epoch
        if not np.isfinite(mean):
            raise FloatingPointError(f"non-finite training loss in epoch {epoch}: lower eval.finetune.base_lr")
        history.append({"epoch": epoch, "loss": mean, "seconds": round(time.time() - t0, 3)})
        log(f"epoch {epoch}: loss {history[-1]['loss']:.4f} ({history[-1]['seconds']} s)")
        if checkpoint:
            from motionmvm.io import atomic_torch_save

            atomic_torch_save({"identity": ident, "epoch": epoch + 1, "history": history,
                               "model": model.state_dict(), "optimizer": opt.state_dict(),
                               "rng": _rng_state(loader, rngs)}, checkpoint)
    model.eval()
    return history


def classification_loss(model, x, target):
    loss = soft_cross_entropy(model(x), target)
    return loss, {"cls": loss.item()}


def average_views(logits: torch.Tensor) -> torch.Tensor:
    """logits: [V, K] of one video's views -> softmax averaged over the views [K]."""
    return torch.softmax(logits.float(), dim=-1).mean(0)


@torch.no_grad()
def predict(forward, bank: ClipBank, clip_len: int, stride: int, size: int, num_clips: int,
            num_crops: int, batch_size: int) -> tuple[np.ndarray, float]:
    """Multi-view test: forward(x [V, C, T, H, W]) -> logits [V, K] per video, softmax averaged.

    -> probs [N, K], views per second (wall clock of the forward passes).
    """
    out, views, seconds = [], 0, 0.0
    for i in range(len(bank)):
        x = test_views(bank, i, clip_len, stride, size, num_clips, num_crops)
        x = x.to(device())
        t0 = time.perf_counter()
        logits = torch.cat([forward(x[j:j + batch_size]) for j in range(0, len(x), batch_size)]).cpu()
        seconds += time.perf_counter() - t0
        views += len(x)
        out.append(average_views(logits).numpy())
    return np.stack(out), views / max(seconds, 1e-9)
