"""Per-run accounting of the pretraining step: FLOPs of one optimizer step, model FLOPs
utilisation (MFU) against the device's bf16 dense peak, and the time spent waiting for data.

FLOPs are counted by torch's dispatcher-level counter (`FlopCounterMode`: matmuls, convolutions,
attention; 1 multiply-add = 2 FLOPs) over one forward + backward of the eager model. MFU is
`flops per step x steps / wall seconds / (peak x processes)`: the fraction of the hardware's
dense bf16 tensor throughput the model's own arithmetic uses (PaLM's definition; no activation
recomputation is counted). CPUs have no entry: their MFU is reported as None ("n/a").
"""
from __future__ import annotations

import contextlib

import torch
from torch.utils.flop_counter import FlopCounterMode

# Dense (no 2:4 sparsity) bf16 tensor-core peak, FLOP/s, from the vendors' data sheets. Matched by
# substring of `torch.cuda.get_device_name()`, most specific first.
BF16_DENSE_PEAK = (
    ("GB200", 2.5e15),
    ("B200", 2.25e15),
    ("H200", 989.4e12),
    ("H100 PCIe", 756.0e12),
    ("H100", 989.4e12),   # SXM / NVL per GPU
    ("H800", 989.4e12),
    ("GH200", 989.4e12),
    ("A100", 312.0e12),
    ("A800", 312.0e12),
    ("L40S", 362.05e12),
    ("L40", 181.0e12),
    ("L4", 121.0e12),
    ("A6000", 154.8e12),
    ("A40", 149.7e12),
    ("A10", 125.0e12),
    ("RTX 4090", 165.2e12),
    ("RTX 3090", 71.0e12),
)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform

    return platform.processor() or platform.machine() or "cpu"


def peak_flops(name: str) -> float | None:
    """bf16 dense peak FLOP/s of a GPU named `name`; None when unknown (CPUs, unlisted GPUs)."""
    for key, peak in BF16_DENSE_PEAK:
        if key in name:
            return peak
    return None


def mfu(flops_per_step: float | None, steps: int, seconds: float, peak: float | None,
        processes: int = 1) -> float | None:
    if not flops_per_step or not peak or seconds <= 0:
        return None
    return flops_per_step * steps / seconds / (peak * processes)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of params `pretrain.precision`: auto = bf16 on CUDA, fp32 (None) on CPU."""
    if precision == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    return {"bf16": torch.bfloat16, "fp32": None}[precision]


def autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def count_flops(model: torch.nn.Module, batch: dict, dtype: torch.dtype | None) -> float:
    """FLOPs of one forward + backward of `model` (eager, not the DDP / compiled wrapper) on one
    micro-batch.

    Leaves the training state as it found it: the RNG streams are forked (exact resume draws the
    same numbers whether or not a session counted), buffers (e.g. BatchNorm statistics, EMA
    codebooks) are restored and the gradients are cleared.
    """
    buffers = {n: b.detach().clone() for n, b in model.named_buffers()}
    device = batch["video"].device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), \
            FlopCounterMode(display=False) as counter:
        with autocast(device, dtype):
            loss = model(batch)["loss"]
        loss.backward()
    with torch.no_grad():
        for n, b in model.named_buffers():
            b.copy_(buffers[n])
    model.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())
