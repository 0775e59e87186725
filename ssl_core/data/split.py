"""Deterministic train / validation split, stratified by class when labels allow it."""

from __future__ import annotations

import logging
import math

import torch

from ssl_core.errors import UserError

log = logging.getLogger(__name__)


def _val_count(n: int, val_fraction: float) -> int:
    if val_fraction <= 0 or n < 2:
        return 0
    # At least one image on each side once a validation set is asked for.
    return min(n - 1, max(1, round(n * val_fraction)))


def _class_quotas(counts: list[int], total: int) -> list[int]:
    """Split `total` over classes in proportion to their counts (largest remainder), each keeping >= 1 train."""
    n = sum(counts)
    exact = [c * total / n for c in counts]
    quotas = [min(math.floor(e), c - 1) for e, c in zip(exact, counts, strict=True)]
    # Hand out what is left, biggest remainders first; ties by class index keep it deterministic.
    order = sorted(range(len(counts)), key=lambda k: (-(exact[k] - math.floor(exact[k])), k))
    missing = total - sum(quotas)
    while missing > 0:
        progressed = False
        for k in order:
            if missing == 0:
                break
            if quotas[k] < counts[k] - 1:
                quotas[k] += 1
                missing -= 1
                progressed = True
        if not progressed:
            break
    return quotas


def split_indices(
    n: int, val_fraction: float, seed: int, labels: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (train, val) index tensors (int64, sorted) that partition range(n).

    The same (n, val_fraction, seed, labels) always gives the same split. With labels where every
    class has at least 2 images, each class is split in the same proportion (stratified) and keeps
    at least one training image. val_fraction 0 gives an empty validation set.
    """
    if not (0.0 <= val_fraction < 1.0):
        raise UserError(
            f"data.val_fraction = {val_fraction} is out of range; use a value from 0 up to (not including) 1.",
            field="data.val_fraction",
        )
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    generator = torch.Generator().manual_seed(int(seed) % (1 << 63))
    n_val = _val_count(n, val_fraction)
    empty = torch.empty(0, dtype=torch.long)
    if n_val == 0:
        return torch.arange(n, dtype=torch.long), empty

    if labels is not None:
        labels = torch.as_tensor(labels).cpu().long()
        if len(labels) != n:
            raise ValueError(f"{len(labels)} labels for {n} items")
        classes, counts = torch.unique(labels, return_counts=True)
        if len(classes) > 1 and int(counts.min()) >= 2:
            quotas = _class_quotas(counts.tolist(), n_val)
            val_parts = []
            for cls, quota in zip(classes.tolist(), quotas, strict=True):
                members = torch.nonzero(labels == cls).flatten()
                pick = torch.randperm(len(members), generator=generator)[:quota]
                val_parts.append(members[pick])
            val = torch.sort(torch.cat(val_parts)).values
            mask = torch.ones(n, dtype=torch.bool)
            mask[val] = False
            return torch.nonzero(mask).flatten(), val
        log.info("not stratifying the split: a class has fewer than 2 images (or there is one class)")

    perm = torch.randperm(n, generator=generator)
    val = torch.sort(perm[:n_val]).values
    train = torch.sort(perm[n_val:]).values
    return train, val
