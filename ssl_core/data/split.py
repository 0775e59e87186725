"""Deterministic train / validation split, stratified by class when labels allow it, and keeping groups
(e.g. the clips of one sound file) whole on one side when the data has groups."""

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
    n: int,
    val_fraction: float,
    seed: int,
    labels: torch.Tensor | None = None,
    groups: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (train, val) index tensors (int64, sorted) that partition range(n).

    The same (n, val_fraction, seed, labels, groups) always gives the same split. With labels where every
    class has at least 2 images, each class is split in the same proportion (stratified) and keeps
    at least one training image. val_fraction 0 gives an empty validation set.

    groups: int64 (n,) group of each item (the file an audio clip was cut from), or None. With two or more
    groups, every group lies wholly on one side: whole groups are drawn into validation until it holds as
    close to val_fraction of the items as whole groups allow, per class when labels allow (each class
    with two or more groups keeps at least one group in training). Groups of one item each, or None,
    give exactly the split without groups.
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
    if groups is not None:
        groups = torch.as_tensor(groups).cpu().long()
        if len(groups) != n:
            raise ValueError(f"{len(groups)} groups for {n} items")
        _, codes = torch.unique(groups, return_inverse=True)
        n_groups = int(codes.max()) + 1 if n else 0
        if 2 <= n_groups < n:
            return _group_split(codes, n_groups, n_val, labels, generator)
        if n_groups < 2:
            log.info("splitting the items of one group: there is no second group to hold out")

    if labels is not None:
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


def _pick_groups(
    candidates: list[int], sizes: list[int], quota: int, generator: torch.Generator
) -> list[int]:
    """Whole groups (in a seeded random order) whose sizes add up as close to `quota` as this greedy pass
    gets, leaving at least one of `candidates` out."""
    order = torch.randperm(len(candidates), generator=generator).tolist()
    picked, total = [], 0
    for k in order:
        if len(picked) == len(candidates) - 1:
            break
        g = candidates[k]
        if abs(total + sizes[g] - quota) < abs(total - quota):
            picked.append(g)
            total += sizes[g]
    return picked


def _group_split(
    codes: torch.Tensor,
    n_groups: int,
    n_val: int,
    labels: torch.Tensor | None,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """split_indices with groups 0..n_groups-1 (`codes`, one per item) kept whole."""
    sizes = torch.bincount(codes, minlength=n_groups).tolist()
    picked: list[int] = []
    if labels is not None:
        # A group's class is its most common label (the clips of one file share the file's label).
        classes = torch.unique(labels)
        pair = codes * len(classes) + torch.searchsorted(classes, labels)
        table = torch.bincount(pair, minlength=n_groups * len(classes)).view(n_groups, len(classes))
        group_class = table.argmax(dim=1)
        per_class = [torch.nonzero(group_class == c).flatten().tolist() for c in range(len(classes))]
        usable = [c for c in range(len(classes)) if len(per_class[c]) >= 2]
        if len(classes) > 1 and usable:
            counts = [int(sum(sizes[g] for g in per_class[c])) for c in usable]
            # Each class's share of the validation items, plus what earlier classes' whole groups missed
            # it by (error diffusion), so the total stays close to n_val while every class is split.
            carry = 0.0
            for c, count in zip(usable, counts, strict=True):
                quota = count * n_val / sum(counts) + carry
                chosen = _pick_groups(per_class[c], sizes, quota, generator)
                carry = quota - sum(sizes[g] for g in chosen)
                picked += chosen
            if len(usable) < len(classes):
                log.info("classes with a single group (file) stay wholly in the training split")
        else:
            log.info("not stratifying the group split: no class has 2 or more groups (or there is one class)")
    if not picked:
        picked = _pick_groups(list(range(n_groups)), sizes, n_val, generator)
    if not picked:  # every group is larger than twice the share asked for: hold out the smallest one
        picked = [min(range(n_groups), key=lambda g: (sizes[g], g))]
    in_val = torch.zeros(n_groups, dtype=torch.bool)
    in_val[torch.tensor(picked, dtype=torch.long)] = True
    mask = in_val[codes]
    return torch.nonzero(~mask).flatten(), torch.nonzero(mask).flatten()
