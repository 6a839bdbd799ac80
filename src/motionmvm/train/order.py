"""The data order: a seeded permutation per epoch, cut into optimizer steps, micro-batches and ranks.

For optimizer step s of an epoch with global batch G = batch * world * accum, the step takes
perm[s*G:(s+1)*G]; micro-batch a of it is the slice [a*B*W, (a+1)*B*W), of which rank r takes every
W-th element starting at r. With W processes of batch B the union of a micro-batch is exactly what
one process of batch W*B would see, so the distributed update equals the single-process one.
The position in the data order is just the global step, which the checkpoint stores.
Each sample key also carries the training progress in epochs as a float, step / steps_per_epoch,
so that schedules that rise "by the iterations" (DEMVM's PMR) move every step, not every epoch.

Repeated sampling (k clips per decoded video): `batch` still counts clips, so a micro-batch takes
batch / k videos and G / k videos make a step; an epoch visits every video once (k clips of each).
"""
from __future__ import annotations

import numpy as np


class StepOrder:
    """Iterable of per-rank micro-batches [(epoch, video index, progress), ...] starting at optimizer
    step `start`; progress = step / steps_per_epoch (fractional epochs)."""

    def __init__(self, n: int, *, seed: int, batch: int, accum: int, world: int, rank: int,
                 total_steps: int, start: int = 0, repeats: int = 1):
        if batch % repeats:
            raise ValueError(f"pretrain.batch_size {batch} is not a multiple of pretrain.repeated_sampling "
                             f"{repeats}: a micro-batch holds batch_size / k videos of k clips each")
        self.n, self.seed, self.batch, self.accum = n, seed, batch // repeats, accum
        self.world, self.rank, self.total, self.start = world, rank, total_steps, start
        self.repeats = repeats
        self.global_batch = batch * world * accum  # clips per optimizer step
        self.steps_per_epoch = n // (self.global_batch // repeats)
        if self.steps_per_epoch < 1:
            raise ValueError(f"the dataset has {n} videos, fewer than one global batch of "
                             f"{self.global_batch // repeats} videos (batch {batch} / k {repeats} x world "
                             f"{world} x accum {accum})")

    def permutation(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch, 0x0DE7]).permutation(self.n)

    def micro_batches(self, step: int) -> list[list[tuple[int, int, float]]]:
        """The `accum` micro-batches of this rank for global optimizer step `step`."""
        epoch, s = divmod(step, self.steps_per_epoch)
        g = self.global_batch // self.repeats  # videos per step
        chunk = self.permutation(epoch)[s * g:(s + 1) * g]
        bw = self.batch * self.world
        progress = step / self.steps_per_epoch
        return [[(epoch, int(i), progress) for i in chunk[a * bw:(a + 1) * bw][self.rank::self.world]]
                for a in range(self.accum)]

    def __iter__(self):
        for step in range(self.start, self.total):
            yield from self.micro_batches(step)

    def __len__(self) -> int:
        return (self.total - self.start) * self.accum
