"""Training and multi-view testing loops shared by fine-tuning, MAR and domain adaptation."""
from __future__ import annotations

import time

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


def fit(model: nn.Module, loss_fn, loader, ft: dict, num_classes: int, depth: int, epochs: int,
        log=print) -> list[dict]:
    """Train `model` with the VideoMAE recipe. loss_fn(model, x, soft_target) -> (loss, parts dict).

    Per-step lr: warmup ft.warmup_epochs then cosine; layer-wise decay via each group's lr_scale.
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
    history, step = [], 0
    model.train()
    for epoch in range(epochs):
        t0, losses = time.time(), []
        for x, y in loader:
            set_lr(opt, lr_at(step, total, warm, base_lr, ft["min_lr"]))
            x, target = mix(x, y)
            loss, _ = loss_fn(model, x, target)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss is {loss.item()} at epoch {epoch} step {step}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if ft.get("clip_grad"):
                nn.utils.clip_grad_norm_(model.parameters(), ft["clip_grad"])
            opt.step()
            losses.append(loss.item())
            step += 1
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "seconds": round(time.time() - t0, 3)})
        log(f"epoch {epoch}: loss {history[-1]['loss']:.4f} ({history[-1]['seconds']} s)")
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
        t0 = time.perf_counter()
        logits = torch.cat([forward(x[j:j + batch_size]) for j in range(0, len(x), batch_size)])
        seconds += time.perf_counter() - t0
        views += len(x)
        out.append(average_views(logits).numpy())
    return np.stack(out), views / max(seconds, 1e-9)
