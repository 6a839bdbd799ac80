"""FLOPs per view counted by torch's dispatcher-level counter (matmuls, convolutions, attention)."""
from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode


@torch.no_grad()
def count_gflops(fn, *inputs) -> float:
    """GFLOPs of one call fn(*inputs) (1 multiply-add = 2 FLOPs, as FlopCounterMode counts)."""
    with FlopCounterMode(display=False) as counter:
        fn(*inputs)
    return counter.get_total_flops() / 1e9
