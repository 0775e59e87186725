"""MoCo's shuffled BatchNorm across processes (He et al., Momentum Contrast, 2020, section 3.3).

A key encoder with BatchNorm normalises each process's batch with that batch's own statistics. A query and
its positive key then come from the same small batch, and the network can "cheat" the pretext task by
reading the batch statistics (information leaks between the samples of a batch) instead of learning good
features. MoCo hides the leak by shuffling the samples across processes before the key encoder and
unshuffling the keys afterwards, so a sample's key is normalised with statistics of a different subset
of the global batch than its query.

`shuffle_batch(x)` gathers every rank's rows (no gradient), draws one permutation of the global batch on
rank 0 and broadcasts it, and returns this rank's slice of the shuffled global batch: as many rows as this
rank holds, so unequal per-rank batches (3 + 5) work. `unshuffle_batch(y, shuffle)` gathers the encoded
rows back, undoes the permutation and returns (this rank's rows in their original order, every rank's rows
in rank order); the second is what a queue enqueues, so a shuffled step needs no further gather.

In one process (or without an initialised process group) both are the identity: `shuffle_batch` returns
(x, None) and `unshuffle_batch(y, None)` returns (y, y), so the single-process path runs unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist

from ssl_core.distributed.context import world_size as _world
from ssl_core.distributed.gather import _gather, _sizes


@dataclass(frozen=True)
class BatchShuffle:
    """What `unshuffle_batch` needs: every rank's row count, this rank's offset in the global batch and
    the permutation (shuffled global row j is original global row order[j])."""

    sizes: tuple[int, ...]
    offset: int
    order: torch.Tensor
    group: object = None


def _source(group) -> int:
    """The global rank of the group's rank 0 (broadcasts name global ranks)."""
    return 0 if group is None else dist.get_global_rank(group, 0)


@torch.no_grad()
def shuffle_batch(
    x: torch.Tensor, generator: torch.Generator | None = None, group=None
) -> tuple[torch.Tensor, BatchShuffle | None]:
    """(this rank's slice of the randomly permuted global batch, the shuffle to undo it), no gradient.

    The permutation is drawn on the group's rank 0 from `generator` (the default generator when None; its
    device may differ from x's) and broadcast, so every rank agrees on it; the other ranks' generators are
    not touched. Rank r gets rows offset_r .. offset_r + N_r of the shuffled global batch, N_r being its own
    row count. In one process: (x, None), untouched.
    """
    if _world(group) == 1:
        return x, None
    sizes = _sizes(x.shape[0], x.device, group)
    rank = dist.get_rank(group)
    offset = sum(sizes[:rank])
    total = sum(sizes)
    everything = _gather(x.detach(), sizes, group)
    if rank == 0:
        device = generator.device if generator is not None else x.device
        order = torch.randperm(total, generator=generator, device=device).to(x.device)
    else:
        order = torch.empty(total, dtype=torch.long, device=x.device)
    dist.broadcast(order, src=_source(group), group=group)
    mine = everything[order[offset : offset + sizes[rank]]]
    return mine, BatchShuffle(tuple(sizes), offset, order, group)


@torch.no_grad()
def unshuffle_batch(y: torch.Tensor, shuffle: BatchShuffle | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(this rank's rows back in their original order, every rank's rows in rank order), no gradient.

    `y` holds the encoded rows `shuffle_batch` gave this rank (the same row count). With shuffle None (one
    process): (y, y).
    """
    if shuffle is None:
        return y, y
    sizes = list(shuffle.sizes)
    rank = dist.get_rank(shuffle.group)
    if y.shape[0] != sizes[rank]:
        raise ValueError(
            f"unshuffle_batch expects the {sizes[rank]} rows shuffle_batch gave this rank; got {y.shape[0]}"
        )
    shuffled = _gather(y.detach(), sizes, shuffle.group)  # row j encodes original global row order[j]
    restored = torch.empty_like(shuffled)
    restored[shuffle.order] = shuffled
    return restored[shuffle.offset : shuffle.offset + sizes[rank]], restored
